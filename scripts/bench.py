#!/usr/bin/python3
"""make bench: what freeze mode costs, and what it saves, in one run.

1. Resume to the first good frame, measured by the guest: from the
   kernel's "Low-level resume complete" to s3check's first frame (the
   framebuffer flushed and texture 0 read back right), both in the kernel
   log's timestamps; virtio-gpu-gl-pci behind a PCIe root port on q35,
   kept by freeze_mode and by No_Soft_Reset, and on pc (no PCIe port, so
   no No_Soft_Reset) by freeze_mode; CYCLES_A cycles each, each in a
   guest of its own.  Without either, texture 0 is lost and there is no
   good frame to time: part 2 measures what re-creating costs.
   The same cycles phase by phase, from QEMU's trace of the GPU (its
   status writes, freeze_mode writes and display commands, stamped with
   the host's clock like QMP's SUSPEND and WAKEUP): the driver's reset,
   the device's reset (until the driver's ACKNOWLEDGE), negotiation to
   FEATURES_OK, virtqueues and restore to DRIVER_OK, the display's first
   flush and s3check's texture read back.
2. Re-creation against freezing: the guest holds 1, 16, 64 and 256 MiB of
   2D resources (virtio-gpu-pci); after an S3 cycle with freeze_mode
   nothing needs uploading again, while on a device without it the driver
   creates them again and the guest uploads them again.  The same
   resume-to-frame time, for both, against the size.
3. The host: how long a device reset takes with K = 10, 100, 1000
   resources when it keeps them (frozen) and when it frees them, measured
   by virtio-gpu-freeze-test's perf cases (-m perf) -- and the same
   freeing reset with x-freeze-mode off on this QEMU and on QEMU built
   without the series (the pristine base), in the same run: the series
   must cost nothing when it is off.

Figures are printed as a table, written to build/bench/results.md, and
plotted in build/bench/*.png.  Nothing fails on speed; a ratio far from
the expectation is called out.
"""

import datetime
import os
import re
import statistics
import subprocess
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, TOP)

from harness import plot  # noqa: E402
from harness.guest import BASE, Config, Guest  # noqa: E402

OUT = os.path.join(TOP, "build", "bench")
CYCLES_A = int(os.environ.get("BENCH_CYCLES", "5"))
SIZES = [int(s) for s in os.environ.get("BENCH_SIZES", "1 16 64 256").split()]
KS = (10, 100, 1000)


def say(msg):
    print(f"bench: {msg}", flush=True)


TIME = re.compile(r"TIME resume-to-frame (\d+(?:\.\d+)?)")


def times(done):
    """The guest's resume-to-frame times in a command's lines (ms).

    s3check's own mark in the kernel log can land on the console in the
    middle of its TIME line, so the figure is matched, not split off.
    """
    return [float(m.group(1)) for m in map(TIME.search, done.lines) if m]


# What the phases are timed by: the GPU's status writes, freeze_mode
# writes and display commands in QEMU's trace, stamped by QEMU itself
# (-msg timestamp=on: the host's wall clock, as QMP's event timestamps)
PHASE_TRACE = ["-msg", "timestamp=on", "-trace", "virtio_set_status",
               "-trace", "virtio_pci_freeze_mode_write",
               "-trace", "virtio_gpu_cmd_set_scanout",
               "-trace", "virtio_gpu_cmd_res_flush",
               "-trace", "virtio_gpu_cmd_res_xfer_fromh_3d"]
TRACE_LINE = re.compile(r"^(\d{4}-\d\d-\d\dT\S+Z) (virtio_\w+)(?: .*val (\d+))?")
# The phases of a sleep cycle, in order: (name, the event that ends it).
# The suspend side starts when the host sends the sleep command, the
# resume side with QEMU's WAKEUP.  A phase whose end is not in the trace
# (No_Soft_Reset: the driver neither resets nor sets up anything) has no
# figure ("-" in the table), and the next phase starts where the last one
# ended: with No_Soft_Reset, "DRIVER_OK to the first flush" then holds
# everything from WAKEUP to the first flush.
SUSPEND_PHASES = ("guest suspend to the driver's reset", "reset to SUSPEND")
RESUME_PHASES = ("WAKEUP to the driver's reset",
                 "the device's reset (to ACKNOWLEDGE)",
                 "ACKNOWLEDGE to FEATURES_OK (negotiation)",
                 "FEATURES_OK to DRIVER_OK (virtqueues, restore)",
                 "DRIVER_OK to the first flush (display)",
                 "flush to texture read back (s3check)")


def trace_times(g):
    """[(host time s, trace event, status value or None)] of g's log."""
    out = []
    with open(g.qemu_log, errors="replace") as f:
        for line in f:
            m = TRACE_LINE.match(line)
            if m:
                t = datetime.datetime.fromisoformat(m.group(1)).timestamp()
                out.append((t, m.group(2),
                            int(m.group(3)) if m.group(3) else None))
    return out


def phase_times(g, sent):
    """{phase: ms} of the one sleep cycle g went through, the host having
    sent the sleep command at time sent."""
    ev = dict(g.event_times)
    t_s, t_w = ev["SUSPEND"], ev["WAKEUP"]
    tr = trace_times(g)
    if not tr:
        # QEMU 10.0's qemu_log() stamps nothing: no phase can be timed
        return {n: None for n in SUSPEND_PHASES + RESUME_PHASES +
                ("WAKEUP to texture read back (host)",)}

    def first(after, until, pred):
        return next((t for t, name, val in tr
                     if after <= t <= until and pred(name, val)), None)

    def status(bit):
        return lambda name, val: name == "virtio_set_status" and \
            val is not None and (val & bit if bit else val == 0)

    def timed(start, ends, names):
        out, t = {}, start
        for name, end in zip(names, ends):
            out[name] = (end - t) * 1000 if end else None
            t = end or t
        return out, t

    reset_s = first(sent, t_s, status(0))
    out, _ = timed(sent, [reset_s, t_s], SUSPEND_PHASES)
    end = float("inf")
    reset_r = first(t_w, end, status(0))
    ack = first(reset_r or t_w, end, status(1))
    feat = first(ack or t_w, end, status(8))
    ok = first(feat or t_w, end, status(4))
    flush = first(ok or t_w, end,
                  lambda name, val: name == "virtio_gpu_cmd_res_flush")
    read = first(flush or t_w, end, lambda name, val:
                 name == "virtio_gpu_cmd_res_xfer_fromh_3d")
    resume, _ = timed(t_w, [reset_r, ack, feat, ok, flush, read],
                      RESUME_PHASES)
    out.update(resume)
    out["WAKEUP to texture read back (host)"] = \
        (read - t_w) * 1000 if read else None
    return out


def resume_to_frame():
    """{config: guest-measured ms}, {config: [{phase: ms}]}: one sleep
    cycle a boot, CYCLES_A boots a configuration."""
    results, phases = {}, {}
    # behind a root port on q35, where both can keep the state, and on
    # pc, where only freeze_mode can
    for mode, machine in (("freeze", "q35"), ("nsr", "q35"),
                          ("freeze", "pc")):
        cfg = Config(f"bench-resume-{mode}-{machine}", machine,
                     "virtio-gpu-gl-pci", mode, root_port=machine == "q35",
                     extra=PHASE_TRACE)
        key = f"{cfg.mode_name}, {machine}"
        ms = []
        # a guest boot for each cycle: the figures are over boots
        for _ in range(CYCLES_A):
            with Guest(cfg, OUT) as g:
                sent = time.time()
                done = g.sleep("mem", 2)
                ms += times(done)
                phases.setdefault(key, []).append(phase_times(g, sent))
        results[key] = ms
        say(f"resume to first frame, {cfg.mode_name}: "
            f"{', '.join(f'{m:.0f}' for m in ms)} ms")
    return results, phases


def recreate():
    results = {}
    for mode in ("freeze", "off"):
        for mib in SIZES:
            cfg = Config(f"bench-recreate-{mode}-{mib}", "q35",
                         "virtio-gpu-pci", mode, mem=512 + 2 * mib,
                         device_opts="max_hostmem=1G")
            with Guest(cfg, OUT) as g:
                made = g.command(f"resources {mib}", 600)
                assert made.ok, made.lines
                done = g.sleep("mem", 2, then="" if mode == "freeze" else
                               "reupload", timeout=600)
                ms = times(done)
                assert done.ok and ms, done.lines
            results.setdefault(cfg.mode_name, {})[mib] = ms[0]
            say(f"{mib} MiB of 2D resources, {cfg.mode_name}: resume to "
                f"ready {ms[0]:.0f} ms")
    return results


PERF = "/x86_64/virtio-gpu/freeze/perf/device-reset"


def perf(qemu, kinds):
    """{(kind, k): median µs} from virtio-gpu-freeze-test -m perf.

    One run per kind: glib's -p runs the test cases right under the path
    it names, not those of the suites below it.
    """
    test = os.path.join(BASE.qemu_build, "tests", "qtest",
                        "virtio-gpu-freeze-test")
    out = {}
    for kind in kinds:
        path = f"{PERF}/{kind}"
        p = subprocess.run(
            [os.path.join(TOP, "scripts", "qtest-tcg.sh"), test, "-m",
             "perf", "--tap", "-p", path],
            env=dict(os.environ, QTEST_QEMU_BINARY=qemu),
            capture_output=True, text=True, timeout=1800)
        for m in re.finditer(r"perf device-reset kind=(\w+) k=(\d+) "
                             r"median_us=([\d.]+)", p.stdout):
            out[(m.group(1), int(m.group(2)))] = float(m.group(3))
        if p.returncode:
            raise SystemExit(f"bench: {test} -p {path} failed:\n"
                             f"{p.stdout[-2000:]}{p.stderr[-2000:]}")
        missing = [k for k in KS if (kind, k) not in out]
        if missing:
            raise SystemExit(f"bench: {test} -p {path} gave no figure for "
                             f"K = {missing}:\n{p.stdout[-2000:]}")
    return out


def measured():
    """What was measured: the repository's commit and the series."""
    def git(*args):
        p = subprocess.run(["git", "-C", TOP, *args], capture_output=True,
                           text=True)
        return p.stdout.strip() if p.returncode == 0 else "?"
    counts = []
    for series in BASE.qemu_series + BASE.linux_series:
        try:
            with open(os.path.join(TOP, "patches", series, "series")) as f:
                n = sum(1 for line in f if line.strip() and
                        not line.startswith("#"))
        except OSError:
            n = "?"
        counts.append(f"patches/{series} {n} patches")
    dirty = " (with uncommitted changes)" if git("status", "--porcelain",
                                                 "--untracked-files=no") \
        else ""
    return f"commit {git('rev-parse', '--short', 'HEAD')}{dirty}, " + \
        ", ".join(counts)


def main():
    if not os.environ.get("DISPLAY"):
        sys.exit("bench: no X display; run it through 'make bench'")
    os.makedirs(OUT, exist_ok=True)
    start = time.monotonic()
    notes = []
    lines = [f"# make bench, {time.strftime('%Y-%m-%d')}, {BASE.title}",
             "", f"Measured: {measured()}.",
             "", f"Machine: {os.cpu_count()} cores, TCG.", ""]

    say("1/3: resume to the first good frame")
    a, ph = resume_to_frame()
    med = {k: statistics.median(v) for k, v in a.items() if v}
    nsr = med.get("No_Soft_Reset, q35")
    frz = med.get("freeze_mode, q35")
    lines += ["## Resume to the first good frame (guest-measured, median "
              f"of {CYCLES_A})", "", "| kept by | median ms | all ms |",
              "|---|---|---|"]
    for k, v in a.items():
        lines.append(f"| {k} | "
                     f"{f'{med[k]:.0f}' if k in med else 'none'} | "
                     f"{', '.join(f'{x:.0f}' for x in v)} |")
        if len(v) < CYCLES_A:
            notes.append(f"resume to frame, {k}: {len(v)} of {CYCLES_A} "
                         "boots gave a figure (s3check prints none when a "
                         "check failed)")
    if nsr and frz:
        ratio = frz / nsr
        lines += ["", f"freeze_mode / No_Soft_Reset: {ratio:.2f}, "
                  f"{frz - nsr:+.0f} ms (expected above 1: freeze_mode "
                  "resets the device and restores the display on resume, "
                  "No_Soft_Reset does neither; the phases below say "
                  "where the time goes)"]
        if not 0.8 < ratio < 3:
            notes.append(f"resume ratio {ratio:.2f} is outside 0.8-3")
    plot.bars(os.path.join(OUT, "bench-resume.png"),
              "Resume to the first good frame (ms, median)", "ms",
              {"virtio-gpu-gl-pci (q35: behind a root port)": med})
    # the same cycles, phase by phase (QEMU's trace)
    names = SUSPEND_PHASES + RESUME_PHASES + (
        "WAKEUP to texture read back (host)",)
    def median(xs):
        xs = [x for x in xs if x is not None]
        return statistics.median(xs) if xs else None

    pmed = {k: {n: median(p[n] for p in v) for n in names}
            for k, v in ph.items() if v}
    lines += ["", "## The same cycles phase by phase (QEMU's trace of the "
              f"GPU, host clock, ms, median of {CYCLES_A})", "",
              "| phase | " + " | ".join(pmed) + " |",
              "|---|" + "---|" * len(pmed)]
    for n in names:
        lines.append(f"| {n} | " + " | ".join(
            "-" if pmed[k][n] is None else f"{pmed[k][n]:.1f}"
            for k in pmed) + " |")
    lines += ["", "(\"-\": the trace has no such event; the time goes to "
              "the next phase.  No_Soft_Reset's driver does nothing on "
              "resume, so its \"DRIVER_OK to the first flush\" is WAKEUP to "
              "s3check's first flush.)"]
    for k, v in pmed.items():
        if v["WAKEUP to texture read back (host)"] is None:
            notes.append(f"phases, {k}: not timed (no texture read back in "
                         "the trace, or a QEMU whose log has no timestamps, "
                         "as 10.0's)")
    plot.stacked(os.path.join(OUT, "bench-phases.png"),
                 "Resume phase by phase (QEMU's trace, ms, median)", "ms",
                 {k: {n: v[n] or 0.0 for n in RESUME_PHASES}
                  for k, v in pmed.items()})

    say("2/3: re-creating 2D resources after the device lost them")
    b = recreate()
    lines += ["", "## Resume to ready with N MiB of 2D resources", "",
              "| MiB | " + " | ".join(b) + " | ratio |",
              "|---|" + "---|" * (len(b) + 1)]
    fm, off = b.get("freeze_mode", {}), b.get(
        "neither (patched QEMU, both off)", {})
    for mib in SIZES:
        r = (f"{off[mib] / fm[mib]:.1f}" if fm.get(mib) and off.get(mib)
             else "n/a")
        lines.append(f"| {mib} | " + " | ".join(
            f"{b[k][mib]:.0f}" if mib in b[k] else "none" for k in b) +
            f" | {r} |")
    if fm and off and len(SIZES) > 1:
        small, big = SIZES[0], SIZES[-1]
        if fm[big] > 2 * fm[small]:
            notes.append(f"freeze_mode grows with the size: {fm[small]:.0f}"
                         f" -> {fm[big]:.0f} ms (expected flat)")
        if off[big] < 2 * off[small]:
            notes.append("re-creation does not grow with the size "
                         "(expected to)")
    plot.lines(os.path.join(OUT, "bench-recreate.png"),
               "Resume to ready against the size of the guest's resources",
               "MiB of 2D resources", "ms",
               {k: (SIZES, [v.get(s) for s in SIZES]) for k, v in b.items()},
               logx=True)

    say("3/3: the host's device reset with K resources (qtest perf cases)")
    patched = perf(BASE.qemu, ["frozen", "unfrozen", "off"])
    pristine = perf(BASE.qemu_pristine, ["off"])
    lines += ["", "## Device reset with K resources (host, µs, median of 7)",
              "", "| K | frozen (kept) | unfrozen (freed) | off | off, "
              "QEMU without the series | off / without |",
              "|---|---|---|---|---|---|"]
    for k in KS:
        o, q = patched.get(("off", k)), pristine.get(("off", k))
        r = o / q if o and q else 0
        lines.append(f"| {k} | {patched.get(('frozen', k), 0):.0f} | "
                     f"{patched.get(('unfrozen', k), 0):.0f} | {o or 0:.0f}"
                     f" | {q or 0:.0f} | {r:.2f} |")
        if r and not 0.8 < r < 1.25:
            notes.append(f"K={k}: off costs {r:.2f}x QEMU without the "
                         "series (expected 1)")
    plot.lines(os.path.join(OUT, "bench-reset.png"),
               "Device reset with K resources (host)", "K resources", "µs",
               {"frozen (kept)": (KS, [patched.get(("frozen", k)) for k in KS]),
                "unfrozen (freed)": (KS, [patched.get(("unfrozen", k))
                                          for k in KS]),
                "x-freeze-mode off": (KS, [patched.get(("off", k))
                                           for k in KS]),
                "QEMU without the series": (KS, [pristine.get(("off", k))
                                                 for k in KS])},
               logx=True, logy=True)

    lines += ["", "Plots: bench-resume.png, bench-phases.png, "
              "bench-recreate.png, bench-reset.png", ""]
    if notes:
        lines += ["Outside the expectation:", ""] + [f"- {n}" for n in notes]
    text = "\n".join(lines) + "\n"
    with open(os.path.join(OUT, "results.md"), "w") as f:
        f.write(text)
    print("\n" + text)
    say(f"done in {time.monotonic() - start:.0f} s: build/bench/results.md")


if __name__ == "__main__":
    main()

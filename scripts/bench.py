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


def resume_to_frame():
    results = {}
    # behind a root port on q35, where both can keep the state, and on
    # pc, where only freeze_mode can
    for mode, machine in (("freeze", "q35"), ("nsr", "q35"),
                          ("freeze", "pc")):
        cfg = Config(f"bench-resume-{mode}-{machine}", machine,
                     "virtio-gpu-gl-pci", mode, root_port=machine == "q35")
        ms = []
        # a guest boot for each cycle: the figures are over boots
        for _ in range(CYCLES_A):
            with Guest(cfg, OUT) as g:
                done = g.sleep("mem", 2)
                ms += times(done)
        results[f"{cfg.mode_name}, {machine}"] = ms
        say(f"resume to first frame, {cfg.mode_name}: "
            f"{', '.join(f'{m:.0f}' for m in ms)} ms")
    return results


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
    a = resume_to_frame()
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
                  f"{frz - nsr:+.0f} ms (expected a little above 1: "
                  "freeze_mode runs the driver's freeze and restore, which "
                  "delete the virtqueues and set them up again; "
                  "No_Soft_Reset skips both)"]
        if not 0.8 < ratio < 3:
            notes.append(f"resume ratio {ratio:.2f} is outside 0.8-3")
    plot.bars(os.path.join(OUT, "bench-resume.png"),
              "Resume to the first good frame (ms, median)", "ms",
              {"virtio-gpu-gl-pci (q35: behind a root port)": med})

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

    lines += ["", "Plots: bench-resume.png, bench-recreate.png, "
              "bench-reset.png", ""]
    if notes:
        lines += ["Outside the expectation:", ""] + [f"- {n}" for n in notes]
    text = "\n".join(lines) + "\n"
    with open(os.path.join(OUT, "results.md"), "w") as f:
        f.write(text)
    print("\n" + text)
    say(f"done in {time.monotonic() - start:.0f} s: build/bench/results.md")


if __name__ == "__main__":
    main()

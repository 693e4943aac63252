#!/usr/bin/python3
"""make soak: one guest, CYCLES suspend-to-RAM cycles, rendering between.

For each machine of SOAK_MACHINES (default "q35 pc"), one QEMU (the
base's, BASE=primary by default) runs the test guest with
virtio-gpu-gl-pci,x-freeze-mode=on,hostmem=64M,blob=on: a 2D framebuffer
on the screen, a virgl texture and a HOST3D blob mapped into the
host-visible memory.  Each cycle the guest suspends with
'rtcwake -m mem', and after resume checks its CRTC, reads the texture back
and reads the blob through its mapping; QMP must say the GPU was frozen
while asleep and is not after; then the guest paints a new test pattern
(checked on the screen every 10 cycles) and refills the texture and the
blob with new content.  The guest boots the SeaBIOS the harness builds
(with patches/seabios: with Debian's, q35 sleeps only once per boot).

QEMU's resident memory (VmRSS) and open file descriptors are sampled
after every cycle.  The run fails if any cycle fails, or if, from cycle
WARMUP on, RSS grows by more than RSS_BOUND_KIB or the descriptors by
more than FD_BOUND: a frozen reset that leaked would show there.

Prints a table every 10 cycles and at the end, writes
build/soak/soak-MACHINE.csv and the plot build/soak/soak.png (RSS against
the cycle, a line per machine; fds in the notes).
"""

import os
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, TOP)

from harness import pictures, plot, s3case  # noqa: E402
from harness.guest import BASE, Config, Guest, GuestError  # noqa: E402

OUT = os.path.join(TOP, "build", "soak")
WARMUP = 5
RSS_BOUND_KIB = 8 * 1024
FD_BOUND = 0


def proc(pid):
    """(VmRSS in KiB, open file descriptors) of a process."""
    with open(f"/proc/{pid}/status") as f:
        rss = next(int(line.split()[1]) for line in f
                   if line.startswith("VmRSS:"))
    return rss, len(os.listdir(f"/proc/{pid}/fd"))


def soak(machine, cycles):
    """CYCLES sleep cycles of one guest on machine: (rows, failures,
    black), rows being (cycle, VmRSS KiB, fds, seconds)."""
    print(f"soak: {cycles} S3 cycles on {BASE.title}, "
          f"virtio-gpu-gl-pci,x-freeze-mode=on,hostmem=64M,blob=on on "
          f"{machine}", flush=True)
    cfg = Config(f"soak-{machine}", machine, "virtio-gpu-gl-pci", "freeze",
                 device_opts="hostmem=64M,blob=on")
    g = Guest(cfg, OUT)
    rows, failures, black = [], [], []
    t0 = time.monotonic()
    try:
        g.start()
        d = g.command("blob 0")
        if d.checks.get("blob-0") != "PASS":
            raise GuestError(f"blob 0: {d.lines}")
        pid = g.vm.get_pid()
        rows.append((0, *proc(pid), 0.0))
        variant = 0
        for n in range(1, cycles + 1):
            start = time.monotonic()
            asleep = []
            done = g.sleep("mem", 2, lambda: asleep.append(g.frozen()))
            if not done.ok or asleep != [True] or g.frozen():
                failures.append(f"cycle {n}: {done.status}, frozen asleep "
                                f"{asleep}: {done.lines}")
            for what in ("texture", "blob"):
                if done.checks.get(f"{what}-{variant}") != "PASS":
                    failures.append(f"cycle {n}: {what}: {done.lines}")
            variant = n % 7 + 1
            for command in (f"paint {n % 4}", f"refill {variant}",
                            f"blob {variant}"):
                d = g.command(command)
                if not d.ok:
                    failures.append(f"cycle {n}: {command}: {d.lines}")
            if n % 10 == 0:
                png = os.path.join(OUT, f"last-{machine}.png")
                shot = g.screenshot(png)
                want = pictures.pattern(n % 4, *shot[:2])
                panel = pictures.texture_panel(shot)
                # the display reaches the X server asynchronously
                shot = s3case.shot_of(g, png, want, panel, wait=15)
                off = pictures.difference(shot, want, panel, inside=False)
                if off > 0.01 and pictures.black(shot) > 0.99:
                    # README, Known problems: fixed by QEMU patch 5
                    black.append(n)
                elif off > 0.01:
                    failures.append(f"cycle {n}: pattern {n % 4} not on "
                                    f"the screen ({off:.1%} off)")
            rows.append((n, *proc(pid), time.monotonic() - start))
            if n % 10 == 0 or n == cycles:
                r = rows[-1]
                print(f"soak: {machine} cycle {n:4}/{cycles}: RSS "
                      f"{r[1] / 1024:7.1f} MiB, {r[2]} fds, {r[3]:.1f} s a "
                      f"cycle, {len(failures)} failures", flush=True)
            if len(failures) > 5:
                break
        # every cycle slept: QEMU saw each one
        want = ["SUSPEND", "WAKEUP"] * (len(rows) - 1)
        if g.events != want:
            failures.append(f"QMP events: {len(g.events)} for "
                            f"{len(rows) - 1} cycles ({g.events[:6]}...)")
    except GuestError as e:
        failures.append(str(e))
    finally:
        code = g.stop()
        if code != 0:
            failures.append(f"QEMU exited with status {code} after 'quit'")
        if g.console:
            failures += [f"guest console: {line}"
                         for line in g.console_problems()]
        failures += [f"QEMU: {line}" for line in g.freeze_mode_errors()]

    with open(os.path.join(OUT, f"soak-{machine}.csv"), "w") as f:
        f.write("cycle,rss_kib,fds,seconds\n")
        for r in rows:
            f.write(f"{r[0]},{r[1]},{r[2]},{r[3]:.2f}\n")
    if len(rows) > WARMUP + 1:
        base = rows[WARMUP]
        grew = max(r[1] for r in rows[WARMUP:]) - base[1]
        fd_grew = max(r[2] for r in rows[WARMUP:]) - base[2]
        if grew > RSS_BOUND_KIB:
            failures.append(f"QEMU's RSS grew by {grew} KiB after cycle "
                            f"{WARMUP} (bound {RSS_BOUND_KIB} KiB)")
        if fd_grew > FD_BOUND:
            failures.append(f"QEMU's open fds grew by {fd_grew} after cycle "
                            f"{WARMUP}")
    if rows:
        print(f"soak: {machine}: {len(rows) - 1} cycles in "
              f"{time.monotonic() - t0:.0f} s; RSS {rows[0][1] / 1024:.1f} "
              f"-> {rows[-1][1] / 1024:.1f} MiB (growth after cycle "
              f"{WARMUP}: {growth(rows)} KiB, bound {RSS_BOUND_KIB} KiB); "
              f"fds {rows[0][2]} -> {rows[-1][2]}")
    else:
        failures.append("no cycle ran")
    checks = cycles // 10
    if black:
        print(f"soak: {machine}: {len(black)} of {checks} screen checks "
              f"found QEMU's SDL window black (cycles {black}; README, "
              "Known problems); the guest's checks of those cycles passed")
    if checks and len(black) == checks:
        failures.append("every screen check found the window black")
    return rows, [f"{machine}: {f}" for f in failures], black


def growth(rows):
    """RSS growth (KiB) from cycle WARMUP on."""
    if len(rows) <= WARMUP + 1:
        return 0
    return max(r[1] for r in rows[WARMUP:]) - rows[WARMUP][1]


def main():
    cycles = int(os.environ.get("CYCLES", "100"))
    machines = os.environ.get("SOAK_MACHINES", "q35 pc").split()
    if not os.environ.get("DISPLAY"):
        sys.exit("soak: no X display; run it through 'make soak'")
    os.makedirs(OUT, exist_ok=True)
    runs, failures = {}, []
    for machine in machines:
        rows, bad, _ = soak(machine, cycles)
        runs[machine] = rows
        failures += bad
    png = plot.lines(
        os.path.join(OUT, "soak.png"),
        f"S3 cycles, virtio-gpu-gl-pci with x-freeze-mode=on, blob=on "
        f"({BASE.title})", "cycle", "QEMU resident memory (MiB)",
        {f"VmRSS, {m}": ([r[0] for r in rows], [r[1] / 1024 for r in rows])
         for m, rows in runs.items()},
        notes="; ".join(
            f"{m}: RSS growth after cycle {WARMUP} {growth(rows)} KiB, fds "
            f"{rows[0][2] if rows else '-'} -> {rows[-1][2] if rows else '-'}"
            for m, rows in runs.items()) + f" (bound {RSS_BOUND_KIB} KiB)")
    print(f"soak: {os.path.relpath(png, TOP)}, build/soak/soak-*.csv")
    if failures:
        print("soak: FAILED:\n  " + "\n  ".join(failures[:20]))
        sys.exit(1)
    print("soak: passed")


if __name__ == "__main__":
    main()

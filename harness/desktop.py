"""A Debian desktop across S3: Debian's Mesa, a Wayland compositor and
GL clients, judged as a user would see them.

run() boots the Debian guest (harness image "debian": systemd, Mesa's
virtio_gpu driver, weston, kmscube; scripts/build-debian-guest.sh), starts
a scene on the virtio GPU -- "weston" (the compositor on KMS with
weston-simple-egl, a GL client, and weston-simple-shm, a shm client) or
"kmscube" (GL on KMS directly) -- and goes through CYCLES sleep cycles,
each through the OS's own path (an RTC alarm and 'systemctl suspend') or
rtcwake.  It looks at:

- the clients' own frame counters (kmscube's "Rendered N frames",
  weston-simple-egl's "N frames in 5 seconds"): they must go on rising
  after each resume;
- the screen: two captures a moment apart must differ (the scene moves)
  and not be QEMU's placeholder or black, before the sleep and after it;
- the programs: still running after each resume;
- QMP: SUSPEND and WAKEUP for every cycle, the GPU frozen while asleep
  with freeze mode and never without;
- the guest console: no error from Mesa, virgl, DRM or the clients; and
  QEMU's log: no virgl error (an illegal resource, a context error).

problems() says what differs from the expectation: with freeze mode or
No_Soft_Reset the scene goes on; stock QEMU loses the GPU's state, and
the screen stays on QEMU's placeholder.  The guest driver then fails
every submission of the lost 3D contexts with EIO, and Mesa's virgl
driver says so on each one ("got error from kernel - expect bad
rendering"), while the clients render on: Mesa does not turn it into a
GL robustness reset status (docs/tests.rst).
"""

import os
import re
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional

from . import pictures
from .guest import Config, Guest, GuestError, say

# A frame counter line of a client on the console, as the agent prefixes
# it: "kmscube: Rendered 120 frames in 2.000 sec (60.0 fps)",
# "simple-egl: 300 frames in 5 seconds: 60.000000 fps"
COUNTERS = {
    "kmscube": re.compile(r"kmscube: Rendered (\d+) frames in"),
    "simple-egl": re.compile(r"simple-egl: (\d+) frames in \d+ seconds"),
}

# What a scene runs: (name, command) in order; the compositor first
SCENES = {
    "weston": [
        ("weston", "weston --backend=drm "
                   "--continue-without-input --socket=wayland-1 "
                   "--idle-time=0"),
        ("simple-egl", "env WAYLAND_DISPLAY=wayland-1 weston-simple-egl"),
        ("simple-shm", "env WAYLAND_DISPLAY=wayland-1 weston-simple-shm"),
    ],
    "kmscube": [
        ("kmscube", "kmscube"),
    ],
}

# Guest console lines that are errors of the graphics stack
GUEST_ERRORS = re.compile(
    r"(MESA|Mesa|virgl|EGL|drm|DRM|kmscube|weston|simple-\w+).*"
    r"\b(error|ERROR|failed|Failed|fault|illegal|lost)\b|"
    r"\*ERROR\*|response 0x12")
# QEMU log lines that are virgl errors
QEMU_ERRORS = re.compile(r"illegal resource|context error|virgl.*error|"
                         r"virtio_gpu.*error", re.I)


@dataclass
class Expect:
    """kept: the GPU's state survives, and with it the scene."""
    kept: bool


@dataclass
class Cycle:
    events_ok: bool = False
    frozen_asleep: Optional[bool] = None
    frozen_after: Optional[bool] = None
    # frames the GL clients counted after the resume, by client
    frames_after: Dict[str, int] = field(default_factory=dict)
    # the two captures after resume differ / are the placeholder or black
    moving_after: Optional[bool] = None
    blank_after: Optional[bool] = None
    alive_after: Optional[bool] = None
    resumed: Optional[str] = None


@dataclass
class Result:
    cfg: Config
    expect: Expect
    scene: str
    how: str
    cycles: List[Cycle] = field(default_factory=list)
    moving_before: Optional[bool] = None
    frames_before: Dict[str, int] = field(default_factory=dict)
    guest_errors: List[str] = field(default_factory=list)
    qemu_errors: List[str] = field(default_factory=list)
    console_problems: List[str] = field(default_factory=list)
    blobs_created: int = 0
    # Mesa's reports of failed submissions (the lost context's EIO)
    mesa_reports: int = 0
    exitcode: Optional[int] = None
    pictures: Dict[str, str] = field(default_factory=dict)
    boot_seconds: float = 0.0
    seconds: float = 0.0
    error: Optional[str] = None


def counters(g: Guest, since: int) -> Dict[str, int]:
    """Frames each GL client reported on the console after line since:
    kmscube counts from its start, so its last figure; simple-egl counts
    per 5 s, so the sum."""
    out: Dict[str, int] = {}
    for line in g.console.all[since:]:
        for name, rx in COUNTERS.items():
            m = rx.search(line)
            if not m:
                continue
            n = int(m.group(1))
            out[name] = n if name == "kmscube" else out.get(name, 0) + n
    return out


def wait_frames(g: Guest, since: int, clients: List[str],
                timeout: float) -> Dict[str, int]:
    """Wait until each GL client has reported frames after line since."""
    deadline = time.monotonic() + timeout
    while True:
        got = counters(g, since)
        if all(got.get(c, 0) > 0 for c in clients) or \
                time.monotonic() > deadline:
            return got
        time.sleep(1)


def two_shots(g: Guest, base: str):
    """Two captures of the screen 2 s apart: (moving, blank)."""
    a = g.screenshot(base + "-1.png")
    time.sleep(2)
    b = g.screenshot(base + "-2.png")
    moving = pictures.difference(a, b) > 0.001
    blank = pictures.distinct_colours(b) < 8 or pictures.black(b) > 0.99
    return moving, blank


def run(cfg: Config, expect: Expect, outdir: str, scene: str = "weston",
        cycles: int = 1, how: str = "systemd") -> Result:
    r = Result(cfg, expect, scene, how)
    t0 = time.monotonic()
    tag = f"[{cfg.name}]"
    g = Guest(cfg, outdir)
    gl = [n for n, _ in SCENES[scene] if n in COUNTERS]
    names = [n for n, _ in SCENES[scene]]
    try:
        g.start(ready_timeout=300)
        r.boot_seconds = time.monotonic() - t0
        say(f"{tag} {g.ready_line} after {r.boot_seconds:.0f} s; "
            f"starting {', '.join(names)}")
        for name, command in SCENES[scene]:
            done = g.command(f"start {name} {command}", 60)
            if not done.ok:
                raise GuestError(f"{name} did not start: {done.lines}\n"
                                 f"{g.console.tail()}")
            if name == "weston":
                # the compositor's socket before its clients
                time.sleep(5)
        mark = len(g.console.all)
        r.frames_before = wait_frames(g, mark, gl, 90)
        r.moving_before, _ = two_shots(
            g, os.path.join(outdir, f"{cfg.name}-before"))
        r.pictures["before"] = os.path.join(outdir,
                                            f"{cfg.name}-before-2.png")
        say(f"{tag} before the sleep: frames {r.frames_before}, screen "
            f"{'moving' if r.moving_before else 'STILL'}")
        for k in range(1, cycles + 1):
            c = Cycle()
            asleep = []
            n_events = len(g.events)
            # systemctl's way to sleep (D-Bus, logind, freezing the
            # user space) can take seconds under TCG: an alarm set for
            # too soon would ring before the sleep and never wake it
            secs = 3 if how == "rtcwake" else 10
            done = g.sleep("mem", secs, lambda: asleep.append(g.frozen()),
                           then=how, timeout=120)
            c.events_ok = g.events[n_events:] == ["SUSPEND", "WAKEUP"]
            c.frozen_asleep = asleep[0] if asleep else None
            c.frozen_after = g.frozen()
            c.resumed = done.status
            mark = len(g.console.all)
            c.frames_after = wait_frames(g, mark, gl, 60)
            c.moving_after, c.blank_after = two_shots(
                g, os.path.join(outdir, f"{cfg.name}-after{k}"))
            r.pictures[f"after {k}"] = os.path.join(
                outdir, f"{cfg.name}-after{k}-2.png")
            c.alive_after = g.command("alive " + " ".join(names), 30).ok
            r.cycles.append(c)
            say(f"{tag} cycle {k}: {done.status}, frozen asleep "
                f"{c.frozen_asleep}; frames after {c.frames_after}; screen "
                f"{'moving' if c.moving_after else 'STILL'}"
                f"{', blank' if c.blank_after else ''}; programs "
                f"{'alive' if c.alive_after else 'NOT all alive'}")
    except GuestError as e:
        r.error = str(e)
        say(f"{tag} ERROR: {r.error}")
    finally:
        r.exitcode = g.stop()
        if g.console:
            r.console_problems = g.console_problems()
            r.guest_errors = [line for line in g.console.all
                              if GUEST_ERRORS.search(line)]
        if g.console:
            r.mesa_reports = sum("got error from kernel" in line
                                 for line in g.console.all)
        r.qemu_errors = g.qemu_log_lines(QEMU_ERRORS.pattern)
        r.blobs_created = len(g.qemu_log_lines(
            r"virtio_gpu_cmd_res_create_blob"))
        r.seconds = time.monotonic() - t0
        say(f"{tag} QEMU exit status {r.exitcode}; {r.seconds:.0f} s")
    return r


def problems(r: Result) -> List[str]:
    """Everything in r that differs from what the case expects."""
    out = []
    if r.error:
        return [r.error]
    freeze = r.cfg.mode == "freeze"
    gl = [n for n, _ in SCENES[r.scene] if n in COUNTERS]
    for c in gl:
        if not r.frames_before.get(c):
            out.append(f"{c} counted no frame before the sleep")
    if not r.moving_before:
        out.append("the screen did not move before the sleep")
    for k, c in enumerate(r.cycles, 1):
        if not c.events_ok:
            out.append(f"cycle {k}: QMP did not see SUSPEND and WAKEUP")
        if c.frozen_asleep != freeze:
            out.append(f"cycle {k}: frozen while asleep {c.frozen_asleep}, "
                       f"expected {freeze}")
        if c.frozen_after:
            out.append(f"cycle {k}: still frozen after resume")
        if c.resumed != "PASS":
            out.append(f"cycle {k}: the guest's sleep {c.resumed}")
        if not c.alive_after:
            out.append(f"cycle {k}: a program died across the sleep")
        going = c.moving_after and not c.blank_after
        if r.expect.kept:
            for name in gl:
                if not c.frames_after.get(name):
                    out.append(f"cycle {k}: {name} counted no frame after "
                               "resume")
            if not going:
                out.append(f"cycle {k}: the screen after resume is "
                           f"{'blank' if c.blank_after else 'still'}")
        elif going:
            out.append(f"cycle {k}: the scene goes on after resume, though "
                       "the GPU's state was lost")
    if len(r.cycles) == 0:
        out.append("no sleep cycle ran")
    if r.expect.kept:
        out += [f"guest: {line.strip()}" for line in r.guest_errors]
        out += [f"QEMU: {line}" for line in r.qemu_errors]
    elif gl and not r.mesa_reports:
        # the driver fails the lost context's submissions with EIO, and
        # Mesa says so ("got error from kernel"), while rendering on
        out.append("the state was lost, yet Mesa reported no failed "
                   "submission: the clients were not told")
    out += [f"guest console: {line.strip()}" for line in r.console_problems]
    if r.exitcode != 0:
        out.append(f"QEMU exited with status {r.exitcode} after 'quit'")
    return out


def report(results: List[Result], path: str, title: str,
           packages: str = "") -> str:
    """The results as a markdown table, the pictures side by side."""
    outdir = os.path.dirname(path)
    lines = ["| case | machine | GPU placement | kept by | scene | suspend "
             "| cycles | frames before / after | screen after | verdict "
             "| boot / total | before / after |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        cfg = r.cfg
        shots = [p for p in r.pictures.values() if os.path.exists(p)]
        pic = ""
        if len(shots) >= 2:
            both = os.path.join(outdir, f"{cfg.name}.png")
            pictures.save_png(pictures.side_by_side(
                [pictures.read_png(s) for s in shots]), both)
            pic = f"![{cfg.name}]({os.path.basename(both)})"
        after = "; ".join(
            f"{'moving' if c.moving_after else 'still'}"
            f"{' blank' if c.blank_after else ''}" for c in r.cycles)
        frames = "; ".join(str(c.frames_after) for c in r.cycles)
        bad = problems(r)
        lines.append(
            f"| {cfg.name} | {cfg.machine_label} | {cfg.placement} | "
            f"{cfg.mode_name} | {r.scene} | {r.how} | {len(r.cycles)} | "
            f"{r.frames_before} / {frames} | {after} | "
            f"{'ok' if not bad else 'WRONG: ' + '; '.join(bad)[:300]} | "
            f"{r.boot_seconds:.0f} / {r.seconds:.0f} s | {pic} |")
    table = "\n".join(lines) + "\n"
    with open(path, "w") as f:
        f.write(f"# {title}\n\n" + table)
        if packages:
            f.write(f"\nThe Debian guest's packages:\n\n```\n{packages}```\n")
    return table

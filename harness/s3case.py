"""One S3 case end to end, judged, and the table of several.

run() boots the guest (harness.guest) and goes through one sleep cycle:

  1. the guest shows test pattern 0 (and, with virgl, has texture 0;
     with blob=on and hostmem it also maps blob 0 into the host-visible
     memory and fills it); the screen is saved (NAME-before.png);
  2. the guest suspends to RAM with rtcwake; between QEMU's SUSPEND and
     WAKEUP events QMP says whether the GPU is frozen;
  3. after resume the guest checks its CRTC, reads texture 0 back and
     reads blob 0 through its mapping;
     QMP says whether the GPU is still frozen (the driver must have
     thawed it); the screen is saved again (NAME-after.png);
  4. the guest paints test pattern 1 and uploads texture 1: the host
     must show the new picture (a stale host image must not pass) and
     read the new texture back (NAME-new.png), also when the state was
     lost: the driver must then have told the guest, whose 3D ioctls on
     the lost context fail with EIO (and whose mapping of a lost blob
     faults), and a new 3D context, from opening the device again, must
     work;
  5. QEMU is quit over QMP and must exit with status 0; the console is
     scanned for kernel warnings and failed PM callbacks, QEMU's log for
     rejected freeze_mode writes.

problems() turns a result into the list of everything that differs from
what the case expects; the tests assert that it is empty, and the table
(report()) shows the same verdict.
"""

import os
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

from . import pictures
from .guest import Config, Guest, GuestError, say


@dataclass
class Expect:
    """What a case must show."""
    # the device kept its state across the sleep: texture 0 is there and
    # the guest created no resource again.  Otherwise the guest's driver
    # must see the loss, say so once, and create again what it can.
    kept: bool
    # the display shows pattern 0 again after the sleep, kept or created
    # again by the driver (False: a driver that cannot recover)
    display_back: bool = True


@dataclass
class Result:
    cfg: Config
    expect: Expect
    feature_negotiated: Optional[bool] = None
    events: List[str] = field(default_factory=list)
    frozen_asleep: Optional[bool] = None
    frozen_after: Optional[bool] = None
    painted: bool = False
    # fraction of the screen that differs after vs before the sleep,
    # outside and inside the texture panel, and of the new picture
    # vs test pattern 1
    changed: float = 1.0
    panel_changed: float = 1.0
    new_picture_off: float = 1.0
    checks: Dict[str, str] = field(default_factory=dict)
    new_texture: Optional[str] = None
    # the state was lost: the guest reopened the device for a new context
    reopen: Optional[str] = None
    # the lost context's ioctls failed with EIO; the lost blob's mapping
    # faulted (SIGBUS)
    context_lost_eio: bool = False
    blob_faulted: bool = False
    # blob 0 made, mapped and filled before the sleep (cfg.blob)
    blob_made: Optional[str] = None
    # resources the guest created again after the sleep (QEMU's trace)
    recreated: Optional[int] = None
    # the guest driver's "device state lost" reports
    loss_reports: List[str] = field(default_factory=list)
    console_problems: List[str] = field(default_factory=list)
    freeze_mode_errors: List[str] = field(default_factory=list)
    exitcode: Optional[int] = None
    # with a virtual IOMMU: its DMA remapping switched on (QEMU trace:
    # at boot, and again after the wake-up reset) and its faults
    access_platform: Optional[bool] = None
    iommu_enabled: int = 0
    iommu_faults: List[str] = field(default_factory=list)
    pictures: Dict[str, str] = field(default_factory=dict)
    # the guest's "paint 1" after resume: PASS or FAIL
    paint: Optional[str] = None
    # QEMU's SDL window all black after resume (README, Known problems)
    window_black: bool = False
    # the case ran again because of that: the first run's problems
    retried: List[str] = field(default_factory=list)
    seconds: float = 0.0
    error: Optional[str] = None

    @property
    def display_back(self) -> bool:
        """The picture is back (outside the texture panel)."""
        return self.painted and self.changed < 0.001

    @property
    def panel_back(self) -> bool:
        """The texture panel shows what it showed before the sleep."""
        return self.panel_changed < 0.001

    @property
    def new_picture_shown(self) -> bool:
        return self.new_picture_off < 0.01

    @property
    def texture_kept(self) -> Optional[bool]:
        v = self.checks.get("texture-0")
        return None if v in (None, "SKIP") else v == "PASS"

    @property
    def blob_kept(self) -> Optional[bool]:
        v = self.checks.get("blob-0")
        return None if v in (None, "SKIP") else v == "PASS"


def problems(r: Result) -> List[str]:
    """Everything in r that differs from what its case expects."""
    cfg, exp = r.cfg, r.expect
    out = []
    if r.error:
        out.append(r.error)
    freeze = cfg.mode == "freeze"
    got = r.feature_negotiated
    if got is not None and got != freeze:
        out.append(f"VIRTIO_F_FREEZE_MODE negotiated: {got}, expected "
                   f"{freeze}")
    if r.error:
        return out
    kept = "kept" if exp.kept else "lost"
    if r.events != ["SUSPEND", "WAKEUP"]:
        out.append(f"QEMU events {r.events}, expected SUSPEND, WAKEUP")
    if r.frozen_asleep != freeze:
        out.append(f"frozen while asleep: {r.frozen_asleep}, expected "
                   f"{freeze}")
    if r.frozen_after is not False:
        out.append(f"still frozen after the guest resumed "
                   f"({r.frozen_after}): the driver did not thaw it")
    if not r.painted:
        out.append("no test pattern on the screen before the sleep")
    if r.checks.get("rtcwake"):
        out.append(f"rtcwake failed ({r.checks['rtcwake']})")
    if r.checks.get("scanout") != "PASS":
        out.append(f"the CRTC after resume: {r.checks.get('scanout')}")
    # every other check of the guest after resume must pass; what a lost
    # state makes fail (textures, blobs) is judged against the case
    lost_ok = () if exp.kept else ("texture-", "blob-")
    for name, verdict in r.checks.items():
        if verdict == "FAIL" and name not in ("scanout", "rtcwake") and \
                not name.startswith(lost_ok or ("texture-0", "blob-0")):
            out.append(f"the guest's check '{name}' failed after resume")
    if r.paint not in (None, "PASS"):
        out.append(f"painting after resume: {r.paint}")
    if cfg.gl and r.texture_kept != exp.kept:
        out.append(f"texture 0 {'kept' if r.texture_kept else 'lost'}, "
                   f"expected {kept}")
    if cfg.blob and r.blob_made != "PASS":
        out.append(f"blob 0 before the sleep: {r.blob_made}")
    elif cfg.blob and r.blob_kept != exp.kept:
        out.append(f"blob 0 {'kept' if r.blob_kept else 'lost'} (through "
                   f"its mapping: {r.checks.get('blob-0')}), expected "
                   f"{kept}")
    if cfg.gl and r.panel_back != exp.kept:
        out.append(f"texture panel on the screen "
                   f"{'the same' if r.panel_back else 'changed'} "
                   f"({r.panel_changed:.1%}), expected {kept}")
    if exp.kept and r.recreated != 0:
        out.append(f"the guest created {r.recreated} resources again after "
                   "the sleep: the device's were not kept")
    if not exp.kept and not r.recreated and exp.display_back:
        out.append("the guest created no resource again after losing them")
    if exp.kept and r.loss_reports:
        out.append(f"the guest reports a loss: {r.loss_reports[0]}")
    if not exp.kept and exp.display_back and len(r.loss_reports) != 1:
        out.append(f"the guest reported the loss {len(r.loss_reports)} "
                   "times, expected once")
    if r.display_back != exp.display_back:
        out.append(f"{r.changed:.1%} of the screen changed across the "
                   f"sleep: display {'back' if r.display_back else 'lost'},"
                   f" expected {'back' if exp.display_back else 'lost'}")
    if r.new_picture_shown != exp.display_back:
        out.append(f"the new picture after resume is "
                   f"{'shown' if r.new_picture_shown else 'NOT shown'} "
                   f"({r.new_picture_off:.1%} off test pattern 1)")
    if cfg.gl and exp.display_back and r.new_texture != "PASS":
        out.append(f"a new texture after resume: {r.new_texture}" +
                   ("" if exp.kept else " (in a new 3D context, after "
                    "opening the device again)"))
    if cfg.gl and not exp.kept and exp.display_back:
        if r.reopen != "PASS":
            out.append(f"opening the device again after the loss: "
                       f"{r.reopen}")
        if not r.context_lost_eio:
            out.append("the lost 3D context's ioctls did not fail with EIO: "
                       "the guest was not told")
    if cfg.blob and not exp.kept and not r.blob_faulted:
        out.append("the mapping of the lost blob did not fault")
    if cfg.iommu and not r.access_platform:
        out.append("VIRTIO_F_ACCESS_PLATFORM not negotiated: the GPU's DMA "
                   "does not go through the IOMMU")
    if cfg.iommu and r.iommu_enabled < 2:
        out.append(f"intel-iommu DMA remapping enabled {r.iommu_enabled} "
                   "times, expected at boot and again after resume")
    for line in r.iommu_faults:
        out.append(f"intel-iommu fault: {line.strip()}")
    for line in r.console_problems:
        out.append(f"guest console: {line.strip()}")
    for line in r.freeze_mode_errors:
        out.append(f"QEMU: {line.strip()}")
    if r.exitcode != 0:
        out.append(f"QEMU exited with status {r.exitcode} after 'quit' "
                   "(0 expected)")
    return out


def shot_of(g: Guest, png: str, want, panel=None, wait: float = 6.0):
    """A screenshot, taken again for up to wait seconds until it shows
    want (outside the texture panel, if given): the display reaches the
    X server asynchronously, later on a loaded machine.  The last one is
    returned either way; the caller judges it."""
    deadline = time.monotonic() + wait
    while True:
        time.sleep(0.5)
        shot = g.screenshot(png)
        if pictures.difference(want, shot, panel, inside=False) < 0.001 \
                or time.monotonic() > deadline:
            return shot


def run(cfg: Config, expect: Expect, outdir: str, seconds: int = 3) -> Result:
    """One sleep cycle of the guest; pictures and logs go to outdir."""
    r = Result(cfg, expect)
    t0 = time.monotonic()
    tag = f"[{cfg.name}]"
    g = Guest(cfg, outdir)
    pic = {k: os.path.join(outdir, f"{cfg.name}-{k}.png")
           for k in ("before", "after", "new")}
    try:
        g.start()
        r.feature_negotiated = g.feature_negotiated
        r.access_platform = g.access_platform
        if cfg.blob:
            r.blob_made = g.command("blob 0").checks.get("blob-0")
        g.redraw()
        before = g.screenshot(pic["before"])
        r.pictures["before"] = pic["before"]
        r.painted = pictures.distinct_colours(before) >= 8
        say(f"{tag} pattern 0 on the screen: "
            f"{'yes' if r.painted else 'NO'}; suspending to RAM")

        created = []

        def asleep():
            r.frozen_asleep = g.frozen()
            created.append(g.resources_created())
        done = g.sleep("mem", seconds, asleep)
        r.events = list(g.events)
        r.checks = done.checks
        r.context_lost_eio = any("texture-" in line and
                                 "Input/output error" in line
                                 for line in done.lines)
        r.blob_faulted = any("blob-" in line and "SIGBUS" in line
                             for line in done.lines)
        r.frozen_after = g.frozen()
        if created:
            r.recreated = g.resources_created() - created[0]
        say(f"{tag} after resume: frozen asleep {r.frozen_asleep}, after "
            f"{r.frozen_after}; guest checks " +
            ", ".join(f"{k} {v}" for k, v in done.checks.items()))
        g.redraw()
        panel = pictures.texture_panel(before)
        after = shot_of(g, pic["after"], before, panel)
        r.pictures["after"] = pic["after"]
        r.changed = pictures.difference(before, after, panel, inside=False)
        r.panel_changed = (pictures.difference(before, after, panel)
                           if cfg.gl else 0.0)
        r.paint = g.command("paint 1").status
        new = shot_of(g, pic["new"], pictures.pattern(1, *before[:2]))
        r.pictures["new"] = pic["new"]
        r.new_picture_off = pictures.difference(
            new, pictures.pattern(1, new[0], new[1]))
        r.window_black = cfg.gl and pictures.black(new) > 0.99
        if cfg.gl and not expect.kept:
            # the lost context stays lost: a new one needs a new file
            r.reopen = g.command("reopen", 60).status
        if cfg.gl:
            r.new_texture = g.command("texture 1").checks.get("texture-1")
        say(f"{tag} display after resume: "
            f"{'SAME as before' if r.display_back else 'CHANGED'} "
            f"({r.changed:.1%} differs); new picture "
            f"{'shown' if r.new_picture_shown else 'NOT shown'}"
            + (f"; new texture {r.new_texture}" if cfg.gl else ""))
    except GuestError as e:
        r.error = str(e)
        say(f"{tag} ERROR: {r.error}")
    finally:
        r.exitcode = g.stop()
        if g.console:
            r.console_problems = g.console_problems()
            r.loss_reports = [line for line in g.console.all
                              if "device state lost" in line]
        r.freeze_mode_errors = g.freeze_mode_errors()
        if cfg.iommu:
            r.iommu_enabled = len(g.qemu_log_lines(r"vtd_dmar_enable "
                                                   r"enable 1"))
            r.iommu_faults = g.qemu_log_lines(r"vtd_dmar_fault")
        r.seconds = time.monotonic() - t0
        say(f"{tag} QEMU exit status {r.exitcode}; {r.seconds:.0f} s")
    return r


# What a black SDL window after resume makes problems() report
BLACK_WINDOW_SYMPTOMS = ("texture panel on the screen",
                         "of the screen changed across the sleep",
                         "the new picture after resume is NOT shown")


def black_window_only(r: Result, bad: List[str]) -> bool:
    """True when the only problems of a GL case are those of QEMU's SDL
    window staying black after resume -- the SDL refresh race that QEMU
    patch 5 fixes, seen with and without freeze mode before it (README,
    Known problems) -- while everything the guest and QEMU report is as
    expected."""
    return bool(bad) and r.window_black and all(
        any(s in line for s in BLACK_WINDOW_SYMPTOMS) for line in bad)


def keep_first_run(name: str, outdir: str):
    """Move a case's logs and pictures aside as <file>.first-run before
    it runs again, so a RETRIED entry keeps its evidence."""
    for f in os.listdir(outdir):
        if name in f and not f.endswith(".first-run") and \
                f.split(".")[0] in (f"{name}-console", f"{name}-qemu",
                                    f"qemu-{name}", f"{name}-before",
                                    f"{name}-after", f"{name}-new"):
            os.replace(os.path.join(outdir, f),
                       os.path.join(outdir, f + ".first-run"))


def run_judged(cfg: Config, expect: Expect, outdir: str) -> Tuple[Result, List[str]]:
    """run() and problems(); a case whose only problem is the black SDL
    window runs once more, and the result says so (r.retried, the
    results table, build/e2e-<base>/retried.txt)."""
    r = run(cfg, expect, outdir)
    bad = problems(r)
    if black_window_only(r, bad) and "black-window" in cfg.base.e2e_known:
        return r, bad
    if black_window_only(r, bad):
        say(f"[{cfg.name}] QEMU's SDL window stayed black after resume "
            "(QEMU patch 5 should prevent it): running the case again")
        with open(os.path.join(outdir, "retried.txt"), "a") as f:
            f.write(f"{cfg.name}: " + "; ".join(bad) + "\n")
        first = bad
        keep_first_run(cfg.name, outdir)
        r = run(cfg, expect, outdir)
        r.retried = first
        bad = problems(r)
    return r, bad


def report(results: List[Result], path: str, title: str) -> str:
    """The results as a markdown table, with each case's pictures side by
    side (before | after | new) next to it; returns the table."""
    outdir = os.path.dirname(path)
    lines = ["| case | machine | GPU placement | kept by | frozen asleep"
             " / after | display after sleep | texture 0 | blob 0 |"
             " re-created by"
             " the guest | new picture | expected | verdict | time |"
             " before / after / new |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        cfg = r.cfg
        pic = ""
        shots = [r.pictures[k] for k in ("before", "after", "new")
                 if k in r.pictures and os.path.exists(r.pictures[k])]
        if len(shots) >= 2:
            both = os.path.join(outdir, f"{cfg.name}.png")
            pictures.save_png(pictures.side_by_side(
                [pictures.read_png(s) for s in shots]), both)
            pic = f"![{cfg.name}]({os.path.basename(both)})"
        bad = problems(r)
        kept, blob = r.texture_kept, r.blob_kept
        lines.append(
            f"| {cfg.name} | {cfg.machine_label} | {cfg.placement} | "
            f"{cfg.mode_name} | {r.frozen_asleep} / {r.frozen_after} | "
            f"{'back' if r.display_back else 'LOST'} | "
            f"{'-' if kept is None else 'kept' if kept else 'LOST'} | "
            f"{'-' if blob is None else 'kept' if blob else 'LOST'} | "
            f"{r.recreated} | "
            f"{'shown' if r.new_picture_shown else 'NOT shown'} | "
            f"{'kept' if r.expect.kept else 'lost'} | "
            f"{'ok' if not bad else 'WRONG: ' + '; '.join(bad)[:300]}"
            f"{' (second run: the first had a black SDL window)' if r.retried else ''} | "
            f"{r.seconds:.0f} s | {pic} |")
    table = "\n".join(lines) + "\n"
    with open(path, "w") as f:
        f.write(f"# {title}\n\n" + table)
    return table

"""A real distribution across S3: Debian's Mesa, weston and GL clients.

The Debian guest (trixie from debootstrap: systemd, Mesa's virtio_gpu
driver, weston, kmscube; scripts/build-debian-guest.sh) boots the base's
guest kernel with the Linux series, starts a scene on virtio-gpu-gl-pci
-- weston on KMS with weston-simple-egl and weston-simple-shm, or
kmscube -- and sleeps through the OS's own path (an RTC alarm and
'systemctl suspend') or rtcwake.  harness/desktop.py judges it: the
clients' own frame counters go on rising after resume, the screen moves
and is not QEMU's placeholder, every program is alive, QMP saw SUSPEND
and WAKEUP each cycle and the GPU frozen while asleep (freeze mode only),
and neither the guest console nor QEMU's log has an error of the
graphics stack.  With stock QEMU the state is lost: the screen must show
it (QEMU's placeholder), and the clients must have been told: the guest
driver fails the lost 3D context's submissions with EIO, which Mesa
reports ("got error from kernel") while it renders on.

make check runs the short matrix on the primary base (E2E_MATRIX=full in
its pins); 'make check-debian' runs the whole one (DEBIAN_MATRIX=full),
on any base.  Table,
pictures and the guest's package versions: build/debian-<base>/results.md.
"""

import os
import sys

import pytest

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, TOP)

from harness import desktop, runresults  # noqa: E402
from harness.desktop import Expect  # noqa: E402
from harness.guest import BASE, Config  # noqa: E402

OUT = os.path.join(TOP, "build", f"debian-{BASE.name}")
PACKAGES = os.path.join(TOP, "build", "debian-guest", "packages.txt")
BLOB = "hostmem=256M,blob=on"


def case(name, machine, mode, scene="weston", cycles=1, how="systemd",
         port=False, opts=""):
    cfg = Config(f"debian-{name}", machine, "virtio-gpu-gl-pci", mode, port,
                 mem=1536, image="debian", device_opts=opts)
    kept = mode == "freeze" or (mode == "nsr" and port)
    return pytest.param(cfg, Expect(kept), scene, cycles, how,
                        id=cfg.name)


def matrix(full):
    short = [
        case("weston-q35-freeze-3", "q35", "freeze", cycles=3),
        case("weston-q35-root-port-nsr", "q35", "nsr", port=True),
        case("weston-q35-off", "q35", "off"),
        # weston, not kmscube: measured, Mesa's virgl driver creates blob
        # resources for weston's GL renderer (2 a run) and none for
        # kmscube, whose buffers are plain VBOs
        case("weston-pc-freeze-blob", "pc", "freeze", how="rtcwake",
             opts=BLOB),
    ]
    if not full:
        return short
    return short + [
        case("weston-q35-freeze", "q35", "freeze"),
        case("weston-pc-freeze", "pc", "freeze"),
        case("weston-pc-freeze-3", "pc", "freeze", cycles=3),
        case("weston-q35-root-port-nsr-3", "q35", "nsr", cycles=3,
             port=True),
        case("weston-q35-off-3", "q35", "off", cycles=3),
        case("weston-pc-off", "pc", "off"),
        case("weston-q35-freeze-blob", "q35", "freeze", opts=BLOB),
        case("weston-q35-freeze-rtcwake", "q35", "freeze", how="rtcwake"),
        case("kmscube-q35-freeze", "q35", "freeze", "kmscube"),
        case("kmscube-q35-off", "q35", "off", "kmscube"),
    ]


CASES = matrix(os.environ.get("DEBIAN_MATRIX") == "full")


@pytest.fixture(scope="module", autouse=True)
def environment():
    if not os.environ.get("DISPLAY"):
        pytest.fail("no X display: 'make check' runs these tests on a "
                    "private Xvfb (xvfb-run)")
    if not os.path.exists(PACKAGES):
        pytest.fail("no Debian guest: scripts/build-debian-guest.sh makes it")


def write_report(collected):
    """The table of the cases this run collected (their ids, collected),
    whichever pytest-xdist worker ran them (tests/e2e/conftest.py calls it
    once pytest is done), with those that left no result (a crash, a
    timeout) named under it: its path."""
    names = [n for n in (c.values[0].name for c in CASES) if n in collected]
    results = runresults.gathered(OUT, names)
    packages = ""
    if os.path.exists(PACKAGES):
        with open(PACKAGES) as f:
            packages = f.read()
    path = os.path.join(OUT, "results.md")
    desktop.report(results, path,
                   f"A Debian desktop suspends to RAM, {BASE.title}",
                   packages)
    runresults.note_missing(path, names, results)
    return path


def debian_s3(cfg, expect, scene, cycles, how):
    r = desktop.run(cfg, expect, OUT, scene, cycles, how)
    runresults.keep(OUT, cfg.name, r)
    bad = desktop.problems(r)
    if "blob=on" in cfg.device_opts and not r.blobs_created:
        bad.append("Mesa created no blob resource (QEMU trace "
                   "virtio_gpu_cmd_res_create_blob)")
    assert not bad, "\n".join(bad)


if BASE.e2e_matrix == "full" or os.environ.get("DEBIAN_MATRIX"):
    # (a backport's short matrix leaves the Debian guest to 'make
    # check-debian BASE=...')
    @pytest.mark.parametrize("cfg,expect,scene,cycles,how", CASES)
    def test_debian_s3(cfg, expect, scene, cycles, how):
        debian_s3(cfg, expect, scene, cycles, how)

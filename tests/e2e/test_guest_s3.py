"""A real guest suspends to RAM with rtcwake: does the GPU's state survive,
did the freeze protocol run, and does the device work afterwards?

Where the device keeps its state, texture 0 reads back and the guest
creates nothing again; where it loses it, the guest's driver says so once
and creates again what it can: the display comes back either way, the
virgl texture only where the state was kept (its panel on the screen goes
black).

Each case boots the guest kernel (the Linux series) on the patched QEMU
under TCG, with a virtio GPU on QEMU's SDL display (on a private Xvfb;
gl=on for the -gl devices), and goes through one sleep cycle as
harness/s3case.py describes: the display and texture 0 before and after,
QMP's frozen state while asleep and after resume, a new picture and a new
texture after resume, QEMU's log, the guest console, and QEMU's exit
status after 'quit'.

The matrix: what keeps the state -- freeze_mode (the series), stock
QEMU's PCI PM No_Soft_Reset (x-pcie-pm-no-soft-reset), or neither (the
patched QEMU with both off, which behaves as stock QEMU) -- on q35's root
bus, behind a PCIe root port, and on pc's PCI bus.  QEMU exposes the PCI
PM capability that carries No_Soft_Reset only for a PCIe device behind a
PCIe port (a root port here), so No_Soft_Reset keeps the state there and
nowhere else;
freeze_mode keeps it everywhere.  virtio-gpu-gl-pci and virtio-gpu-pci go
through all of it, virtio-vga and virtio-vga-gl (what '-vga virtio'
gives) through freeze_mode and neither on q35 and pc.  With blob
resources and host-visible memory (virtio-gpu-gl-pci,hostmem=64M,blob=on:
virglrenderer 1.1's paths), the guest also maps a HOST3D blob and reads
it through its mapping after resume: freeze_mode against No_Soft_Reset
behind a root port and stock.  The table and the pictures are in
build/e2e-BASE/results.md.
"""

import os
import sys

import pytest

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, TOP)

from harness import runresults, s3case  # noqa: E402
from harness.guest import BASE, Config  # noqa: E402
from harness.s3case import Expect  # noqa: E402

OUT = os.path.join(TOP, "build", f"e2e-{BASE.name}")


def matrix(full=True):
    """The cases; a short matrix (E2E_MATRIX=short in the pins) keeps
    freeze_mode and neither on q35's root bus and pc, for the GL and the
    2D device, and No_Soft_Reset behind the root port."""
    if not full:
        return [c for c in matrix() if c[0].name in (
            "gl-q35-root-bus-freeze", "gl-q35-root-bus-off",
            "gl-pc-pci-freeze", "gl-pc-pci-off", "gl-q35-root-port-nsr",
            "2d-q35-root-bus-freeze", "2d-q35-root-bus-off",
            "2d-pc-pci-freeze", "2d-pc-pci-off",
            "blob-q35-root-bus-freeze", "blob-q35-root-bus-off",
            "gl-q35-ovmf-root-bus-freeze", "gl-q35-ovmf-root-bus-off")]
    cases = []
    places = (("q35", False, "root-bus"), ("q35", True, "root-port"),
              ("pc", False, "pci"))
    for device, prefix in (("virtio-gpu-gl-pci", "gl"),
                           ("virtio-gpu-pci", "2d")):
        for mode in ("freeze", "nsr", "off"):
            for machine, port, where in places:
                if mode == "off" and port:
                    continue    # nothing there to tell from the root bus
                kept = mode == "freeze" or (mode == "nsr" and port)
                cases.append((Config(f"{prefix}-{machine}-{where}-{mode}",
                                     machine, device, mode, port),
                              Expect(kept)))
    for device, prefix in (("virtio-vga-gl", "vga-gl"),
                           ("virtio-vga", "vga")):
        for mode in ("freeze", "off"):
            for machine, where in (("q35", "root-bus"), ("pc", "pci")):
                cases.append((Config(f"{prefix}-{machine}-{where}-{mode}",
                                     machine, device, mode),
                              Expect(mode == "freeze")))
    for mode, port, where in (("freeze", False, "root-bus"),
                              ("freeze", True, "root-port"),
                              ("nsr", True, "root-port"),
                              ("off", False, "root-bus")):
        cases.append((Config(f"blob-q35-{where}-{mode}", "q35",
                             "virtio-gpu-gl-pci", mode, port,
                             device_opts="hostmem=64M,blob=on"),
                      Expect(mode != "off")))
    # UEFI: OVMF starts the kernel through its EFI stub and runs the S3
    # resume from its boot script
    for mode, port, where in (("freeze", False, "root-bus"),
                              ("nsr", True, "root-port"),
                              ("off", False, "root-bus")):
        cases.append((Config(f"gl-q35-ovmf-{where}-{mode}", "q35",
                             "virtio-gpu-gl-pci", mode, port,
                             firmware="ovmf"),
                      Expect(mode != "off")))
    # The GPU's DMA through a virtual IOMMU: the backing of the kept
    # texture is mapped by IOVA, and the IOMMU is reset on wake-up
    cases.append((Config("gl-q35-iommu-freeze", "q35", "virtio-gpu-gl-pci",
                         "freeze", iommu=True), Expect(True)))
    return cases


CASES = matrix(BASE.e2e_matrix == "full")


@pytest.fixture(scope="module", autouse=True)
def environment():
    if not os.environ.get("DISPLAY"):
        pytest.fail("no X display: 'make check' runs these tests on a "
                    "private Xvfb (xvfb-run)")


def write_report(collected):
    """The table of the cases this run collected (their ids, collected),
    whichever pytest-xdist worker ran them (tests/e2e/conftest.py calls it
    once pytest is done), with those that left no result (a crash, a
    timeout) named under it: its path."""
    names = [n for n in (c[0].name for c in CASES) if n in collected]
    results = runresults.gathered(OUT, names)
    path = os.path.join(OUT, "results.md")
    s3case.report(results, path,
                  f"A guest suspends to RAM (rtcwake -m mem), {BASE.title}")
    runresults.note_missing(path, names, results)
    return path


@pytest.mark.parametrize("cfg,expect", CASES, ids=[c[0].name for c in CASES])
def test_s3(cfg, expect):
    # a GL case whose only problem is QEMU's SDL window staying black
    # runs once more, recorded (README, Known problems)
    r, bad = s3case.run_judged(cfg, expect, OUT)
    runresults.keep(OUT, cfg.name, r)
    if s3case.black_window_only(r, bad) and \
            "black-window" in BASE.e2e_known:
        pytest.xfail("known (pins: E2E_KNOWN): QEMU's SDL window black "
                     "after resume, the rest as expected: " + "; ".join(bad))
    assert not bad, "\n".join(bad)

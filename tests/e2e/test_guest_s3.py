"""A real guest suspends to RAM with rtcwake: does its display come back?

Each case boots the guest kernel (patches/linux on Debian's 6.12) on the
patched QEMU under TCG, with a virtio GPU on QEMU's SDL display (under
Xvfb; gl=on for virtio-gpu-gl).  In the guest, s3check (guest/s3check.c)
sets a mode with a test pattern and, with virgl, fills a 3D texture; it
runs 'rtcwake -m mem -s 5' and after resume checks that the texture reads
back identical.  The host compares the screen before and after S3 (QMP
screendump for 2D, the X server's copy of QEMU's window for GL).

The matrix (scripts/guest_s3.py, matrix()) shows that freeze_mode keeps
the display where PCI PM No_Soft_Reset cannot (conventional PCI on pc,
q35's root bus), matches No_Soft_Reset behind a PCIe root port, and that
with neither -- what stock QEMU does -- the display and the resources are
lost.  The table and the pictures are in build/e2e/results.md.
"""

import os
import sys

import pytest

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "scripts"))

import guest_s3  # noqa: E402

OUT = os.path.join(TOP, "build", "e2e")
CASES = (guest_s3.matrix("virtio-gpu-gl-pci", "gl") +
         guest_s3.matrix("virtio-gpu-pci", "2d"))
RESULTS = []


@pytest.fixture(scope="module", autouse=True)
def environment():
    if not os.environ.get("DISPLAY"):
        pytest.fail("no X display: the end-to-end tests need one for QEMU's "
                    "SDL gl=on display; 'make check' runs them under Xvfb")
    for f in (guest_s3.QEMU, guest_s3.KERNEL, guest_s3.INITRAMFS):
        assert os.path.exists(f), f"{f} is missing: run 'make check'"
    yield
    table = guest_s3.report(RESULTS, os.path.join(OUT, "results.md"))
    sys.__stdout__.write("\n" + table + "\n(build/e2e/results.md)\n")


@pytest.mark.parametrize("scenario,back", CASES,
                         ids=[c[0].name for c in CASES])
def test_s3(scenario, back):
    res = guest_s3.run(scenario, OUT)
    RESULTS.append((res, back))
    assert res.error is None, res.error
    assert res.events == ["SUSPEND", "WAKEUP"], "no S3 cycle seen by QEMU"
    assert res.feature_offered == (scenario.mode == "freeze_mode"), \
        "VIRTIO_F_FREEZE_MODE offered (bit 44 in the guest) is wrong"
    assert res.checks.get("mode-set") == "PASS", res.console
    assert "rtcwake" not in res.checks, f"rtcwake failed: {res.console}"
    assert res.painted, f"no test pattern on the screen before S3: {res.before}"
    if scenario.gl:
        assert res.checks.get("3d-before") == "PASS", res.console
        assert res.resources_kept == back, (
            f"the 3D texture was {'lost' if back else 'kept'} across S3: "
            f"{res.console}")
    else:
        assert res.resources_kept is None, res.console
    assert res.display_back == back, (
        f"{res.changed:.1%} of the screen changed across S3 "
        f"(before: {res.before}, after: {res.after})")

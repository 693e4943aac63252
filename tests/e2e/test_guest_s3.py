"""A real guest suspends to RAM with rtcwake; does its display come back?

Each case boots the guest kernel (patches/linux) on the patched QEMU under
TCG, with virtio-gpu on QEMU's SDL display (under Xvfb), paints a test
pattern, runs 'rtcwake -m mem -s 5' and compares the screen (QMP
screendump) before and after.  The pictures are kept in build/e2e/.
The GL devices are covered by qtests (virtio-gpu-freeze-test); see
scripts/guest_s3.py for why their screen is not judged here yet.

The cases show freeze_mode where PCI PM No_Soft_Reset cannot go
(conventional PCI on pc, q35's root bus), that it matches No_Soft_Reset
behind a PCIe root port, and that without either the display is lost --
the bug the series fixes.
"""

import os
import sys

import pytest

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "scripts"))

import guest_s3  # noqa: E402
from guest_s3 import Scenario  # noqa: E402

OUT = os.path.join(TOP, "build", "e2e")
NSR = "x-pcie-pm-no-soft-reset=on"

CASES = [
    # (scenario, display expected back after S3)
    (Scenario("q35-root-bus-freeze-mode", "q35", options="freeze-mode=on"), True),
    (Scenario("pc-freeze-mode", "pc", options="freeze-mode=on"), True),
    (Scenario("pc-virtio-vga-freeze-mode", "pc", device="virtio-vga",
              options="freeze-mode=on"), True),
    (Scenario("q35-root-port-no-soft-reset", "q35",
              options=f"freeze-mode=off,{NSR}", root_port=True), True),
    (Scenario("q35-root-bus-no-soft-reset", "q35",
              options=f"freeze-mode=off,{NSR}"), False),
    (Scenario("q35-root-bus-stock", "q35", options="freeze-mode=off"), False),
    (Scenario("pc-stock", "pc", options="freeze-mode=off"), False),
]


@pytest.fixture(scope="session", autouse=True)
def need_display():
    if not os.environ.get("DISPLAY"):
        pytest.fail("no X display: the end-to-end tests need one for QEMU's "
                    "SDL gl=on display; 'make check' runs them under Xvfb")
    for f in (guest_s3.QEMU, guest_s3.KERNEL, guest_s3.INITRAMFS):
        assert os.path.exists(f), f"{f} is missing: run 'make check'"


@pytest.mark.parametrize("scenario,back", CASES, ids=[c[0].name for c in CASES])
def test_display_after_s3(scenario, back):
    res = guest_s3.run(scenario, OUT)
    assert res.error is None, res.error
    assert res.events == ["SUSPEND", "WAKEUP"]
    assert "rc=0" in res.console[-1], res.console
    offered = "freeze-mode=on" in scenario.options
    assert res.console[0].endswith(f"=1" if offered else "=0"), res.console
    assert res.painted, f"no test pattern on the screen before S3: {res.before}"
    assert res.display_back == back, (
        f"{res.changed:.1%} of the screen changed across S3 "
        f"(before: {res.before}, after: {res.after})")

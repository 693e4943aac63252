"""The bases (pins/*): which trees and builds belong to one.

The same rules as scripts/base.sh: BASE (default "primary") names a file
in pins/; its QEMU and Linux trees are build/<tree>, built in
build/<tree>-build, and the test guest's initramfs is in
build/<linux tree>-guest.
"""

import os
import shlex
from dataclasses import dataclass

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(TOP, "build")
# The firmware every base shares (pins/common, scripts/build-firmware.sh)
FIRMWARE = os.path.join(BUILD, "firmware")


def read_pins(path):
    values = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                key, _, value = line.partition("=")
                values[key] = " ".join(shlex.split(value))
    return values


@dataclass(frozen=True)
class Base:
    name: str
    title: str
    qemu_tree: str
    linux_tree: str
    # what 'make check' runs on it: every qtest ("all") or the series'
    # ("series"); the "full" or "short" end-to-end matrix
    qtest_scope: str = "all"
    e2e_matrix: str = "full"
    # the further stages 'make check' runs on it: any of "asan" (the
    # series' qtests under ASan and UBSan), "fuzz" (a bounded generic-fuzz
    # run), "soak" (a short S3 soak)
    evidence: tuple = ()
    # known problems of this base's end-to-end runs that count as "known"
    # rather than failures: "black-window" (README, Known problems)
    e2e_known: tuple = ()
    # the series applied to each tree, in order (patches/<series>/)
    qemu_series: tuple = ()
    linux_series: tuple = ()

    @property
    def qemu_build(self):
        return os.path.join(BUILD, self.qemu_tree + "-build")

    @property
    def qemu(self):
        return os.path.join(self.qemu_build, "qemu-system-x86_64")

    @property
    def qemu_pristine(self):
        """QEMU without the series (scripts/build-qemu.sh, PRISTINE=1)."""
        return os.path.join(BUILD, self.qemu_tree + "-pristine-build",
                            "qemu-system-x86_64")

    @property
    def qemu_python(self):
        return os.path.join(BUILD, self.qemu_tree, "python")

    def kernel(self, pristine=False):
        build = self.linux_tree + ("-pristine-build" if pristine
                                   else "-build")
        return os.path.join(BUILD, build, "arch", "x86", "boot", "bzImage")

    @property
    def initramfs(self):
        return os.path.join(BUILD, self.linux_tree + "-guest",
                            "initramfs.cpio")


def common():
    """The pins every base shares (pins/common)."""
    return read_pins(os.path.join(TOP, "pins", "common"))


def names():
    return sorted(n for n in os.listdir(os.path.join(TOP, "pins"))
                  if n != "common")


def load(name=None) -> Base:
    name = name or os.environ.get("BASE") or "primary"
    path = os.path.join(TOP, "pins", name)
    if name == "common" or not os.path.isfile(path):
        raise SystemExit(f"BASE={name}: no such base (pins/: "
                         f"{', '.join(names())})")
    p = read_pins(path)
    return Base(name, p.get("BASE_TITLE", name), p["QEMU_TREE"],
                p["LINUX_TREE"], p.get("QTEST_SCOPE", "all"),
                p.get("E2E_MATRIX", "full"),
                tuple(p.get("EVIDENCE", "").split()),
                tuple(p.get("E2E_KNOWN", "").split()),
                tuple(p.get("QEMU_SERIES", p["QEMU_TREE"]).split()),
                tuple(p.get("LINUX_SERIES", p["LINUX_TREE"]).split()))

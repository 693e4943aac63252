"""The virtio spec series (patches/virtio-spec), without LaTeX.

- The series applies with 'git am' to the pinned spec tree.
- Every \\ref the series adds resolves to a \\label (or to the label a
  \\devicenormative / \\drivernormative makes), and it adds no label twice.
- Every normative section the series adds is listed in a conformance
  clause.
- The numbers agree in all three places: the spec text, QEMU's headers
  and docs, and Linux's uapi headers -- the offset of freeze_mode
  (computed from the structure the spec prints, and with offsetof() from
  each header), the feature bit and the values.

- QEMU's standard-headers patch is what scripts/update-linux-headers.sh
  makes of the Linux series: the lines the script's output gains from the
  Linux series are exactly the lines QEMU's header patch adds, on both
  bases.

The trees are build/virtio-spec and the QEMU and Linux trees of both bases
('make tree', 'BASE=debian13 make tree').
"""

import glob
import os
import re
import shutil
import subprocess
import sys

import pytest

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, TOP)
from harness import bases  # noqa: E402

SPEC = os.path.join(TOP, "build", "virtio-spec")
PRIMARY, BACKPORT = bases.load("primary"), bases.load("debian13")
QEMU = os.path.join(TOP, "build", PRIMARY.qemu_tree)
LINUX = os.path.join(TOP, "build", PRIMARY.linux_tree)
QEMU_BACKPORT = os.path.join(TOP, "build", BACKPORT.qemu_tree)
LINUX_BACKPORT = os.path.join(TOP, "build", BACKPORT.linux_tree)
PATCHES = os.path.join(TOP, "patches", "virtio-spec")
HEADERS = ("virtio_config.h", "virtio_pci.h")

OFFSET = 0x40
BIT = 44
VALUES = {"UNFREEZE": 0, "FREEZE_S3": 1}


def git(tree, *args, **kw):
    return subprocess.run(["git", "-C", tree] + list(args), check=True,
                          capture_output=True, text=True, **kw).stdout


def need(tree):
    if not os.path.isdir(os.path.join(tree, ".git")):
        pytest.fail(f"{tree} is missing: 'make tree' makes it")


def series():
    with open(os.path.join(PATCHES, "series")) as f:
        return [os.path.join(PATCHES, line.strip()) for line in f
                if line.strip() and not line.startswith("#")]


def tex_files(ref):
    """{path: text} of every .tex file at a commit of the spec tree."""
    names = git(SPEC, "ls-tree", "-r", "--name-only", ref).split()
    return {n: git(SPEC, "show", f"{ref}:{n}") for n in names
            if n.endswith(".tex")}


def norm(s):
    return re.sub(r"\s+", " ", s).strip()


def labels(files):
    found = []
    for text in files.values():
        found += [norm(m) for m in re.findall(r"\\label\{([^}]*)\}", text)]
        for kind in ("devicenormative", "drivernormative"):
            found += [f"{kind}:{norm(m)}" for m in re.findall(
                r"\\" + kind + r"\{[^}]*\}\{[^}]*\}\{([^}]*)\}", text)]
    return found


def refs(files):
    found = set()
    for text in files.values():
        found |= {norm(m) for m in re.findall(
            r"\\(?:ref|nameref|autoref)\{([^}]*)\}", text)}
    return found


def test_series_applies_to_pinned_tree(tmp_path):
    need(SPEC)
    work = tmp_path / "spec"
    work.mkdir()
    archive = subprocess.run(["git", "-C", SPEC, "archive", "base"],
                             check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(work)], input=archive, check=True)
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t",
               GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@t")
    for cmd in (["init", "-q"], ["add", "-A"],
                ["commit", "-q", "-m", "base"]):
        subprocess.run(["git", "-C", str(work)] + cmd, check=True, env=env,
                       capture_output=True)
    am = subprocess.run(["git", "-C", str(work), "am", "-q"] + series(),
                        env=env, capture_output=True, text=True)
    assert am.returncode == 0, am.stderr
    count = git(str(work), "rev-list", "--count", "HEAD")
    assert int(count) == 1 + len(series())


def test_new_references_resolve():
    need(SPEC)
    base, head = tex_files("base"), tex_files("HEAD")
    added = refs(head) - refs(base)
    assert added, "the series adds no reference at all?"
    known = set(labels(head))
    missing = sorted(r for r in added if r not in known)
    assert not missing, f"references to no label: {missing}"


def test_no_label_defined_twice():
    need(SPEC)
    base, head = labels(tex_files("base")), labels(tex_files("HEAD"))
    new = [lb for lb in set(head) if head.count(lb) > base.count(lb) > 0 or
           head.count(lb) > 1 and lb not in base]
    assert not new, f"labels defined more than once: {new}"


def test_new_normative_sections_are_in_conformance():
    need(SPEC)
    base, head = tex_files("base"), tex_files("HEAD")
    new = [lb for lb in set(labels(head)) - set(labels(base))
           if lb.startswith(("devicenormative:", "drivernormative:"))]
    assert len(new) >= 3, f"expected device, driver and GPU sections: {new}"
    clauses = "".join(text for name, text in head.items()
                      if "conformance" in name)
    listed = {norm(m) for m in re.findall(r"\\ref\{([^}]*)\}", clauses)}
    missing = sorted(lb for lb in new if lb not in listed)
    assert not missing, f"normative sections no conformance clause lists: {missing}"


def spec_struct_offsets(text):
    """Field offsets of struct virtio_pci_common_cfg as the spec prints it."""
    m = re.search(r"struct virtio_pci_common_cfg \{(.*?)\};", text, re.S)
    assert m, "no struct virtio_pci_common_cfg in transport-pci.tex"
    sizes = {"u8": 1, "le16": 2, "le32": 4, "le64": 8}
    offsets, off = {}, 0
    for line in m.group(1).splitlines():
        line = re.sub(r"/\*.*?\*/", "", line).strip()
        fm = re.match(r"(u8|le16|le32|le64)\s+(\w+);", line)
        if fm:
            size = sizes[fm.group(1)]
            assert off % size == 0, f"{fm.group(2)} is not aligned"
            offsets[fm.group(2)] = off
            off += size
    return offsets


def test_spec_numbers():
    need(SPEC)
    head = tex_files("HEAD")
    offsets = spec_struct_offsets(head["transport-pci.tex"])
    base_offsets = spec_struct_offsets(tex_files("base")["transport-pci.tex"])
    for field, off in base_offsets.items():
        assert offsets[field] == off, f"{field} moved"
    assert offsets["freeze_mode"] == OFFSET
    assert list(offsets)[-1] == "freeze_mode", "freeze_mode is not last"
    assert f"VIRTIO_F_FREEZE_MODE({BIT})" in head["content.tex"]
    text = norm(head["transport-pci.tex"])
    for name, value in VALUES.items():
        assert f"VIRTIO_PCI_FREEZE_MODE_{name} ({value})" in text


CHECK_C = r"""
#include <stddef.h>
#include HEADER_CONFIG
#include HEADER_PCI

_Static_assert(VIRTIO_F_FREEZE_MODE == %(bit)d, "feature bit");
_Static_assert(VIRTIO_PCI_COMMON_FREEZE_MODE == %(offset)d, "offset define");
_Static_assert(offsetof(struct virtio_pci_modern_common_cfg, freeze_mode)
               == %(offset)d, "offset in the structure");
_Static_assert(sizeof(((struct virtio_pci_modern_common_cfg *)0)->freeze_mode)
               == 2, "16 bits");
_Static_assert(VIRTIO_PCI_FREEZE_MODE_UNFREEZE == %(unfreeze)d, "UNFREEZE");
_Static_assert(VIRTIO_PCI_FREEZE_MODE_FREEZE_S3 == %(freeze)d, "FREEZE_S3");
"""


@pytest.mark.parametrize("tree,incdir,prefix", [
    (QEMU, "include/standard-headers", "linux"),
    (LINUX, None, "linux"),
    (QEMU_BACKPORT, "include/standard-headers", "linux"),
    (LINUX_BACKPORT, None, "linux"),
], ids=["qemu", "linux", "qemu-backport", "linux-backport"])
def test_header_numbers(tree, incdir, prefix, tmp_path):
    """The numbers in QEMU's and Linux's headers, checked by the compiler."""
    need(tree)
    src = tmp_path / "check.c"
    src.write_text(CHECK_C % {"bit": BIT, "offset": OFFSET,
                              "unfreeze": VALUES["UNFREEZE"],
                              "freeze": VALUES["FREEZE_S3"]})
    if tree in (LINUX, LINUX_BACKPORT):
        # the uapi headers as user space gets them ('make headers')
        subprocess.run(["make", "-s", "-C", LINUX, f"O={tmp_path / 'obj'}",
                        "headers"], check=True, capture_output=True)
        inc = str(tmp_path / "obj" / "usr" / "include")
    else:
        inc = os.path.join(tree, incdir)
    cmd = ["gcc", "-fsyntax-only", "-std=gnu11",
           f'-DHEADER_CONFIG="{prefix}/virtio_config.h"',
           f'-DHEADER_PCI="{prefix}/virtio_pci.h"', str(src)]
    if tree in (QEMU, QEMU_BACKPORT):
        # standard-headers wants QEMU's own types
        cmd[1:1] = ["-I", inc, "-I", os.path.join(tree, "include"),
                    "-include", "stdint.h", "-include",
                    "stdbool.h", "-D__le16=uint16_t", "-D__le32=uint32_t",
                    "-D__le64=uint64_t", "-D__u8=uint8_t",
                    "-D__u16=uint16_t", "-D__u32=uint32_t", "-D__u64=uint64_t"]
    else:
        cmd[1:1] = ["-I", inc]
    p = subprocess.run(cmd, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr


def added_lines(diff):
    """The lines a unified diff adds, without its headers."""
    return [line[1:] for line in diff.splitlines()
            if line.startswith("+") and not line.startswith("+++")]


def update_linux_headers(linux_ref, out):
    """QEMU's scripts/update-linux-headers.sh run on the primary Linux
    tree at linux_ref, into a copy of QEMU's pristine base at out; the
    two virtio headers it writes, {name: text}."""
    src = out / "linux"
    qemu = out / "qemu"
    for d, tree, ref in ((src, LINUX, linux_ref), (qemu, QEMU, "base")):
        d.mkdir()
        tar = subprocess.run(["git", "-C", tree, "archive", ref],
                             check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(d)], input=tar, check=True)
    p = subprocess.run(["sh", str(qemu / "scripts" / "update-linux-headers.sh"),
                        str(src), str(qemu)], capture_output=True, text=True)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    return {h: (qemu / "include" / "standard-headers" / "linux" / h)
            .read_text() for h in HEADERS}


def test_standard_headers_are_update_linux_headers_output(tmp_path):
    """QEMU's header patch adds the lines the script adds from the Linux
    series (primary base), and the backport's adds the same ones."""
    need(QEMU)
    need(LINUX)
    need(QEMU_BACKPORT)
    (tmp_path / "base").mkdir()
    (tmp_path / "head").mkdir()
    before = update_linux_headers("base", tmp_path / "base")
    after = update_linux_headers("HEAD", tmp_path / "head")
    for h in HEADERS:
        path = f"include/standard-headers/linux/{h}"
        script = subprocess.run(
            ["diff", "-u", str(tmp_path / "base" / "qemu" / path),
             str(tmp_path / "head" / "qemu" / path)],
            capture_output=True, text=True).stdout
        wanted = added_lines(script)
        assert wanted, f"the Linux series adds nothing to {h}?"
        for tree in (QEMU, QEMU_BACKPORT):
            patch = git(tree, "diff", "base", "HEAD", "--", path)
            assert added_lines(patch) == wanted, (
                f"{os.path.basename(tree)}'s {h} differs from what "
                f"update-linux-headers.sh makes of the Linux series:\n"
                f"script: {wanted}\npatch: {added_lines(patch)}")
    assert before and after


def test_qemu_docs_numbers():
    need(QEMU)
    with open(os.path.join(QEMU, "docs", "specs",
                           "virtio-freeze-mode.rst")) as f:
        doc = f.read()
    assert "0x40" in doc and f"({BIT})" in doc
    for name, value in VALUES.items():
        assert re.search(rf"FREEZE_MODE_{name}\W+.*{value}|{value}\W+.*{name}",
                         doc), f"{name} = {value} not in the QEMU docs"


def test_tools():
    assert shutil.which("gcc"), "gcc is needed to check the headers"
    assert glob.glob(os.path.join(PATCHES, "*.patch"))

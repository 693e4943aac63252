"""The virtio spec series (patches/virtio-spec), without LaTeX.

- The series applies with 'git am' to the pinned spec tree.
- Every \\ref the series adds resolves to a \\label (or to the label a
  \\devicenormative / \\drivernormative makes), and it adds no label twice.
- Every normative section the series adds is listed in a conformance
  clause, and every normative clause the series adds is where it belongs:
  each is looked for, by its words, in the normative section that has to
  hold it (CLAUSES), so that a clause that goes missing or moves out of
  its section fails; a requirement the series relaxed on purpose must not
  come back (RELAXED).
- What the series adds to the LaTeX sources is balanced: braces and
  \\begin/\\end of every environment (the PDF is built by 'make spec-pdf').
- The cover letter and the draft of the TC issue say what the review
  asked them to say: the questions for the TC in the cover letter, which
  goes to virtio-comment, and the issue only requesting the ballot.
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
    """Every normative section the series adds, and every "Legacy
    Interface" section (which holds normative clauses of its own), is
    listed in a conformance clause."""
    need(SPEC)
    base, head = tex_files("base"), tex_files("HEAD")
    new = [lb for lb in set(labels(head)) - set(labels(base))
           if lb.startswith(("devicenormative:", "drivernormative:")) or
           lb.startswith("sec:") and "Legacy Interface" in lb]
    assert len(new) >= 3, f"expected device, driver and GPU sections: {new}"
    clauses = "".join(text for name, text in head.items()
                      if "conformance" in name)
    listed = {norm(m) for m in re.findall(r"\\ref\{([^}]*)\}", clauses)}
    missing = sorted(lb for lb in new if lb not in listed)
    assert not missing, f"normative sections no conformance clause lists: {missing}"


# The normative clauses of the series, each by words of its own, in the
# normative section that has to hold it.  Whitespace is normalised; the
# words are matched literally.
DEV, DRV = "devicenormative:", "drivernormative:"
FREEZE = "Basic Facilities of a Virtio Device / Device Freeze"
INIT = "General Initialization And Device Operation / Device Initialization"
PCI_FREEZE = ("Virtio Transport Options / Virtio Over PCI Bus / PCI Device "
              "Layout / Common configuration structure layout / Freeze mode")
GPU_FREEZE = "Device Types / GPU Device / Device Freeze"
PARTS = ("Basic Facilities of a Virtio Device / Device groups / Group "
         "administration commands / Device parts")
DEV_RESET = "Basic Facilities of a Virtio Device / Device Reset"
LEGACY_FREEZE = ("sec:Basic Facilities of a Virtio Device / Device Freeze / "
                 "Legacy Interface: A Note on Device Freeze")
CLAUSES = {
    DEV + FREEZE: [
        # offered only where the device type defines preserved state
        "The device MUST NOT offer VIRTIO_F_FREEZE_MODE unless its device "
        "type defines preserved state",
        "If the device does not offer VIRTIO_F_FREEZE_MODE, it MUST present "
        "UNFREEZE as its freeze mode",
        # writes only by a driver that negotiated it; admin commands are not
        # writes by the driver
        "The device MUST ignore a write of the freeze mode by the driver "
        "unless VIRTIO_F_FREEZE_MODE has been negotiated and the FEATURES_OK "
        "bit is set",
        "An ignored write MUST NOT change the freeze mode",
        # the device may decline FREEZE_S3 before the reset
        "The device MAY ignore a write of FREEZE_S3 if it cannot keep its "
        "preserved state at that time",
        "A change of the freeze mode MUST NOT change how the device "
        "processes requests",
        # all or nothing
        "MUST either keep all of its preserved state and keep its freeze "
        "mode FREEZE_S3, or discard all of its preserved state",
        # keeping across the driver's reset is a MUST, not a SHOULD
        "If the driver resets the device while the device is frozen, the "
        "device MUST keep its preserved state across the reset, unless",
        # a device that needs a reset does not keep its state
        "If DEVICE_NEEDS_RESET is set in \\field{device status} while the "
        "device is frozen, the device MUST discard its preserved state on "
        "the next reset",
        "If the device loses any part of its preserved state while it is "
        "frozen, it MUST discard all of its preserved state",
        # other resets: MAY keep, unless the transport says discard
        "the device MAY keep its preserved state, and its freeze mode "
        "FREEZE_S3, across a reset other than a reset by the driver, unless "
        "the transport requires it to discard its preserved state",
        # no latch
        "the device MUST set its freeze mode to UNFREEZE and MUST discard "
        "its preserved state before it processes any request",
        "but with other feature bits than those negotiated when the driver "
        "set the freeze mode to FREEZE_S3, the device MAY discard its "
        "preserved state",
        "If the driver sets the freeze mode to UNFREEZE, the device MUST NOT "
        "discard any of its state because of this",
    ],
    DRV + FREEZE: [
        "The driver MUST NOT write the freeze mode unless it has negotiated "
        "VIRTIO_F_FREEZE_MODE and the device has accepted FEATURES_OK",
        "The driver MUST NOT write a reserved value",
        # FREEZE_S3 before the reset, and before SUSPEND
        "it MUST do so before it resets the device for that sleep, and, if "
        "it suspends the device",
        "before that reset, before it sets the SUSPEND bit",
        # read back before the reset: the device may have declined
        "After the driver has set the freeze mode to FREEZE_S3, it SHOULD "
        "read the freeze mode back before it resets the device",
        "the driver MUST set the freeze mode to UNFREEZE before it makes "
        "further buffers available to the device",
        "it MUST read the freeze mode each time it initializes the device",
        "it SHOULD accept the same features it had negotiated when it set "
        "the freeze mode",
        "it MUST treat any preserved state as lost",
        # a concrete point for UNFREEZE
        "If the driver reads FREEZE_S3 as it initializes the device, it MUST "
        "set the freeze mode to UNFREEZE after it has read it and before it "
        "next resets the device or sets the freeze mode to FREEZE_S3 again",
        "the driver MUST set the freeze mode to UNFREEZE and then reset the "
        "device",
    ],
    # the read-back is a step of the initialization sequence
    DRV + INIT: [
        "If VIRTIO_F_FREEZE_MODE has been negotiated, this includes reading "
        "the freeze mode",
    ],
    DEV + PCI_FREEZE: [
        "the \\field{length} of its common configuration capability MUST "
        "include \\field{freeze_mode}",
        # readable whenever offered, also after a reset
        "it MUST present its freeze mode in \\field{freeze_mode} whenever "
        "the driver reads it, including after a reset and before the "
        "features are negotiated",
        # the resets that always discard, in PCI Express terms
        "after a Cold Reset; after a Hot Reset, including one caused by "
        "Secondary Bus Reset in the Bridge Control register of the bridge or "
        "Downstream Port above the function and one caused by its Link going "
        "to DL_Down; after a Function Level Reset; and, for a Virtual "
        "Function, after a Function Level Reset of its Physical Function and "
        "after VF Enable is cleared",
        # every other reset: MAY keep
        "MAY keep its preserved state, and continue to present "
        "VIRTIO_PCI_FREEZE_MODE_FREEZE_S3 in \\field{freeze_mode}, across any "
        "other reset of the PCI function",
        "If the device keeps its preserved state across the reset on the "
        "transition from D3hot to D0, it MUST support Function Level Reset",
        "the device MUST NOT change \\field{freeze_mode} or discard its "
        "preserved state on that transition",
    ],
    DRV + PCI_FREEZE: [
        "The driver MUST NOT accept VIRTIO_F_FREEZE_MODE unless the "
        "\\field{length} of the common configuration capability includes "
        "\\field{freeze_mode}",
        "The driver MUST NOT access \\field{freeze_mode} unless the device "
        "offers VIRTIO_F_FREEZE_MODE",
    ],
    DEV + GPU_FREEZE: [
        "MUST keep every resource that the driver has created and not "
        "unreferenced",
        # exported resources keep their UUID
        "its backing and the UUID assigned to it, if any",
        # every context type on virgl's terms
        "MUST keep every context that the driver has created and not "
        "destroyed, whatever its context type, including every context "
        "created with a \\field{capset_id} in \\field{context_init}",
        "MUST finish processing every request that it returned to the "
        "driver before the reset",
        "MUST NOT return, after the reset, a request that it had not "
        "returned to the driver before the reset",
        "MUST disable every scanout and the cursor on the reset",
        # no access to the backing before DRIVER_OK
        "MUST NOT access the memory attached as backing to a resource in "
        "its preserved state after the reset, before the driver sets the "
        "DRIVER_OK bit again",
        # no translation cached before the reset (ATS)
        "MUST NOT use, to access that memory after the reset, an address "
        "translation that it obtained before the reset",
        "A device with VGA compatibility MUST switch back into VGA "
        "compatibility mode on such a reset",
    ],
    DRV + GPU_FREEZE: [
        # the drain is tied to FREEZE_S3, not to the driver's reset alone
        "After the driver has set the freeze mode to FREEZE_S3, it MUST wait "
        "until the device has returned every request",
        "and, if it does not reset the device for the sleep, before it lets "
        "the system enter the sleep state",
        # backing at the same device addresses, IOMMU included
        "it MUST keep the memory reachable by the device at the addresses "
        "it gave in \\field{struct virtio_gpu_mem_entry}",
        "If VIRTIO_F_ACCESS_PLATFORM has been negotiated, these addresses "
        "are device addresses, and over the same period the driver MUST NOT "
        "remove or change the platform's translation",
        "the driver MUST ensure that they are restored, to the same memory, "
        "before it sets the DRIVER_OK bit after the sleep",
        # translations that cannot be restored (virtio-iommu): no freeze
        "If VIRTIO_F_ACCESS_PLATFORM has been negotiated and the driver "
        "cannot ensure that these translations are restored before it sets "
        "the DRIVER_OK bit after the sleep",
        "the driver MUST NOT set the freeze mode to FREEZE_S3",
        "it MUST NOT create a resource or a context with a "
        "\\field{resource_id} or \\field{ctx_id} that a resource or context "
        "in the preserved state still uses",
        "it MUST set again, with VIRTIO_GPU_CMD_SET_SCANOUT",
        "it MUST treat every resource and every context that it created "
        "before the sleep as destroyed",
    ],
    # the freeze mode in the device parts
    DEV + PARTS: [
        "the owner device MUST ensure that the member device discards any "
        "preserved state it holds and presents UNFREEZE as its freeze mode, "
        "unless the command sets FREEZE_S3",
        # the existing "clear all the device parts" rule, amended
        "the device MUST clear all the device parts to the default value "
        "when the member device is reset or undergo an PCI FLR, except that "
        "a reset across which the member device keeps its preserved state",
        # carved out of "SHOULD only verify ... SHOULD NOT apply"
        "VIRTIO_DEV_PART_PCI_COMMON_CFG (other than the part for "
        "\\field{freeze_mode}) and VIRTIO_DEV_PART_DEV_CFG, the device SHOULD "
        "only verify",
    ],
}
# Normative clauses outside the normative sections: those of a "Legacy
# Interface" section, by the label of the section that has to hold them
SECTION_CLAUSES = {
    LEGACY_FREEZE: [
        "Transitional devices MUST NOT offer VIRTIO_F_FREEZE_MODE.",
    ],
}
# Requirements that the series relaxed or dropped on purpose, which must not
# come back into the normative section
RELAXED = {
    DRV + FREEZE: [
        # setting FREEZE_S3 outside a sleep is a note, neither MUST NOT nor
        # SHOULD NOT
        "The driver MUST NOT set the freeze mode to FREEZE_S3 unless",
        "SHOULD NOT set the freeze mode to FREEZE_S3 unless the system is "
        "about to enter",
        "the driver MUST NOT set the freeze mode to FREEZE_S3 when the "
        "system is about to hibernate",
        # no writes of the freeze mode to a suspended device
        "The driver MAY set the freeze mode while the device is suspended",
        # the untestable "resumes successfully, then UNFREEZE"
        "if it reads FREEZE_S3 and resumes using the device successfully",
    ],
    DEV + FREEZE: [
        "The device MUST NOT ignore a write of the freeze mode because the "
        "device is suspended",
        # no separate rule for a suspended and frozen device
        "If the driver resets the device while the device is suspended and "
        "frozen",
        # no rule on what the device cannot observe
        "identifies to the device as such",
        # keeping across the driver's reset is no longer a SHOULD
        "SHOULD keep its preserved state across the reset",
    ],
    DEV + DEV_RESET: [
        # a cross-reference, not a requirement that only points elsewhere
        "If the device is frozen when it receives a reset from the driver",
    ],
    DEV + PCI_FREEZE: [
        "unless the platform has identified that reset to the device",
        # moved to the core's Legacy Interface section
        "A transitional device MUST NOT offer VIRTIO_F_FREEZE_MODE",
    ],
    DEV + PARTS: [
        # no MUST NOT against the existing "clear all the device parts"
        "the device MUST NOT clear to the default value the part for",
        "as valid while the member device is frozen",
    ],
}

SECTIONING = re.compile(
    r"\\(?:chapter|section|subsection|subsubsection|paragraph|subparagraph)"
    r"\*?\{|\\(?:devicenormative|drivernormative)\{|\\input\{")


def normative_sections(files):
    """{'devicenormative:LABEL' or 'drivernormative:LABEL': text} of every
    normative section: from its \\devicenormative or \\drivernormative up
    to the next sectioning command, whitespace normalised."""
    found = {}
    for text in files.values():
        for m in re.finditer(r"\\(devicenormative|drivernormative)"
                             r"\{[^}]*\}\{[^}]*\}\{([^}]*)\}", text):
            end = SECTIONING.search(text, m.end())
            body = text[m.end():end.start() if end else len(text)]
            key = f"{m.group(1)}:{norm(m.group(2))}"
            found[key] = found.get(key, "") + " " + norm(body)
    return found


def labelled_sections(files):
    """{label: text} of every section: from the sectioning command whose
    \\label it is up to the next sectioning command, whitespace
    normalised."""
    found = {}
    for text in files.values():
        for m in SECTIONING.finditer(text):
            lm = re.match(r"[^\n]*?\\label\{([^}]*)\}", text[m.end():])
            if not lm:
                continue
            start = m.end() + lm.end()
            end = SECTIONING.search(text, start)
            found[norm(lm.group(1))] = norm(
                text[start:end.start() if end else len(text)])
    return found


@pytest.mark.parametrize("label", sorted(SECTION_CLAUSES))
def test_section_clauses(label):
    """Each normative clause of a Legacy Interface section of the series
    is in that section."""
    need(SPEC)
    sections = labelled_sections(tex_files("HEAD"))
    assert label in sections, f"no section {label}"
    missing = [c for c in SECTION_CLAUSES[label]
               if norm(c) not in sections[label]]
    assert not missing, f"{label} lacks: {missing}"


@pytest.mark.parametrize("section", sorted(CLAUSES))
def test_conformance_clauses(section):
    """Each clause of the series is in the normative section that must
    hold it."""
    need(SPEC)
    sections = normative_sections(tex_files("HEAD"))
    assert section in sections, f"no normative section {section}"
    missing = [c for c in CLAUSES[section] if norm(c) not in sections[section]]
    assert not missing, f"{section} lacks: {missing}"
    back = [c for c in RELAXED.get(section, ())
            if norm(c) in sections[section]]
    assert not back, f"{section} has again: {back}"


def test_conformance_clauses_are_new():
    """The clauses above are the series' own: none is in the pristine
    spec (else the check above proves nothing about the series)."""
    need(SPEC)
    files = tex_files("base")
    base = " ".join(list(normative_sections(files).values()) +
                    list(labelled_sections(files).values()))
    old = [c for cs in list(CLAUSES.values()) +
           list(SECTION_CLAUSES.values()) for c in cs if norm(c) in base]
    assert not old, f"clauses the pristine spec already has: {old}"


def latex_balance(text):
    """Brace depth and \\begin/\\end count per environment, without
    comments, escaped braces and verbatim listings."""
    text = re.sub(r"\\begin\{lstlisting\}.*?\\end\{lstlisting\}", "", text,
                  flags=re.S)
    text = re.sub(r"(?<!\\)%.*", "", text)
    text = text.replace(r"\{", "").replace(r"\}", "")
    counts = {"{}": text.count("{") - text.count("}")}
    for env in set(re.findall(r"\\(?:begin|end)\{([^}]*)\}", text)):
        counts[env] = (text.count(r"\begin{" + env + "}") -
                       text.count(r"\end{" + env + "}"))
    return counts


def test_latex_balanced():
    """What the series adds to each .tex file opens and closes as many
    braces and environments as it closes (the pristine file's own
    imbalance, if any, is not the series')."""
    need(SPEC)
    base, head = tex_files("base"), tex_files("HEAD")
    bad = []
    for name, text in head.items():
        if text == base.get(name):
            continue
        b = latex_balance(base.get(name, ""))
        h = latex_balance(text)
        for key in set(b) | set(h):
            if b.get(key, 0) != h.get(key, 0):
                bad.append((name, key, b.get(key, 0), h.get(key, 0)))
    assert not bad, f"unbalanced (file, what, base, head): {bad}"


def cover_letter():
    with open(os.path.join(PATCHES, "cover-letter")) as f:
        return f.read()


def test_cover_letter():
    """v8's cover letter: the changes since v7 first; the device-type
    alternative, SUSPEND, No_Soft_Reset, the contested tail of
    virtio_pci_common_cfg and the name discussed; the questions for the TC
    asked here, on virtio-comment, since the TC does not answer in GitHub
    issues."""
    text = cover_letter()
    head, _, body = text.partition("\n\n")
    assert "Subject-Prefix: PATCH v8" in head
    headings = re.findall(r"^(\S[^\n]*)\n-{3,}$", body, re.M)
    assert headings and headings[0] == "Changes since v7", headings
    assert "Questions for the TC" in headings, headings
    flat = norm(body)
    for words in ("VIRTIO_F_SUSPEND", "No_Soft_Reset", "PERSISTENT_SUSPEND",
                  "virtio_gpu_config", "VIRTIO_F_DEVICE_READY",
                  "VIRTIO_F_DMB", "issue 250", "0x40", "bit 44",
                  "PRESERVE_STATE", "VIRTIO_F_ACCESS_PLATFORM", "del_vqs",
                  "DL_Down", "VF Enable", "DEVICE_NEEDS_RESET"):
        assert words in flat, f"the cover letter does not mention {words}"
    questions = body.split("Questions for the TC\n", 1)[1]
    questions = re.split(r"^\S[^\n]*\n-{3,}$", questions, maxsplit=1,
                         flags=re.M)[0]
    assert len(re.findall(r"^\d+\. ", questions, re.M)) >= 5
    for words in ("PRESERVE_STATE", "virtio_gpu_config", "DRIVER_OK"):
        assert words in norm(questions), f"no question on {words}"
    # claims the review found circular or inaccurate must not come back
    for words in ("cannot say so through device_status",
                  "inside the restore path it runs anyway",
                  "The read-back is the handshake",
                  "exists in no driver today",
                  "The combination is defined",
                  "tc-issue.md"):
        assert words not in flat, f"the cover letter says again: {words}"


def test_tc_issue_draft():
    """The draft of the virtio-spec GitHub issue that requests the TC vote,
    as the virtio-spec README describes: a short summary, the link to the
    latest proposal in the archive, the designs side by side, what a
    ballot needs with the Fixes: line -- and no questions, which the TC
    answers only on the mailing list."""
    path = os.path.join(PATCHES, "tc-issue.md")
    assert os.path.isfile(path), "patches/virtio-spec/tc-issue.md is missing"
    with open(path) as f:
        text = f.read()
    sections = re.findall(r"^#+ (.*)$", text, re.M)
    for name in ("Summary", "The two designs", "What a ballot needs"):
        assert any(s.startswith(name) for s in sections), name
    assert not any("Question" in s for s in sections), sections
    summary = text.split("## Summary", 1)[1].split("\n## ")[0]
    assert "lore.kernel.org/virtio-comment" in summary, \
        "the issue description must link the latest proposal"
    table = [line for line in text.splitlines() if line.startswith("|")]
    assert len(table) >= 8 and "SUSPEND" in table[0] and "freeze" in table[0]
    flat = norm(text)
    for words in ("Cannot be expressed", "exists in no driver"):
        assert words not in flat, f"the table says again: {words}"
    assert "lists.oasis-open.org" not in text, "links go to lore"
    ballot = text.split("## What a ballot needs", 1)[1]
    assert "PATCH v8" in ballot and "lore.kernel.org/virtio-comment" in ballot
    assert "Fixes: https://github.com/oasis-tcs/virtio-spec/issues/" in ballot
    for patch in series():
        with open(patch) as f:
            subject = re.search(
                r"^Subject: \[PATCH v8 \d+/\d+\] (.*(?:\n .*)*)",
                f.read(), re.M)
        assert subject, f"{patch} is not PATCH v8"
        words = norm(subject.group(1))
        assert words in norm(ballot), f"the ballot list lacks '{words}'"


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

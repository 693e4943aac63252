#!/usr/bin/python3
"""Run every test the project has and print one summary.

Stages, in order: the programs the harness needs (deps.sh --check); the
harness's own pytest suite; checkpatch on every QEMU and Linux patch; the
virtio spec series (tests/spec) and its PDF; the QEMU build; QEMU's
qtests on the patched build; the end-to-end tests, where a guest running
the patched kernel suspends to RAM with rtcwake (tests/e2e).  The last
line is 'N passed, N failed, N skipped, N known'.

A green run means that everything that should have run ran, to the end:

- every test meson lists for the suite has a result in meson's log, and
  every test pytest collects has one in its report; a log cut short, a
  crash, a timeout or an exit status the results do not explain fails;
- the series' own qtests ran at least the subtests tests/qtest-series
  says they have;
- a failure counts unless tests/qtest-known-failures lists that very
  subtest as failing on the pristine base as well; such a subtest is
  skipped in the main run (so that the rest of its binary runs) and run
  alone afterwards: it is "known" while it still fails, and a FAILURE once
  it passes (a stale entry);
- with CI=true ("strict"), a skip that the file does not list fails: CI
  has everything the tests need.
"""

import argparse
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(TOP, "build")
QEMU_BUILD = os.path.join(BUILD, "qemu-build")
RESULTS = os.path.join(BUILD, "results")
KNOWN_FILE = os.path.join(TOP, "tests", "qtest-known-failures")
SERIES_FILE = os.path.join(TOP, "tests", "qtest-series")
STAGES = ("deps", "harness", "checkpatch", "spec", "qtest", "e2e")
# A known failing subtest that neither passes nor fails within this many
# seconds still fails (cdrom-test's waits 600 s for a boot signature).
KNOWN_TIMEOUT = 120


def strict_mode() -> bool:
    return os.environ.get("CI") == "true"


class Tally:
    def __init__(self):
        self.entries: List[Tuple[str, str, str, str]] = []
        self.times: List[Tuple[str, float]] = []

    def add(self, stage, name, result, why=""):
        assert result in ("pass", "fail", "skip", "known"), result
        self.entries.append((stage, name, result, why))

    def of(self, result):
        return [e for e in self.entries if e[2] == result]


def say(msg):
    print(f"check: {msg}", flush=True)


def banner(msg):
    print(f"\n===== {msg} =====", flush=True)


def run(cmd, **kw):
    say("$ " + " ".join(cmd))
    return subprocess.run(cmd, cwd=kw.pop("cwd", TOP), **kw)


def xvfb(cmd):
    """cmd on a private X server: never the user's own display."""
    return ["xvfb-run", "-a", "-s", "-screen 0 1280x1024x24"] + cmd


# ---------------------------------------------------------------- pytest

def junit_cases(path) -> Dict[str, str]:
    """{node id: pass|fail|skip[:why]} from pytest's JUnit XML."""
    cases = {}
    for case in ET.parse(path).iter("testcase"):
        # classname "tests.e2e.test_guest_s3", name "test_s3[gl-...]"
        mod = case.get("classname", "").replace(".", "/")
        nodeid = f"{mod}.py::{case.get('name')}"
        if case.find("failure") is not None or case.find("error") is not None:
            cases[nodeid] = "fail"
        elif case.find("skipped") is not None:
            cases[nodeid] = "skip:" + case.find("skipped").get("message", "")
        else:
            cases[nodeid] = "pass"
    return cases


def evaluate_pytest(stage, collected: List[str], cases: Optional[Dict[str, str]],
                    rc: int, strict: bool):
    """Tally entries for one pytest run: what was collected against what
    the report holds, and pytest's exit status."""
    out = []
    if cases is None:
        return [(stage, "pytest", "fail", f"no report (pytest exited {rc})")]
    if not collected:
        out.append((stage, "pytest", "fail", "collected no tests"))
    failed = False
    for nodeid in collected:
        res = cases.get(nodeid)
        if res is None:
            out.append((stage, nodeid, "fail",
                        "collected but did not run (pytest stopped early?)"))
        elif res == "fail":
            failed = True
            out.append((stage, nodeid, "fail", ""))
        elif res.startswith("skip"):
            why = res[5:]
            out.append((stage, nodeid, "fail" if strict else "skip",
                        why + (" (CI=true: skips fail)" if strict else "")))
        else:
            out.append((stage, nodeid, "pass", ""))
    for nodeid in sorted(set(cases) - set(collected)):
        out.append((stage, nodeid, "fail", "ran but was not collected"))
    # 0: all passed; 1: some failed.  2 interrupted, 3 internal error,
    # 4 usage error, 5 nothing collected: never a green run.
    if rc not in (0, 1):
        out.append((stage, "pytest", "fail", f"pytest exited {rc}"))
    elif rc == 1 and not failed:
        out.append((stage, "pytest", "fail",
                    "pytest exited 1 but no test failed in its report"))
    elif rc == 0 and failed:
        out.append((stage, "pytest", "fail",
                    "pytest exited 0 but its report has failures"))
    return out


def pytest_collect(tests, wrapper=()) -> Tuple[List[str], str]:
    p = run(list(wrapper) + [sys.executable, "-m", "pytest", "--collect-only",
                             "-q", tests], stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True)
    ids = [line.strip() for line in p.stdout.splitlines()
           if "::" in line and not line.startswith(("ERROR", "FAILED"))]
    return ids, p.stdout


def pytest_stage(t, stage, tests, wrapper=(), extra=()):
    xml = os.path.join(RESULTS, f"{stage}.xml")
    if os.path.exists(xml):
        os.unlink(xml)
    collected, text = pytest_collect(tests)
    say(f"{len(collected)} tests collected in {tests}")
    if not collected:
        print(text)
    p = run(list(wrapper) + [sys.executable, "-m", "pytest", "-v", "-rs",
                             tests, f"--junitxml={xml}"] + list(extra))
    cases = junit_cases(xml) if os.path.exists(xml) else None
    for e in evaluate_pytest(stage, collected, cases, p.returncode,
                             strict_mode()):
        t.add(*e)


# ---------------------------------------------------------------- qtests

@dataclass
class Known:
    kind: str           # "fail" or "skip"
    test: str           # meson name, e.g. qtest-x86_64/bios-tables-test
    subtest: str        # "" for the whole test
    why: str

    @property
    def name(self):
        return f"{self.test}:{self.subtest}" if self.subtest else self.test


def parse_known(path) -> List[Known]:
    known = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            kind, name, *why = line.split(None, 2)
            test, _, sub = name.partition(":")
            if kind not in ("fail", "skip"):
                raise ValueError(f"{path}:{n}: kind must be fail or skip")
            if kind == "fail" and not sub:
                raise ValueError(f"{path}:{n}: a 'fail' entry names a "
                                 "subtest: a whole test would hide crashes")
            if not why:
                raise ValueError(f"{path}:{n}: every entry says why")
            known.append(Known(kind, test, sub, why[0]))
    return known


def parse_series(path) -> Dict[str, int]:
    """{test: minimum number of subtests} for the series' own qtests."""
    out = {}
    with open(path) as f:
        for line in f:
            line = line.split("#", 1)[0].split()
            if line:
                out[line[0]] = int(line[1])
    return out


TAP = re.compile(r"^(ok|not ok) \d+ (\S+)(?: # (SKIP|TODO)\b ?(.*))?$", re.M)


def tap_subtests(stdout: str) -> List[Tuple[str, str, str, str]]:
    """[(ok|not ok, path, SKIP|TODO|'', reason)] of a glib test's TAP."""
    return [m.groups("") for m in TAP.finditer(stdout or "")]


def meson_name(full: str) -> str:
    # "qemu:qtest+qtest-x86_64 / qtest-x86_64/qom-test" -> "qtest-x86_64/qom-test"
    return full.split(" / ")[-1]


def evaluate_qtests(listed: List[str], results: Dict[str, dict],
                    known: List[Known], series: Dict[str, int], rc: int,
                    strict: bool):
    """Tally entries for a meson qtest run, from what meson listed, its
    log (name -> record) and its exit status."""
    out = []
    fail_subs = {(k.test, k.subtest) for k in known if k.kind == "fail"}
    skip_known = {(k.test, k.subtest): k for k in known if k.kind == "skip"}
    failed = False
    for name in listed:
        r = results.get(name)
        if r is None:
            failed = True
            out.append(("qtest", name, "fail",
                        "listed by meson but has no result: the run was "
                        "cut short"))
            continue
        res = r.get("result")
        subs = tap_subtests(r.get("stdout"))
        ran = 0
        for status, path, directive, reason in subs:
            if directive == "SKIP":
                if (name, path) in fail_subs:
                    continue        # skipped here, run alone later
                k = skip_known.get((name, path))
                if k:
                    out.append(("qtest", f"{name}:{path}", "skip", k.why))
                else:
                    out.append(("qtest", f"{name}:{path}",
                                "fail" if strict else "skip",
                                reason + (" (CI=true: skips fail)"
                                          if strict else "")))
                continue
            ran += 1
            if status == "not ok":
                failed = True
                out.append(("qtest", f"{name}:{path}", "fail", res))
        for (test, sub), k in skip_known.items():
            if test == name and sub and any(
                    p == sub and d != "SKIP" for _, p, d, _ in subs):
                out.append(("qtest", k.name, "fail",
                            "listed as skipping but it ran: remove the "
                            "stale entry"))
        if name in series and ran < series[name]:
            failed = True
            out.append(("qtest", name, "fail",
                        f"ran {ran} subtests, tests/qtest-series expects "
                        f"at least {series[name]}"))
        elif res in ("OK", "EXPECTEDFAIL"):
            if (name, "") in skip_known:
                out.append(("qtest", name, "fail",
                            "listed as skipping but it ran: remove the "
                            "stale entry"))
            else:
                out.append(("qtest", name, "pass", ""))
        elif res == "SKIP":
            k = skip_known.get((name, ""))
            if k:
                out.append(("qtest", name, "skip", k.why))
            else:
                out.append(("qtest", name, "fail" if strict else "skip",
                            "skipped itself" +
                            (" (CI=true: skips fail)" if strict else "")))
        else:
            failed = True
            last = [p for s, p, d, _ in subs if s == "ok"]
            why = f"{res} (exit status {r.get('returncode')})"
            if not any(s == "not ok" for s, *_ in subs):
                why += (f", after {last[-1]}" if last else
                        ", before any subtest")
            out.append(("qtest", name, "fail", why))
    for name in sorted(set(results) - set(listed)):
        out.append(("qtest", name, "fail", "ran but meson did not list it"))
    for name in series:
        if name not in listed:
            out.append(("qtest", name, "fail",
                        "a series qtest that meson does not list"))
    if rc != 0 and not failed:
        out.append(("qtest", "meson test", "fail",
                    f"meson exited {rc} but no test failed in its log"))
    if rc == 0 and failed:
        out.append(("qtest", "meson test", "fail",
                    "meson exited 0 but its log has failures"))
    return out


def evaluate_known_run(k: Known, record: Optional[dict]):
    """A known failing subtest, run alone: still failing, or stale?"""
    if record is None:
        return ("qtest", k.name, "fail", "its run left no result")
    subs = [s for s in tap_subtests(record.get("stdout"))
            if s[1] == k.subtest]
    if subs and subs[0][0] == "ok" and subs[0][2] != "SKIP":
        return ("qtest", k.name, "fail",
                "listed as failing but it passes: remove the stale entry "
                "from tests/qtest-known-failures")
    if not subs and record.get("returncode") == 0:
        return ("qtest", k.name, "fail",
                "no such subtest any more: remove the stale entry")
    how = ("timed out" if record.get("returncode") in (124, 137) or
           record.get("result") == "TIMEOUT" else "fails")
    return ("qtest", k.name, "known", f"{how}: {k.why}")


def read_meson_log(pattern) -> Optional[Dict[str, dict]]:
    found = glob.glob(pattern)
    if len(found) != 1:
        return None
    with open(found[0]) as f:
        return {meson_name(r["name"]): r
                for r in (json.loads(line) for line in f if line.strip())}


def meson_cmd(suite, logbase, extra=()):
    meson = os.path.join(QEMU_BUILD, "pyvenv", "bin", "meson")
    # Under TCG on 2 cores, migration-test's default set takes 6 to 8 of
    # its 8 minutes: twice the timeouts keeps a slow machine from failing
    # a test that works.
    return xvfb([meson, "test", "-C", QEMU_BUILD, "--suite", suite,
                 "--num-processes", str(os.cpu_count()), "--print-errorlogs",
                 "--timeout-multiplier", "2", "--no-rebuild", "--logbase", logbase,
                 "--wrapper", os.path.join(TOP, "scripts", "qtest-tcg.sh")] +
                list(extra))


def stage_qtest(t, suite):
    banner(f"QEMU qtests, meson suite {suite}")
    meson = os.path.join(QEMU_BUILD, "pyvenv", "bin", "meson")
    p = run([meson, "test", "-C", QEMU_BUILD, "--list", "--suite", suite],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    listed = [meson_name(line) for line in p.stdout.splitlines()
              if " / " in line]
    say(f"meson lists {len(listed)} tests in suite {suite}")
    if p.returncode or not listed:
        t.add("qtest", suite, "fail", "meson test --list failed")
        return
    if os.environ.get("QTEST_KVM") != "1":
        say("qtests run under TCG with /dev/kvm hidden "
            "(scripts/qtest-tcg.sh; QTEST_KVM=1 to keep it), on a private "
            "Xvfb for the GL ones")
    logs = os.path.join(QEMU_BUILD, "meson-logs")
    for f in glob.glob(os.path.join(logs, "qtest*.json")) + \
            glob.glob(os.path.join(logs, "known*.json")):
        os.unlink(f)
    start = time.monotonic()
    p = run(meson_cmd(suite, "qtest"))
    say(f"qtests took {time.monotonic() - start:.0f} s (meson exited "
        f"{p.returncode})")
    results = read_meson_log(os.path.join(logs, "qtest*.json"))
    if results is None:
        t.add("qtest", suite, "fail", f"meson test wrote no log in {logs}")
        return
    known = [k for k in parse_known(KNOWN_FILE)
             if k.test.split("/")[0] == suite]
    series = {k: v for k, v in parse_series(SERIES_FILE).items()
              if k.split("/")[0] == suite}
    for e in evaluate_qtests(listed, results, known, series, p.returncode,
                             strict_mode()):
        t.add(*e)
    # The known failing subtests, each alone: do they still fail?
    for k in (k for k in known if k.kind == "fail"):
        if k.test not in listed:
            t.add("qtest", k.name, "fail", "listed, but meson has no such test")
            continue
        say(f"known failure {k.name}: running it alone")
        base = "known-" + re.sub(r"\W", "_", k.name)
        run(meson_cmd(suite, base, ["--test-args", f"-p {k.subtest}",
                                    k.test]),
            env=dict(os.environ, QTEST_KNOWN_RUN="1",
                     QTEST_KNOWN_TIMEOUT=str(KNOWN_TIMEOUT)),
            stdout=subprocess.DEVNULL)
        log = read_meson_log(os.path.join(logs, base + "*.json"))
        t.add(*evaluate_known_run(k, (log or {}).get(k.test)))


# ---------------------------------------------------------------- stages

def stage_deps(t):
    banner("programs the harness runs (scripts/deps.sh --check)")
    p = run([os.path.join(TOP, "scripts", "deps.sh"), "--check"])
    t.add("deps", "deps.sh --check", "fail" if p.returncode else "pass",
          "run 'make deps'" if p.returncode else "")


def stage_harness(t):
    banner("harness self-tests (pytest)")
    pytest_stage(t, "harness", "tests/harness")


def stage_e2e(t):
    banner("end-to-end: a guest suspends to RAM with rtcwake")
    steps = [["tree.sh", "linux"], ["build-linux.sh"], ["build-initramfs.sh"]]
    for step in steps:
        if run([os.path.join(TOP, "scripts", step[0])] + step[1:]).returncode:
            t.add("e2e", "guest build: " + " ".join(step), "fail")
            return
    # -s: each guest run reports its steps as it goes
    pytest_stage(t, "e2e", "tests/e2e", xvfb([]), ["-s"])
    say("results and pictures: build/e2e/results.md")


def stage_spec(t):
    banner("virtio spec series: applies, references, conformance, numbers")
    for c in ("virtio-spec", "qemu", "linux"):
        if run([os.path.join(TOP, "scripts", "tree.sh"), c]).returncode:
            t.add("spec", f"tree {c}", "fail")
            return
    pytest_stage(t, "spec", "tests/spec")
    # The PDF, with the spec's own scripts: TeX Live is 'deps.sh spec-pdf'
    # (which 'make check' installs); about a minute of xelatex
    if not shutil.which("xelatex"):
        t.add("spec", "spec-pdf", "fail" if strict_mode() else "skip",
              "no xelatex: 'scripts/deps.sh spec-pdf' installs TeX Live")
        return
    p = run([os.path.join(TOP, "scripts", "spec-pdf.sh")])
    t.add("spec", "spec-pdf", "fail" if p.returncode else "pass")


def stage_checkpatch(t):
    banner("checkpatch.pl on patches/qemu and patches/linux")
    p = run([os.path.join(TOP, "scripts", "checkpatch.sh")],
            stdout=subprocess.PIPE, text=True)
    print(p.stdout, end="")
    n = 0
    for line in p.stdout.splitlines():
        f = line.split()
        if len(f) == 4 and f[0] == "checkpatch" and f[2] in ("ok", "FAIL"):
            n += 1
            t.add("checkpatch", f"{f[1]}/{f[3]}",
                  "pass" if f[2] == "ok" else "fail")
    if p.returncode and not any(e[0] == "checkpatch" and e[2] == "fail"
                                for e in t.entries):
        t.add("checkpatch", "checkpatch.sh", "fail", f"exit {p.returncode}")
    if not n:
        t.add("checkpatch", "checkpatch.sh", "fail", "checked no patch")


def stage_build(t):
    banner("build QEMU (patched)")
    ok = (run([os.path.join(TOP, "scripts", "tree.sh"), "qemu"]).returncode == 0
          and run([os.path.join(TOP, "scripts", "build-qemu.sh")]).returncode == 0)
    t.add("build", "qemu-system-x86_64", "pass" if ok else "fail")
    return ok


def summary(t):
    banner("summary")
    known, skipped, failed = t.of("known"), t.of("skip"), t.of("fail")
    if known:
        print(f"KNOWN ({len(known)}): fail on the pristine base here as well "
              "(tests/qtest-known-failures), ran and still fail:")
        for stage, name, _, why in known:
            print(f"  {name}: {why}")
    if skipped:
        print(f"SKIPPED ({len(skipped)}): these did not run; nothing was "
              "checked by them:")
        for stage, name, _, why in skipped:
            print(f"  {stage}: {name}: {why}")
    if failed:
        print(f"FAILED ({len(failed)}):")
        for stage, name, _, why in failed:
            print(f"  {stage}: {name}" + (f": {why}" if why else ""))
    if t.times:
        print("time: " + ", ".join(f"{s} {d / 60:.1f} min"
                                   for s, d in t.times))
    print(f"strict mode (CI=true): {'on' if strict_mode() else 'off'}")
    passed = len(t.of("pass"))
    print(f"{passed} passed, {len(failed)} failed, {len(skipped)} skipped, "
          f"{len(known)} known", flush=True)
    return 1 if failed or not passed else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("stages", nargs="*", metavar="STAGE",
                    help=", ".join(STAGES) + " or all (default)")
    ap.add_argument("--suite", default=os.environ.get("QTEST_SUITE",
                                                      "qtest-x86_64"))
    args = ap.parse_args()
    stages = set(args.stages or ["all"])
    unknown = stages - set(STAGES) - {"all"}
    if unknown:
        ap.error(f"unknown stage: {', '.join(sorted(unknown))}")
    if "all" in stages:
        stages = set(STAGES)
    say("strict mode " + ("ON (CI=true): a skip that "
                          "tests/qtest-known-failures does not list fails"
                          if strict_mode() else
                          "off (CI is not 'true'): skips are reported, "
                          "not counted as failures"))
    os.makedirs(RESULTS, exist_ok=True)
    t = Tally()

    def timed(name, fn, *a):
        start = time.monotonic()
        r = fn(*a)
        t.times.append((name, time.monotonic() - start))
        return r

    for name, fn in (("deps", stage_deps), ("harness", stage_harness),
                     ("checkpatch", stage_checkpatch), ("spec", stage_spec)):
        if name in stages:
            timed(name, fn, t)
    built = False
    if stages & {"qtest", "e2e"}:
        built = timed("build", stage_build, t)
    if built and "qtest" in stages:
        timed("qtest", stage_qtest, t, args.suite)
    if built and "e2e" in stages:
        timed("e2e", stage_e2e, t)
    return summary(t)


if __name__ == "__main__":
    sys.exit(main())

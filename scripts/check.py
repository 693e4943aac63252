#!/usr/bin/python3
"""Run every test the project has and print one summary.

Stages, in order: the programs the harness needs (deps.sh --check); the
harness's own pytest suite; checkpatch on every QEMU and Linux patch; the
virtio spec series (tests/spec) and its PDF; then, for each base (pins/:
the primary one, then the Debian 13 backport), the QEMU build, QEMU's
qtests on it (every x86_64 qtest, or only the series' own: QTEST_SCOPE in
the pins) and the end-to-end tests, where a guest running the patched
kernel suspends to RAM with rtcwake (tests/e2e; E2E_MATRIX in the pins);
and where the pins' EVIDENCE says so (the primary base), the series'
qtests under ASan and UBSan (scripts/check-asan.sh), then side by side
a bounded generic-fuzz run (scripts/fuzz.sh, FUZZ_SECS=180) and a short
soak (scripts/soak.sh, CYCLES=20).  QEMU is built for what the stages
run (build-qemu.sh --suite), and the end-to-end cases run two at a time
(E2E_JOBS).
The last line is 'N passed, N failed, N skipped, N known'.

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
import fnmatch
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
sys.path.insert(0, TOP)
from harness import bases  # noqa: E402

BUILD = os.path.join(TOP, "build")
RESULTS = os.path.join(BUILD, "results")
SERIES_FILE = os.path.join(TOP, "tests", "qtest-series")
STAGES = ("deps", "harness", "checkpatch", "spec", "qtest", "e2e", "asan",
          "fuzz", "soak")
# what 'make check' runs, in this order
BASES = ("primary", "debian13")


def known_file(base):
    return os.path.join(TOP, "tests", "qtest-known-failures", base)
# A known failing subtest that neither passes nor fails within this many
# seconds still fails (cdrom-test's waits 600 s for a boot signature).
KNOWN_TIMEOUT = 120
# What 'make check' runs of the long evidence targets (make fuzz and make
# soak run FUZZ_SECS=600 and CYCLES=100)
CHECK_FUZZ_SECS = 180
CHECK_SOAK_CYCLES = 20
# One end-to-end test (a guest's boot, its sleep cycles and checks) that
# has not ended after this many seconds fails
E2E_TIMEOUT = 600


def strict_mode() -> bool:
    return os.environ.get("CI") == "true"


class Tally:
    def __init__(self):
        self.entries: List[Tuple[str, str, str, str]] = []
        self.times: List[Tuple[str, float]] = []
        # e2e cases run a second time (harness/s3case.py run_judged)
        self.retried: List[str] = []

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
            sk = case.find("skipped")
            # pytest.xfail(): a known problem the base's pins list
            kind = "known:" if sk.get("type") == "pytest.xfail" else "skip:"
            cases[nodeid] = kind + sk.get("message", "")
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
        elif res.startswith("known:"):
            out.append((stage, nodeid, "known", res[6:]))
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


def pytest_collect(tests, env=None) -> Tuple[List[str], str]:
    p = run([sys.executable, "-m", "pytest", "--collect-only", "-q", tests],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env=env)
    ids = [line.strip() for line in p.stdout.splitlines()
           if "::" in line and not line.startswith(("ERROR", "FAILED"))]
    return ids, p.stdout


def pytest_stage(t, stage, tests, wrapper=(), extra=(), env=None):
    safe = re.sub(r"[^\w-]", "_", stage)
    xml = os.path.join(RESULTS, f"{safe}.xml")
    if os.path.exists(xml):
        os.unlink(xml)
    env = dict(env or os.environ)
    if strict_mode() and env.pop("PYTEST_ADDOPTS", None):
        say("PYTEST_ADDOPTS ignored (CI=true): every test runs")
    collected, text = pytest_collect(tests, env)
    say(f"{len(collected)} tests collected in {tests}")
    if not collected:
        print(text)
    p = run(list(wrapper) + [sys.executable, "-m", "pytest", "-v", "-rs",
                             tests, f"--junitxml={xml}"] + list(extra),
            env=env)
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
    # ("seabios", "1.16.2-*"): the entry holds only where that Debian
    # package is installed in a version matching the pattern
    when: Optional[Tuple[str, str]] = None

    @property
    def name(self):
        return f"{self.test}:{self.subtest}" if self.subtest else self.test


def package_version(package) -> Optional[str]:
    """The installed version of a Debian package, None if not installed."""
    p = subprocess.run(["dpkg-query", "-W", "-f", "${db:Status-Status} "
                        "${Version}\n", package], capture_output=True,
                       text=True)
    # one line an architecture it is known for: the first installed one
    for line in p.stdout.splitlines() if p.returncode == 0 else []:
        status, _, version = line.partition(" ")
        if status == "installed":
            return version
    return None


def parse_known(path, version_of=package_version,
                inactive: Optional[List[str]] = None) -> List[Known]:
    """The entries of a known-failures file that hold on this machine.

    An entry may be conditional: 'KIND TEST[:SUBTEST] when PKG=PATTERN WHY'
    holds only where the Debian package PKG is installed in a version that
    matches PATTERN (fnmatch, the whole version: epoch and Debian revision
    included), e.g. a firmware-dependent failure.  The entries that do not
    hold here are appended to @inactive, each with the reason."""
    known = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            kind, name, *rest = line.split(None, 2)
            test, _, sub = name.partition(":")
            when = None
            if rest and rest[0].split(None, 1)[0] == "when":
                _, *cond = rest[0].split(None, 2)
                pkg, eq, pattern = (cond[0] if cond else "").partition("=")
                if not (pkg and eq and pattern):
                    raise ValueError(f"{path}:{n}: 'when' must be followed "
                                     "by PACKAGE=PATTERN (a why may not "
                                     "start with the word 'when')")
                when = (pkg, pattern)
                rest = cond[1:]
            if kind not in ("fail", "skip"):
                raise ValueError(f"{path}:{n}: kind must be fail or skip")
            if kind == "fail" and not sub:
                raise ValueError(f"{path}:{n}: a 'fail' entry names a "
                                 "subtest: a whole test would hide crashes")
            if not rest:
                raise ValueError(f"{path}:{n}: every entry says why")
            if when:
                version = version_of(when[0])
                if version is None or \
                        not fnmatch.fnmatchcase(version, when[1]):
                    if inactive is not None:
                        inactive.append(
                            f"{name}: {when[0]} "
                            f"{version or 'not installed'} does not match "
                            f"{when[1]}")
                    continue
            known.append(Known(kind, test, sub, rest[0], when))
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
    if subs and subs[0][0] == "ok":
        return ("qtest", k.name, "fail",
                "skipped itself when run alone: nothing showed it fails")
    if not subs and record.get("returncode") == 0:
        return ("qtest", k.name, "fail",
                "no such subtest any more: remove the stale entry")
    if record.get("returncode") in (124, 137) or \
            record.get("result") == "TIMEOUT":
        return ("qtest", k.name, "known", f"timed out: {k.why}")
    # failed: its own "not ok", or glib's abort on a failed assertion
    # ("Bail out!"); a crash that shows neither proves nothing
    if subs or "Bail out!" in (record.get("stdout") or ""):
        return ("qtest", k.name, "known", f"fails: {k.why}")
    return ("qtest", k.name, "fail",
            f"exited {record.get('returncode')} without failing the "
            "subtest (it may never have started)")


def read_meson_log(pattern) -> Optional[Dict[str, dict]]:
    """The records of every meson JSON log matching pattern (one per
    'meson test' call), by test name; None when there is none."""
    found = sorted(glob.glob(pattern))
    if not found:
        return None
    records: Dict[str, dict] = {}
    for path in found:
        with open(path) as f:
            for r in (json.loads(line) for line in f if line.strip()):
                records[meson_name(r["name"])] = r
    return records


def meson_cmd(qemu_build, suite, logbase, extra=()):
    meson = os.path.join(qemu_build, "pyvenv", "bin", "meson")
    # Under TCG on 2 cores, migration-test's default set takes 6 to 8 of
    # its 8 minutes: twice the timeouts keeps a slow machine from failing
    # a test that works.
    return xvfb([meson, "test", "-C", qemu_build, "--suite", suite,
                 "--num-processes", str(os.cpu_count()), "--print-errorlogs",
                 "--timeout-multiplier", "2", "--no-rebuild", "--logbase", logbase,
                 "--wrapper", os.path.join(TOP, "scripts", "qtest-tcg.sh")] +
                list(extra))


def stage_qtest(t, base, suite):
    banner(f"QEMU qtests on {base.title}, meson suite {suite}")
    qemu_build = base.qemu_build
    env = dict(os.environ, BASE=base.name)
    stage = f"qtest[{base.name}]"
    meson = os.path.join(qemu_build, "pyvenv", "bin", "meson")
    p = run([meson, "test", "-C", qemu_build, "--list", "--suite", suite],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    listed = [meson_name(line) for line in p.stdout.splitlines()
              if " / " in line]
    if p.returncode or not listed:
        t.add(stage, suite, "fail", "meson test --list failed")
        return
    series = {k: v for k, v in parse_series(SERIES_FILE).items()
              if k.split("/")[0] == suite}
    scope = base.qtest_scope
    if scope == "series":
        # this base runs only the series' own qtests
        listed = [n for n in listed if n in series]
    say(f"{len(listed)} tests in suite {suite} to run (QTEST_SCOPE={scope})")
    if os.environ.get("QTEST_KVM") != "1":
        say("qtests run under TCG with /dev/kvm hidden "
            "(scripts/qtest-tcg.sh; QTEST_KVM=1 to keep it), on a private "
            "Xvfb for the GL ones")
    logs = os.path.join(qemu_build, "meson-logs")
    for f in glob.glob(os.path.join(logs, "qtest*.json")) + \
            glob.glob(os.path.join(logs, "known*.json")):
        os.unlink(f)
    start = time.monotonic()
    # The series' own qtests run their whole set, as upstream's 'make check
    # SPEED=slow' does (meson's "slow" setup: G_TEST_SLOW); their default
    # set, what upstream's plain 'make check' runs, is a few seconds' worth
    slow = [n for n in listed if n in series]
    quick = [n for n in listed if n not in series]
    rc = 0
    if quick:
        p = run(meson_cmd(qemu_build, suite, "qtest", quick), env=env)
        rc = rc or p.returncode
    if slow:
        p = run(meson_cmd(qemu_build, suite, "qtest-slow",
                          ["--setup", "slow"] + slow), env=env)
        rc = rc or p.returncode
    say(f"qtests took {time.monotonic() - start:.0f} s (meson exited "
        f"{rc})")
    results = read_meson_log(os.path.join(logs, "qtest*.json"))
    if results is None:
        t.add(stage, suite, "fail", f"meson test wrote no log in {logs}")
        return
    inactive: List[str] = []
    known = [k for k in parse_known(known_file(base.name),
                                    inactive=inactive)
             if k.test.split("/")[0] == suite and k.test in listed]
    for entry in inactive:
        say(f"known-failure entry not for this machine (the test must "
            f"pass): {entry}")
    for e in evaluate_qtests(listed, results, known, series, rc,
                             strict_mode()):
        t.add(stage, *e[1:])
    # The known failing subtests, each alone: do they still fail?
    for k in (k for k in known if k.kind == "fail"):
        say(f"known failure {k.name}: running it alone")
        kbase = "known-" + re.sub(r"\W", "_", k.name)
        run(meson_cmd(qemu_build, suite, kbase,
                      ["--test-args", f"-p {k.subtest}", k.test]),
            env=dict(env, QTEST_KNOWN_RUN="1",
                     QTEST_KNOWN_TIMEOUT=str(KNOWN_TIMEOUT)),
            stdout=subprocess.DEVNULL)
        log = read_meson_log(os.path.join(logs, kbase + "*.json"))
        t.add(stage, *evaluate_known_run(k, (log or {}).get(k.test))[1:])


# ---------------------------------------------------------------- stages

def stage_deps(t):
    banner("programs the harness runs (scripts/deps.sh --check)")
    p = run([os.path.join(TOP, "scripts", "deps.sh"), "--check"])
    t.add("deps", "deps.sh --check", "fail" if p.returncode else "pass",
          "run 'make deps'" if p.returncode else "")


def stage_harness(t):
    banner("harness self-tests (pytest)")
    pytest_stage(t, "harness", "tests/harness")


def stage_e2e(t, base):
    banner(f"end-to-end on {base.title}: a guest suspends to RAM with "
           "rtcwake")
    env = dict(os.environ, BASE=base.name)
    # the full matrix has a guest without the series: its kernel too
    pristine = "1" if base.e2e_matrix == "full" else ""
    if run([os.path.join(TOP, "scripts", "build-guest.sh")],
           env=dict(env, PRISTINE=pristine)).returncode:
        t.add(f"e2e[{base.name}]", "guest build", "fail")
        return
    # the Debian guest (tests/e2e/test_debian_guest.py), where it runs:
    # made in the background since the run began (debian_guest_start())
    if base.e2e_matrix == "full" and debian_guest_wait(env):
        t.add(f"e2e[{base.name}]", "Debian guest build", "fail")
        return
    # A test that hangs (a guest that never wakes up) fails after
    # E2E_TIMEOUT s instead of holding up the run (pytest-timeout)
    retried = os.path.join(TOP, "build", f"e2e-{base.name}", "retried.txt")
    if os.path.exists(retried):
        os.unlink(retried)
    # Two guests at a time (pytest-xdist, each worker on an X server of
    # its own: tests/e2e/conftest.py): a guest under TCG keeps about one
    # core busy.  E2E_JOBS=1 runs them one after the other, and then -s
    # shows each guest's steps as it goes.
    jobs = os.environ.get("E2E_JOBS", str(min(2, os.cpu_count() or 1)))
    if not jobs.isdigit() or int(jobs) < 1:
        t.add(f"e2e[{base.name}]", "E2E_JOBS", "fail",
              f"not a number of jobs: {jobs!r}")
        return
    par = ["-n", jobs] if int(jobs) > 1 else ["-s"]
    pytest_stage(t, f"e2e[{base.name}]", "tests/e2e", xvfb([]),
                 par + [f"--timeout={E2E_TIMEOUT}"], env=env)
    if os.path.exists(retried):
        with open(retried) as f:
            t.retried += [f"e2e[{base.name}]: {line.strip()}" for line in f]
    say(f"results and pictures: build/e2e-{base.name}/results.md")


# The Debian guest's debootstrap spends most of its minutes waiting for
# the mirror and the disk, not the CPU: it runs while QEMU and Linux
# build, and stage_e2e waits for it.  Its output goes to a log, printed
# when it is waited for.
DEBIAN_GUEST = {}


def debian_guest_start(env):
    log = os.path.join(RESULTS, "debian-guest-build.log")
    say("building the Debian guest in the background (log: "
        f"{os.path.relpath(log, TOP)})")
    f = open(log, "w")
    DEBIAN_GUEST["proc"] = subprocess.Popen(
        [os.path.join(TOP, "scripts", "build-debian-guest.sh")],
        stdout=f, stderr=subprocess.STDOUT, env=env)
    DEBIAN_GUEST["log"] = log
    f.close()


def debian_guest_wait(env) -> int:
    """The background build's exit status (or a build now, if none ran)."""
    proc = DEBIAN_GUEST.pop("proc", None)
    if proc is None:
        return run([os.path.join(TOP, "scripts", "build-debian-guest.sh")],
                   env=env).returncode
    say("waiting for the Debian guest built in the background")
    rc = proc.wait()
    with open(DEBIAN_GUEST["log"]) as f:
        print(f.read(), end="", flush=True)
    return rc


def stage_spec(t):
    banner("virtio spec series: applies, references, conformance, numbers")
    for base in BASES:
        for c in ("virtio-spec", "qemu", "linux"):
            if run([os.path.join(TOP, "scripts", "tree.sh"), c],
                   env=dict(os.environ, BASE=base)).returncode:
                t.add("spec", f"tree {c} ({base})", "fail")
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
    banner("checkpatch.pl on every QEMU and Linux series in patches/")
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


def stage_asan(t, base):
    banner(f"the series' qtests under ASan and UBSan, {base.title}")
    env = dict(os.environ, BASE=base.name)
    p = run([os.path.join(TOP, "scripts", "check-asan.sh")], env=env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    print(p.stdout, end="")
    stage, n = f"asan[{base.name}]", 0
    for line in p.stdout.splitlines():
        m = re.match(r"check-asan: (\S+) \.\.\. (ok|FAIL)", line)
        if m:
            n += 1
            t.add(stage, m.group(1), "pass" if m.group(2) == "ok" else "fail")
        m = re.match(r"check-asan: not run: (.*)", line)
        if m:
            t.add(stage, m.group(1), "fail" if strict_mode() else "skip",
                  "not run")
    if p.returncode and not any(e[0] == stage and e[2] == "fail"
                                for e in t.entries):
        t.add(stage, "check-asan.sh", "fail", f"exit {p.returncode}")
    if not n:
        t.add(stage, "check-asan.sh", "fail", "ran no test")


def stage_script(t, base, stage, script, env, what):
    """A script whose exit status is its verdict."""
    banner(f"{what}, {base.title}")
    p = run([os.path.join(TOP, "scripts", script)],
            env=dict(os.environ, BASE=base.name, **env))
    t.add(f"{stage}[{base.name}]", what, "fail" if p.returncode else "pass",
          f"exit {p.returncode}" if p.returncode else "")


def at_least(var, default):
    """The environment's var, but never less than the default with
    CI=true: a setting must not shrink the gate."""
    v = int(os.environ.get(var, default))
    return str(max(v, default) if strict_mode() else v)


def stage_fuzz(t, base):
    secs = at_least("FUZZ_SECS", CHECK_FUZZ_SECS)
    stage_script(t, base, "fuzz", "fuzz.sh", {"FUZZ_SECS": secs},
                 f"generic-fuzz-virtio-gpu-freeze for {secs} s")


def stage_fuzz_and_soak(t, base):
    """The fuzzer (one process, for a fixed time) and the soak (a guest
    under TCG, RSS and fds measured, not times) each keep about one core
    busy: they run side by side.  The fuzzer's output goes to a log,
    printed once the soak is done."""
    secs = at_least("FUZZ_SECS", CHECK_FUZZ_SECS)
    what = f"generic-fuzz-virtio-gpu-freeze for {secs} s"
    log = os.path.join(RESULTS, f"fuzz-{base.name}.log")
    banner(f"{what}, {base.title}: in the background (log: "
           f"{os.path.relpath(log, TOP)})")
    with open(log, "w") as f:
        fuzz = subprocess.Popen(
            [os.path.join(TOP, "scripts", "fuzz.sh")],
            env=dict(os.environ, BASE=base.name, FUZZ_SECS=secs),
            stdout=f, stderr=subprocess.STDOUT, cwd=TOP)
    try:
        stage_soak(t, base)
    finally:
        rc = fuzz.wait()
    banner(f"{what}, {base.title}: its log")
    with open(log) as f:
        print(f.read(), end="", flush=True)
    t.add(f"fuzz[{base.name}]", what, "fail" if rc else "pass",
          f"exit {rc}" if rc else "")


def stage_soak(t, base):
    cycles = at_least("CYCLES", CHECK_SOAK_CYCLES)
    stage_script(t, base, "soak", "soak.sh", {"CYCLES": cycles},
                 f"soak, {cycles} S3 cycles")


def build_targets(base, suite) -> List[str]:
    """What the qtest and e2e stages need built, not ninja's 'all' (unit
    tests, tools, test programs nothing here runs): for a base that runs
    the whole qtest suite, QEMU and every test of the suite
    (build-qemu.sh --suite: 1,900 of 2,625 steps on the primary base);
    for one that runs only the series' own qtests, QEMU and those (1,640
    of 2,558 steps on the backport)."""
    if base.qtest_scope != "series":
        return ["--suite", suite, "qemu-system-x86_64"]
    return ["qemu-system-x86_64"] + \
        [f"tests/qtest/{name.split('/', 1)[1]}"
         for name in parse_series(SERIES_FILE)]


def stage_build(t, base, suite):
    banner(f"build QEMU for {base.title}")
    env = dict(os.environ, BASE=base.name)
    ok = (run([os.path.join(TOP, "scripts", "tree.sh"), "qemu"],
              env=env).returncode == 0 and
          run([os.path.join(TOP, "scripts", "build-qemu.sh")] +
              build_targets(base, suite), env=env).returncode == 0)
    t.add(f"build[{base.name}]", "qemu-system-x86_64",
          "pass" if ok else "fail")
    return ok


def summary(t):
    banner("summary")
    known, skipped, failed = t.of("known"), t.of("skip"), t.of("fail")
    if known:
        print(f"KNOWN ({len(known)}): ran and still show a listed known "
              "problem (tests/qtest-known-failures: fails on the pristine "
              "base too; E2E_KNOWN in pins/: README, Known problems):")
        for stage, name, _, why in known:
            print(f"  {stage}: {name}: {why}")
    if skipped:
        print(f"SKIPPED ({len(skipped)}): these did not run; nothing was "
              "checked by them:")
        for stage, name, _, why in skipped:
            print(f"  {stage}: {name}: {why}")
    if t.retried:
        print(f"RETRIED ({len(t.retried)}): QEMU's SDL window stayed black "
              "after resume, the rest as expected; run again (README, "
              "Known problems), the second run counts:")
        for line in t.retried:
            print(f"  {line}")
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
    ap.add_argument("--base", action="append", choices=bases.names(),
                    help="the base(s) to build and run qtest and e2e on "
                    f"(default: {', '.join(BASES)}; BASE=... picks one)")
    ap.add_argument("--known-fails", metavar="BASE",
                    choices=bases.names(),
                    help="print the 'fail' entries of BASE's known-failures "
                    "list that hold on this machine (TEST:SUBTEST, one a "
                    "line) and exit")
    args = ap.parse_args()
    if args.known_fails:
        # stdout: for qtest-tcg.sh and check-known.sh; the qtest stage
        # reports the entries that do not hold here
        for k in parse_known(known_file(args.known_fails)):
            if k.kind == "fail":
                print(k.name)
        return 0
    stages = set(args.stages or ["all"])
    unknown = stages - set(STAGES) - {"all"}
    if unknown:
        ap.error(f"unknown stage: {', '.join(sorted(unknown))}")
    if "all" in stages:
        stages = set(STAGES)
    on = args.base or ([os.environ["BASE"]] if os.environ.get("BASE")
                       else list(BASES))
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

    if "deps" in stages:
        timed("deps", stage_deps, t)
    if "e2e" in stages:
        full = [n for n in on if bases.load(n).e2e_matrix == "full"]
        if full:
            debian_guest_start(dict(os.environ, BASE=full[0]))
    for name, fn in (("harness", stage_harness),
                     ("checkpatch", stage_checkpatch), ("spec", stage_spec)):
        if name in stages:
            timed(name, fn, t)
    for name in on:
        base = bases.load(name)
        if not stages & {"qtest", "e2e", "asan", "fuzz", "soak"}:
            break
        if stages & {"qtest", "e2e"} and \
                not timed(f"build[{name}]", stage_build, t, base,
                           args.suite):
            continue
        if "qtest" in stages:
            timed(f"qtest[{name}]", stage_qtest, t, base, args.suite)
        if "e2e" in stages:
            timed(f"e2e[{name}]", stage_e2e, t, base)
        evidence = [e for e in ("asan", "fuzz", "soak")
                    if e in stages and e in base.evidence]
        if "asan" in evidence:
            timed(f"asan[{name}]", stage_asan, t, base)
        if "fuzz" in evidence and "soak" in evidence:
            timed(f"fuzz+soak[{name}]", stage_fuzz_and_soak, t, base)
        elif "fuzz" in evidence:
            timed(f"fuzz[{name}]", stage_fuzz, t, base)
        elif "soak" in evidence:
            timed(f"soak[{name}]", stage_soak, t, base)
    if "proc" in DEBIAN_GUEST:
        # no e2e stage waited for it (a build failed): nothing is left
        # running behind the summary
        DEBIAN_GUEST["proc"].wait()
    return summary(t)


if __name__ == "__main__":
    sys.exit(main())

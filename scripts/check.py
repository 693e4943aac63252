#!/usr/bin/python3
"""Run every test the project has and print one summary.

Stages, in order: the harness's own pytest suite; checkpatch on every QEMU
and Linux patch; the virtio spec series (tests/spec: it applies, its
references resolve, its normative sections are in the conformance
clauses, and the spec, QEMU and Linux agree on every number); the QEMU
build; QEMU's qtests for x86_64 on the patched
build; the end-to-end tests, where a guest running the patched kernel
suspends to RAM with rtcwake (tests/e2e: the kernel and the initramfs are
built first).  Each stage counts its tests; the last line is
'N passed, N failed' (with ', N skipped' when anything was skipped).
Skips are listed loudly.

A qtest that fails on stock QEMU 10.0.13 on these machines as well is listed
in tests/qtest-known-failures with the reason; its failure is reported as
such and not counted as a failure of the series.  Any other failure counts.
With CI=true a skipped qtest or subtest counts as a failure too, unless that
file lists it: CI has everything the tests need (Xvfb for GL included).
"""

import argparse
import glob
import json
import re
import os
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(TOP, "build")
QEMU_BUILD = os.path.join(BUILD, "qemu-build")
RESULTS = os.path.join(BUILD, "results")


class Tally:
    def __init__(self):
        self.passed = []
        self.failed = []
        self.skipped = []
        self.known = []

    def add(self, stage, name, result, why=""):
        entry = (stage, name, why)
        {"pass": self.passed, "fail": self.failed, "skip": self.skipped,
         "known": self.known}[result].append(entry)


def say(msg):
    print(f"check: {msg}", flush=True)


def banner(msg):
    print(f"\n===== {msg} =====", flush=True)


def run(cmd, **kw):
    say("$ " + " ".join(cmd))
    return subprocess.run(cmd, cwd=kw.pop("cwd", TOP), **kw)


def pytest_stage(t, stage, tests, wrapper=(), extra=()):
    xml = os.path.join(RESULTS, f"{stage}.xml")
    if os.path.exists(xml):
        os.unlink(xml)
    run(list(wrapper) + [sys.executable, "-m", "pytest", "-v", "-rs", tests,
                         f"--junitxml={xml}"] + list(extra))
    if not os.path.exists(xml):
        t.add(stage, "pytest", "fail", "pytest did not run")
        return
    strict = os.environ.get("CI") == "true"
    for case in ET.parse(xml).iter("testcase"):
        name = f"{case.get('classname')}.{case.get('name')}"
        if case.find("failure") is not None or case.find("error") is not None:
            t.add(stage, name, "fail")
        elif case.find("skipped") is not None:
            why = case.find("skipped").get("message", "")
            t.add(stage, name, "fail" if strict else "skip", why)
        else:
            t.add(stage, name, "pass")


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
    wrapper = []
    if not os.environ.get("DISPLAY"):
        say("starting Xvfb for QEMU's SDL gl=on display")
        wrapper = ["xvfb-run", "-a", "-s", "-screen 0 1280x1024x24"]
    start = time.monotonic()
    # -s: each guest run reports its steps as it goes
    pytest_stage(t, "e2e", "tests/e2e", wrapper, ["-s"])
    say(f"end-to-end tests took {time.monotonic() - start:.0f} s")
    # the tests print the table themselves
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
        strict = os.environ.get("CI") == "true"
        t.add("spec", "spec-pdf", "fail" if strict else "skip",
              "no xelatex: 'scripts/deps.sh spec-pdf' installs TeX Live")
        return
    p = run([os.path.join(TOP, "scripts", "spec-pdf.sh")])
    t.add("spec", "spec-pdf", "fail" if p.returncode else "pass")


def stage_checkpatch(t):
    banner("checkpatch.pl on patches/qemu and patches/linux")
    p = run([os.path.join(TOP, "scripts", "checkpatch.sh")],
            stdout=subprocess.PIPE, text=True)
    print(p.stdout, end="")
    for line in p.stdout.splitlines():
        f = line.split()
        if len(f) == 4 and f[0] == "checkpatch" and f[2] in ("ok", "FAIL"):
            t.add("checkpatch", f"{f[1]}/{f[3]}", "pass" if f[2] == "ok" else "fail")
    if p.returncode and not t.failed:
        t.add("checkpatch", "checkpatch.sh", "fail", f"exit {p.returncode}")


def stage_build(t):
    banner("build QEMU (patched)")
    ok = (run([os.path.join(TOP, "scripts", "tree.sh"), "qemu"]).returncode == 0
          and run([os.path.join(TOP, "scripts", "build-qemu.sh")]).returncode == 0)
    t.add("build", "qemu-system-x86_64", "pass" if ok else "fail")
    return ok


def known_failures():
    known = {}
    with open(os.path.join(TOP, "tests", "qtest-known-failures")) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if line:
                name, _, why = line.partition(" ")
                known[name] = why.strip()
    return known


def stage_qtest(t, suite):
    banner(f"QEMU qtests, meson suite {suite}")
    meson = os.path.join(QEMU_BUILD, "pyvenv", "bin", "meson")
    # Under TCG on 2 cores, migration-test's default set takes 6 to 8 of
    # its 8 minutes: twice the timeouts keeps a slow machine from failing
    # a test that works.
    cmd = [meson, "test", "-C", QEMU_BUILD, "--suite", suite,
           "--num-processes", str(os.cpu_count()), "--print-errorlogs",
           "--timeout-multiplier", "2", "--logbase", "qtest",
           "--wrapper", os.path.join(TOP, "scripts", "qtest-tcg.sh")]
    if os.environ.get("QTEST_KVM") != "1":
        say("qtests run under TCG with /dev/kvm hidden "
            "(scripts/qtest-tcg.sh; QTEST_KVM=1 to keep it)")
    if not os.environ.get("DISPLAY"):
        # The GL qtests run QEMU with -display sdl,gl=on (Mesa llvmpipe)
        say("starting Xvfb for the GL qtests")
        cmd = ["xvfb-run", "-a", "-s", "-screen 0 1280x800x24"] + cmd
    # meson names the log after --logbase and the wrapper
    logs = os.path.join(QEMU_BUILD, "meson-logs")
    for f in glob.glob(os.path.join(logs, "qtest*.json")):
        os.unlink(f)
    start = time.monotonic()
    run(cmd)
    say(f"qtests took {time.monotonic() - start:.0f} s")
    found = glob.glob(os.path.join(logs, "qtest*.json"))
    if len(found) != 1:
        t.add("qtest", suite, "fail", f"meson test wrote no log in {logs}")
        return
    log = found[0]
    known = known_failures()
    strict = os.environ.get("CI") == "true"
    with open(log) as f:
        results = [json.loads(line) for line in f if line.strip()]
    for r in results:
        # "qemu:qtest+qtest-x86_64 / qtest-x86_64/qom-test" -> "qtest-x86_64/qom-test"
        name = r["name"].split(" / ")[-1]
        res = r["result"]
        if res in ("OK", "EXPECTEDFAIL"):
            t.add("qtest", name, "pass")
            if name in known:
                say(f"NOTE: {name} passed but is listed in "
                    "tests/qtest-known-failures: remove it from there")
        elif res == "SKIP" and name in known:
            t.add("qtest", name, "skip", known[name])
        elif res == "SKIP":
            t.add("qtest", name, "fail" if strict else "skip",
                  "skipped itself" + (" (CI runs everything)" if strict else ""))
        elif name in known:
            t.add("qtest", name, "known", known[name])
        else:
            t.add("qtest", name, "fail", res)
        # Subtests a test skipped while others ran (TAP "# SKIP")
        for m in re.finditer(r"^ok \d+ (\S+) # SKIP ?(.*)$",
                             r.get("stdout") or "", re.M):
            sub = f"{name}:{m.group(1)}"
            if strict and sub not in known:
                t.add("qtest", sub, "fail",
                      f"skipped in CI, which can run it: {m.group(2)}")
            else:
                t.add("qtest", sub, "skip", m.group(2))


def summary(t):
    banner("summary")
    if t.known:
        print("KNOWN FAILURES, on stock QEMU 10.0.13 here as well "
              "(tests/qtest-known-failures), not counted:")
        for stage, name, why in t.known:
            print(f"  {name}: {why}")
    if t.skipped:
        print(f"SKIPPED ({len(t.skipped)}): these did not run; "
              "nothing was checked by them:")
        for stage, name, why in t.skipped:
            print(f"  {stage}: {name}: {why}")
    if t.failed:
        print(f"FAILED ({len(t.failed)}):")
        for stage, name, why in t.failed:
            print(f"  {stage}: {name}" + (f": {why}" if why else ""))
    line = f"{len(t.passed)} passed, {len(t.failed)} failed"
    if t.skipped:
        line += f", {len(t.skipped)} skipped"
    print(line, flush=True)
    return 1 if t.failed or not t.passed else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("stages", nargs="*", metavar="STAGE",
                    help="harness, checkpatch, spec, qtest, e2e or all (default)")
    ap.add_argument("--suite", default=os.environ.get("QTEST_SUITE", "qtest-x86_64"))
    args = ap.parse_args()
    stages = set(args.stages or ["all"])
    unknown = stages - {"harness", "checkpatch", "spec", "qtest", "e2e", "all"}
    if unknown:
        ap.error(f"unknown stage: {', '.join(sorted(unknown))}")
    everything = "all" in stages
    os.makedirs(RESULTS, exist_ok=True)
    t = Tally()
    if everything or "harness" in stages:
        stage_harness(t)
    if everything or "checkpatch" in stages:
        stage_checkpatch(t)
    if everything or "spec" in stages:
        stage_spec(t)
    built = False
    if everything or "qtest" in stages or "e2e" in stages:
        built = stage_build(t)
    if built and (everything or "qtest" in stages):
        stage_qtest(t, args.suite)
    if built and (everything or "e2e" in stages):
        stage_e2e(t)
    return summary(t)


if __name__ == "__main__":
    sys.exit(main())

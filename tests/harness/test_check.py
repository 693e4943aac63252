"""scripts/check.py is the gate: a green summary must mean everything ran.

It is fed fake results here -- a meson log cut short, a crash, a timeout,
a stale known-failures entry, pytest stopping half way -- and must fail
each of them.  The qtest stage runs against a fake 'meson' that writes the
log a scenario asks for, so the whole stage is exercised, known-failure
reruns included.
"""

import json
import os
import subprocess
import sys
import textwrap

import pytest
from loadscript import load_script

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


check = load_script("check")
Known = check.Known

GOOD = "1..2\nok 1 /x86_64/a/one\nok 2 /x86_64/a/two\n"


def rec(result="OK", stdout=GOOD, rc=0):
    return {"result": result, "stdout": stdout, "returncode": rc}


def verdicts(entries):
    return {name: (res, why) for _, name, res, why in entries}


def failures(entries):
    return [e for e in entries if e[2] == "fail"]


# ------------------------------------------------------------- qtests

def test_all_good():
    out = check.evaluate_qtests(["s/a", "s/b"], {"s/a": rec(), "s/b": rec()},
                                [], {}, 0, True)
    assert not failures(out)
    assert [e[2] for e in out] == ["pass", "pass"]


def test_log_cut_short():
    """meson stopped after 1 of 3 tests: the other two must fail."""
    out = check.evaluate_qtests(["s/a", "s/b", "s/c"], {"s/a": rec()},
                                [], {}, 0, False)
    v = verdicts(out)
    assert v["s/b"][0] == v["s/c"][0] == "fail"
    assert "cut short" in v["s/b"][1]


def test_crash_names_the_last_subtest():
    crashed = rec("ERROR", "1..5\nok 1 /x86_64/a/one\nok 2 /x86_64/a/two\n",
                  -6)
    out = check.evaluate_qtests(["s/a"], {"s/a": crashed}, [], {}, 1, False)
    res, why = verdicts(out)["s/a"]
    assert res == "fail"
    assert "after /x86_64/a/two" in why and "-6" in why


def test_timeout_fails():
    out = check.evaluate_qtests(["s/a"], {"s/a": rec("TIMEOUT", "", -15)},
                                [], {}, 1, False)
    assert verdicts(out)["s/a"][0] == "fail"


def test_failed_subtest_is_named():
    bad = rec("FAIL", "ok 1 /x86_64/a/one\nnot ok 2 /x86_64/a/two\n", 1)
    out = check.evaluate_qtests(["s/a"], {"s/a": bad}, [], {}, 1, False)
    v = verdicts(out)
    assert v["s/a:/x86_64/a/two"][0] == "fail"


def test_exit_status_without_failure_fails():
    out = check.evaluate_qtests(["s/a"], {"s/a": rec()}, [], {}, 1, False)
    assert verdicts(out)["meson test"][0] == "fail"


def test_unlisted_skip_fails_in_ci_only():
    skipped = rec(stdout="ok 1 /x86_64/a/one # SKIP no display\n")
    strict = check.evaluate_qtests(["s/a"], {"s/a": skipped}, [], {}, 0, True)
    assert verdicts(strict)["s/a:/x86_64/a/one"][0] == "fail"
    loose = check.evaluate_qtests(["s/a"], {"s/a": skipped}, [], {}, 0, False)
    assert verdicts(loose)["s/a:/x86_64/a/one"][0] == "skip"
    listed = [Known("skip", "s/a", "/x86_64/a/one", "needs a display")]
    ok = check.evaluate_qtests(["s/a"], {"s/a": skipped}, listed, {}, 0, True)
    assert not failures(ok)


def test_listed_skip_that_runs_is_stale():
    listed = [Known("skip", "s/a", "/x86_64/a/one", "needs a display")]
    out = check.evaluate_qtests(["s/a"], {"s/a": rec()}, listed, {}, 0, True)
    assert "stale" in verdicts(out)["s/a:/x86_64/a/one"][1]


def test_known_subtest_skipped_by_request_is_not_counted():
    stdout = ("ok 1 /x86_64/a/one\n"
              "ok 2 /x86_64/a/two # SKIP by request (-s option)\n")
    listed = [Known("fail", "s/a", "/x86_64/a/two", "firmware")]
    out = check.evaluate_qtests(["s/a"], {"s/a": rec(stdout=stdout)}, listed,
                                {}, 0, True)
    assert not failures(out)


def test_series_qtest_runs_its_subtests():
    out = check.evaluate_qtests(["s/a"], {"s/a": rec()}, [], {"s/a": 48},
                                0, True)
    assert "expects at least 48" in verdicts(out)["s/a"][1]
    # and it must exist at all
    out = check.evaluate_qtests(["s/a"], {"s/a": rec()}, [], {"s/b": 1},
                                0, True)
    assert verdicts(out)["s/b"][0] == "fail"


def test_known_run_still_failing_or_stale():
    k = Known("fail", "s/a", "/x86_64/a/two", "firmware")
    res = check.evaluate_known_run(k, rec("FAIL", "not ok 1 /x86_64/a/two\n", 1))
    assert res[2] == "known"
    aborted = check.evaluate_known_run(
        k, rec("ERROR", "Bail out! ERROR:x.c:1:f: assertion failed\n", -6))
    assert aborted[2] == "known"
    # a crash before the subtest, or a skip, shows nothing
    crashed = check.evaluate_known_run(k, rec("ERROR", "", -6))
    assert crashed[2] == "fail"
    skipped = check.evaluate_known_run(
        k, rec("OK", "ok 1 /x86_64/a/two # SKIP no device\n"))
    assert skipped[2] == "fail" and "skipped" in skipped[3]
    timed_out = check.evaluate_known_run(k, rec("FAIL", "", 124))
    assert timed_out[2] == "known" and "timed out" in timed_out[3]
    stale = check.evaluate_known_run(k, rec("OK", "ok 1 /x86_64/a/two\n"))
    assert stale[2] == "fail" and "stale" in stale[3]
    gone = check.evaluate_known_run(k, rec("OK", "1..0\n"))
    assert gone[2] == "fail"
    assert check.evaluate_known_run(k, None)[2] == "fail"


def test_known_file_rules(tmp_path):
    f = tmp_path / "known"
    f.write_text("fail s/a  a whole test would hide crashes\n")
    with pytest.raises(ValueError):
        check.parse_known(str(f))
    f.write_text("fail s/a:/x/y\n")
    with pytest.raises(ValueError):
        check.parse_known(str(f))
    f.write_text("# comment\nskip s/a  no cases here\n"
                 "fail s/b:/x/y  firmware differs\n")
    assert [k.name for k in check.parse_known(str(f))] == ["s/a", "s/b:/x/y"]
    # the project's own files parse (whatever this machine has installed)
    for base in check.BASES:
        assert check.parse_known(check.known_file(base), lambda p: None)


def test_known_entry_when(tmp_path):
    """'when PKG=PATTERN' entries hold only with a matching version."""
    f = tmp_path / "known"
    f.write_text("fail s/b:/x/y  when seabios=1.16.2-*  firmware differs\n"
                 "skip s/c  no cases here\n")
    versions = {}

    def names():
        return [k.name for k in check.parse_known(str(f), versions.get)]
    versions["seabios"] = "1.16.2-1"
    assert names() == ["s/b:/x/y", "s/c"]
    assert check.parse_known(str(f), versions.get)[0].why == "firmware differs"
    versions["seabios"] = "1.16.3-2"
    assert names() == ["s/c"]
    del versions["seabios"]     # not installed
    assert names() == ["s/c"]
    inactive = []
    check.parse_known(str(f), versions.get, inactive)
    assert inactive == ["s/b:/x/y: seabios not installed does not match "
                        "1.16.2-*"]
    f.write_text("fail s/b:/x/y  when seabios  firmware differs\n")
    with pytest.raises(ValueError):
        check.parse_known(str(f), versions.get)
    # a why may not start with "when": it would read as a condition
    f.write_text("fail s/b:/x/y  when the firmware differs\n")
    with pytest.raises(ValueError):
        check.parse_known(str(f), versions.get)
    # a tab after "when" is a condition too
    f.write_text("fail s/b:/x/y  when\tseabios=1.*  firmware\n")
    assert check.parse_known(str(f), versions.get) == []
    # a condition and no why
    f.write_text("fail s/b:/x/y  when seabios=1.*\n")
    with pytest.raises(ValueError):
        check.parse_known(str(f), versions.get)


def test_package_version(tmp_path, monkeypatch):
    """dpkg-query: the first installed architecture's version."""
    fake = tmp_path / "dpkg-query"
    fake.write_text("#!/bin/sh\nprintf 'not-installed \\ninstalled "
                    "1:2.0-1\\n'\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    assert check.package_version("x") == "1:2.0-1"
    fake.write_text("#!/bin/sh\nexit 1\n")
    assert check.package_version("x") is None


def test_known_fails_option(tmp_path, monkeypatch, capsys):
    """--known-fails prints the 'fail' entries that hold, nothing else."""
    d = tmp_path / "known"
    d.mkdir()
    (d / "primary").write_text(
        "fail s/a:/x  fails\nskip s/b  skips\n"
        "fail s/c:/y  when nosuchpackage-xyz=1*  never here\n")
    monkeypatch.setattr(check, "known_file", lambda b: str(d / b))
    monkeypatch.setattr(sys, "argv", ["check.py", "--known-fails",
                                      "primary"])
    assert check.main() == 0
    assert capsys.readouterr().out == "s/a:/x\n"


# ------------------------------------------------------------- pytest

def test_pytest_stopped_early():
    collected = [f"tests/x/test_a.py::test_{i}" for i in range(16)]
    cases = {collected[0]: "pass", collected[1]: "pass"}
    out = check.evaluate_pytest("e2e", collected, cases, 3, False)
    v = verdicts(out)
    assert sum(1 for e in out if e[2] == "fail") >= 15
    assert v["pytest"] == ("fail", "pytest exited 3")


def test_pytest_no_report():
    out = check.evaluate_pytest("e2e", ["t.py::a"], None, 2, False)
    assert failures(out)


def test_pytest_skip_in_ci():
    out = check.evaluate_pytest("e2e", ["t.py::a"], {"t.py::a": "skip:why"},
                                0, True)
    assert failures(out)
    out = check.evaluate_pytest("e2e", ["t.py::a"], {"t.py::a": "skip:why"},
                                0, False)
    assert not failures(out) and out[0][2] == "skip"


def test_pytest_real_run_cut_short(tmp_path, monkeypatch):
    """A real pytest that stops after 2 of 16 tests with an internal error."""
    d = tmp_path / "suite"
    d.mkdir()
    (d / "test_many.py").write_text(textwrap.dedent("""
        import pytest
        @pytest.mark.parametrize("i", range(16))
        def test_n(i):
            if i == 2:
                pytest.exit("harness broke", returncode=3)
    """))
    monkeypatch.setattr(check, "RESULTS", str(tmp_path))
    monkeypatch.setattr(check, "TOP", str(tmp_path))
    t = check.Tally()
    check.pytest_stage(t, "fake", "suite")
    assert len(t.of("pass")) == 2
    assert len(t.of("fail")) >= 14
    assert check.summary(t) == 1


def test_pytest_xfail_is_known_not_passed(tmp_path, monkeypatch):
    """A known problem (pytest.xfail, E2E_KNOWN in the pins) is counted
    "known", in CI too: neither a pass nor a skip."""
    d = tmp_path / "suite"
    d.mkdir()
    (d / "test_k.py").write_text(textwrap.dedent("""
        import pytest
        def test_ok():
            pass
        def test_known():
            pytest.xfail("black window")
    """))
    monkeypatch.setattr(check, "RESULTS", str(tmp_path))
    monkeypatch.setattr(check, "TOP", str(tmp_path))
    monkeypatch.setenv("CI", "true")
    t = check.Tally()
    check.pytest_stage(t, "fake", "suite")
    assert len(t.of("pass")) == 1 and not t.of("fail")
    assert [e[3] for e in t.of("known")] == ["black window"]


# ------------------------------------------------------------- whole stage

FAKE_MESON = r'''#!/usr/bin/python3
"""A stand-in for meson: 'test --list' and 'test' from a scenario file."""
import json, os, sys
scenario = json.load(open(os.environ["FAKE_SCENARIO"]))
args = sys.argv[1:]
build = args[args.index("-C") + 1]
if "--list" in args:
    for name in scenario["listed"]:
        print("qemu:qtest+qtest-x86_64 / " + name)
    sys.exit(0)
base = args[args.index("--logbase") + 1]
known_run = os.environ.get("QTEST_KNOWN_RUN") == "1"
key = "known" if known_run else "main"
named = [a for a in args if a in scenario["listed"]]
setup = args[args.index("--setup") + 1] if "--setup" in args else ""
with open(os.environ["FAKE_SCENARIO"] + ".calls", "a") as f:
    f.write(json.dumps({"setup": setup, "tests": named}) + "\n")
os.makedirs(os.path.join(build, "meson-logs"), exist_ok=True)
with open(os.path.join(build, "meson-logs", base + "-qtest-tcg.sh.json"), "w") as f:
    for name, r in scenario[key].items():
        if named and name not in named:
            continue
        r = dict(r, name="qemu:qtest+qtest-x86_64 / " + name)
        f.write(json.dumps(r) + "\n")
sys.exit(scenario[key + "_rc"])
'''


@pytest.fixture
def fake_meson(tmp_path, monkeypatch):
    build = tmp_path / "qemu-build"
    (build / "pyvenv" / "bin").mkdir(parents=True)
    meson = build / "pyvenv" / "bin" / "meson"
    meson.write_text(FAKE_MESON)
    meson.chmod(0o755)
    known = tmp_path / "known"
    known.write_text("fail qtest-x86_64/b:/x86_64/b/two  firmware differs\n")
    series = tmp_path / "series"
    series.write_text("qtest-x86_64/a 2\n")
    monkeypatch.setattr(check, "known_file", lambda base: str(known))
    monkeypatch.setattr(check, "SERIES_FILE", str(series))
    base = check.bases.Base("fake", "a fake base", "qemu", "linux")
    monkeypatch.setattr(check.bases.Base, "qemu_build", str(build))
    monkeypatch.setattr(check, "xvfb", lambda cmd: cmd)

    def scenario(**s):
        path = tmp_path / "scenario.json"
        path.write_text(json.dumps(s))
        monkeypatch.setenv("FAKE_SCENARIO", str(path))
        t = check.Tally()
        check.stage_qtest(t, base, "qtest-x86_64")
        return t
    return scenario


B_MAIN = rec(stdout="ok 1 /x86_64/b/one\n"
                    "ok 2 /x86_64/b/two # SKIP by request (-s option)\n"
                    "ok 3 /x86_64/b/three\n")


def test_stage_green(fake_meson):
    t = fake_meson(listed=["qtest-x86_64/a", "qtest-x86_64/b"],
                   main={"qtest-x86_64/a": rec(), "qtest-x86_64/b": B_MAIN},
                   main_rc=0,
                   known={"qtest-x86_64/b": rec("FAIL",
                                                "not ok 1 /x86_64/b/two\n", 1)},
                   known_rc=1)
    assert not t.of("fail"), t.of("fail")
    assert len(t.of("known")) == 1
    assert check.summary(t) == 0
    # the series' own test runs its whole set (meson's "slow" setup), the
    # others their default set, each in its own meson call and log
    calls = [json.loads(line) for line in
             open(os.environ["FAKE_SCENARIO"] + ".calls")]
    assert {"setup": "slow", "tests": ["qtest-x86_64/a"]} in calls
    assert {"setup": "", "tests": ["qtest-x86_64/b"]} in calls


def test_stage_cut_short_and_stale(fake_meson):
    t = fake_meson(listed=["qtest-x86_64/a", "qtest-x86_64/b",
                           "qtest-x86_64/c"],
                   main={"qtest-x86_64/a": rec()}, main_rc=0,
                   known={"qtest-x86_64/b": rec("OK", "ok 1 /x86_64/b/two\n")},
                   known_rc=0)
    names = {e[1] for e in t.of("fail")}
    assert {"qtest-x86_64/b", "qtest-x86_64/c",
            "qtest-x86_64/b:/x86_64/b/two"} <= names
    assert check.summary(t) == 1


def test_summary_line(capsys):
    t = check.Tally()
    t.add("s", "a", "pass")
    t.add("s", "b", "known", "why")
    t.add("s", "c", "skip", "why")
    assert check.summary(t) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last == "1 passed, 0 failed, 1 skipped, 1 known"


def test_ci_run_is_strict():
    """.ci/run sets CI=true itself, and check.py says whether it is on."""
    with open(os.path.join(TOP, ".ci", "run")) as f:
        assert "CI=true" in f.read()
    p = subprocess.run([sys.executable, os.path.join(TOP, "scripts",
                                                      "check.py"), "deps"],
                       capture_output=True, text=True,
                       env=dict(os.environ, CI="true"))
    assert "strict mode ON" in p.stdout
    assert "strict mode (CI=true): on" in p.stdout

"""scripts/bench.py reads its figures out of guest and qtest output.

A figure it cannot read must not turn into a zero or an empty row: the
guest console can interleave s3check's kernel-log mark with its TIME
line, and glib's -p does not descend into sub-suites, which once left
every host reset figure at 0 without an error.
"""

import importlib.util
import os
import types

import pytest

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def load_bench():
    spec = importlib.util.spec_from_file_location(
        "bench", os.path.join(TOP, "scripts", "bench.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


bench = load_bench()


def done(*lines):
    return types.SimpleNamespace(lines=list(lines))


def test_times_reads_a_plain_line():
    assert bench.times(done("s3check: TIME resume-to-frame 85.4")) == [85.4]


def test_times_reads_a_line_the_kernel_mark_cut_into():
    line = "s3check: TIME resume-to-frame 85.4s3check: first good frame"
    assert bench.times(done(line, "s3check: DONE 2 PASS")) == [85.4]


def test_times_ignores_other_lines():
    assert bench.times(done("s3check: first good frame",
                            "s3check: TIME resume-to-frame")) == []


def test_perf_fails_when_a_figure_is_missing(monkeypatch):
    out = ("# perf device-reset kind=frozen k=10 median_us=252.0\n"
           "# perf device-reset kind=frozen k=100 median_us=295.0\n")
    monkeypatch.setattr(bench.subprocess, "run", lambda *a, **k:
                        types.SimpleNamespace(returncode=0, stdout=out,
                                              stderr=""))
    with pytest.raises(SystemExit, match=r"K = \[1000\]"):
        bench.perf("qemu", ["frozen"])


def test_perf_runs_one_path_per_kind(monkeypatch):
    paths = []

    def run(cmd, **kwargs):
        path = cmd[cmd.index("-p") + 1]
        paths.append(path)
        kind = path.rsplit("/", 1)[1]
        return types.SimpleNamespace(returncode=0, stderr="", stdout="".join(
            f"# perf device-reset kind={kind} k={k} median_us={k}.0\n"
            for k in bench.KS))

    monkeypatch.setattr(bench.subprocess, "run", run)
    got = bench.perf("qemu", ["frozen", "off"])
    assert paths == [f"{bench.PERF}/frozen", f"{bench.PERF}/off"]
    assert got[("off", 1000)] == 1000.0

"""harness/runresults.py: the results of a run's guest cases, gathered
from whichever pytest-xdist worker kept them."""

import os
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, TOP)

from harness import runresults  # noqa: E402


def test_gathered_in_case_order_without_an_earlier_runs(tmp_path,
                                                         monkeypatch):
    out = str(tmp_path)
    runresults.keep(out, "stale", {"case": "stale"})
    old = time.time() - 60
    os.utime(os.path.join(out, "cases", "stale.pickle"), (old, old))
    monkeypatch.setenv(runresults.RUN_STARTED, repr(time.time() - 1))
    # two workers, each keeping what it ran
    runresults.keep(out, "b", {"case": "b"})
    runresults.keep(out, "a", {"case": "a"})
    got = runresults.gathered(out, ["a", "stale", "missing", "b"])
    assert got == [{"case": "a"}, {"case": "b"}]
    assert not [f for f in os.listdir(os.path.join(out, "cases"))
                if f.endswith(".tmp")]


def test_stamp_run_leaves_out_what_came_before(tmp_path, monkeypatch):
    out = str(tmp_path)
    monkeypatch.delenv(runresults.RUN_STARTED, raising=False)
    runresults.keep(out, "a", 1)
    assert runresults.gathered(out, ["a"]) == [1]
    old = time.time() - 60
    os.utime(os.path.join(out, "cases", "a.pickle"), (old, old))
    runresults.stamp_run()
    assert runresults.gathered(out, ["a"]) == []


def test_missing_cases_are_named_under_the_table(tmp_path):
    class R:
        def __init__(self, name):
            self.cfg = type("Cfg", (), {"name": name})()
    table = tmp_path / "results.md"
    table.write_text("| case |\n|---|\n| a |\n")
    runresults.note_missing(str(table), ["a", "b", "c"], [R("a")])
    assert table.read_text().splitlines()[-1].endswith(": b, c")
    before = table.read_text()
    runresults.note_missing(str(table), ["a"], [R("a")])
    assert table.read_text() == before

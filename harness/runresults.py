"""The results of one pytest run's guest cases, kept on disk.

pytest-xdist runs the end-to-end cases in several worker processes
('make check' runs two), each with its own module globals, so a list in
a test module holds only what that worker ran.  Each case's result is
kept in <outdir>/cases/<case>.pickle instead, and a report gathers the
results of every case that ended in this run, whichever process ran it.

"This run" is what tests/e2e/conftest.py stamps in the environment when
pytest starts (the workers inherit it): results older than the stamp are
an earlier run's and are left out.
"""

import os
import pickle
import time
from typing import Iterable, List

RUN_STARTED = "E2E_RUN_STARTED"


def stamp_run():
    """Mark the start of a run (the controlling pytest process only)."""
    os.environ[RUN_STARTED] = repr(time.time())


def _path(outdir: str, name: str) -> str:
    return os.path.join(outdir, "cases", f"{name}.pickle")


def keep(outdir: str, name: str, result) -> None:
    """Keep one case's result (written whole, then renamed into place, so
    that a report made meanwhile never reads half of it)."""
    path = _path(outdir, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "wb") as f:
        pickle.dump(result, f)
    os.replace(tmp, path)


def gathered(outdir: str, names: Iterable[str]) -> List:
    """The results of this run's cases among names, in that order."""
    started = float(os.environ.get(RUN_STARTED, "0"))
    out = []
    for name in names:
        path = _path(outdir, name)
        try:
            if os.path.getmtime(path) < started:
                continue
            with open(path, "rb") as f:
                out.append(pickle.load(f))
        except (OSError, EOFError, pickle.UnpicklingError):
            # none, or unreadable: note_missing() names it
            continue
    return out


def note_missing(path: str, names: Iterable[str], results: List) -> None:
    """Name, under the table at path, the cases of names that left no
    result in this run (crashed, timed out): a table must not look whole
    when it is not."""
    have = {r.cfg.name for r in results}
    missing = [n for n in names if n not in have]
    if missing:
        with open(path, "a") as f:
            f.write("\nNo result from this run (the case crashed or timed "
                    "out; see its test's failure): " + ", ".join(missing) +
                    "\n")

"""What the end-to-end tests share, in one pytest process or several.

'make check' runs these tests with pytest-xdist (-n 2: a guest under TCG
keeps about one core busy, the machine has two).  The guests' pictures
are taken from the X server's root window (QMP's screendump has no
surface for a GL scanout), so two QEMU windows must never share a
screen: each worker starts an X server of its own (Xvfb, the one
xvfb-run starts for the whole run stays with the controlling process).

Each case keeps its result on disk (harness/runresults.py); once pytest
is done, the controlling process writes the results tables from all of
them (build/e2e-<base>/results.md, build/debian-<base>/results.md: each
module's write_report()) and prints them.
"""

import ctypes
import importlib
import os
import signal
import subprocess
import sys

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, TOP)

from harness import runresults  # noqa: E402

SCREEN = "1280x1024x24"
# the test modules with a results table
REPORTS = ("test_guest_s3", "test_debian_guest")


def _is_worker(config) -> bool:
    return hasattr(config, "workerinput")


def _die_with_parent():
    """In the X server's process: end with the worker, even a worker that
    dies without cleaning up (prctl PR_SET_PDEATHSIG, SIGTERM), so that
    no server and no QEMU on it outlives the run."""
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)


def _start_xvfb():
    """An X server on a free display: Xvfb prints its number on a pipe
    (-displayfd) once it accepts clients."""
    r, w = os.pipe()
    proc = subprocess.Popen(
        ["Xvfb", "-displayfd", str(w), "-screen", "0", SCREEN,
         "-nolisten", "tcp"], pass_fds=(w,), stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, preexec_fn=_die_with_parent)
    os.close(w)
    with os.fdopen(r) as f:
        num = f.readline().strip()
    if not num.isdigit():
        proc.kill()
        proc.wait()
        raise RuntimeError("Xvfb did not start (no display number on "
                           "-displayfd)")
    return proc, f":{num}"


class _Collected:
    """The test ids of this run, on the controlling process: its own
    collection, or what the pytest-xdist workers collected."""

    def __init__(self):
        self.ids = set()

    def pytest_collection_finish(self, session):
        # the items left after -k and -m deselected theirs
        self.ids.update(item.nodeid for item in session.items)


class _XdistCollected:
    def __init__(self, collected):
        self.collected = collected

    def pytest_xdist_node_collection_finished(self, node, ids):
        self.collected.ids.update(ids)


def pytest_configure(config):
    if _is_worker(config):
        if os.environ.get("DISPLAY"):
            # a private screen for this worker's guests
            config._e2e_xvfb, os.environ["DISPLAY"] = _start_xvfb()
        return
    runresults.stamp_run()
    config._e2e_collected = _Collected()
    config.pluginmanager.register(config._e2e_collected)
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(_XdistCollected(config._e2e_collected))


def pytest_unconfigure(config):
    proc = getattr(config, "_e2e_xvfb", None)
    if proc is not None:
        proc.terminate()
        proc.wait()


def pytest_sessionfinish(session):
    if _is_worker(session.config):
        return
    ids = session.config._e2e_collected.ids
    for module in REPORTS:
        # the cases of this module that this run collected
        cases = {i.split("[", 1)[1].rstrip("]") for i in ids
                 if i.split("::")[0].endswith(f"{module}.py") and "[" in i}
        if not cases:
            continue
        path = importlib.import_module(module).write_report(cases)
        if path:
            with open(path) as f:
                sys.__stdout__.write(f"\n{f.read()}\n"
                                     f"({os.path.relpath(path, TOP)})\n")

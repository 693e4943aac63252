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

import importlib
import os
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


def _start_xvfb():
    """An X server on a free display: Xvfb prints its number on a pipe
    (-displayfd) once it accepts clients."""
    r, w = os.pipe()
    proc = subprocess.Popen(
        ["Xvfb", "-displayfd", str(w), "-screen", "0", SCREEN,
         "-nolisten", "tcp"], pass_fds=(w,), stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    os.close(w)
    with os.fdopen(r) as f:
        num = f.readline().strip()
    if not num.isdigit():
        proc.kill()
        proc.wait()
        raise RuntimeError("Xvfb did not start (no display number on "
                           "-displayfd)")
    return proc, f":{num}"


def pytest_configure(config):
    if _is_worker(config):
        if os.environ.get("DISPLAY"):
            # a private screen for this worker's guests
            config._e2e_xvfb, os.environ["DISPLAY"] = _start_xvfb()
    else:
        runresults.stamp_run()


def pytest_unconfigure(config):
    proc = getattr(config, "_e2e_xvfb", None)
    if proc is not None:
        proc.terminate()
        proc.wait()


def pytest_sessionfinish(session):
    if _is_worker(session.config):
        return
    for module in REPORTS:
        path = importlib.import_module(module).write_report()
        if path:
            with open(path) as f:
                sys.__stdout__.write(f"\n{f.read()}\n"
                                     f"({os.path.relpath(path, TOP)})\n")

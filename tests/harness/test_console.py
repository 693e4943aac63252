"""The guest console is read all the time, not only while someone waits.

QEMU's serial port blocks once its socket is full, and a socket fills
after a few hundred one-byte writes: a console nobody reads stops the
guest.  harness/console.py reads it from a thread of its own.
"""

import os
import socket
import sys
import threading
import time

import pytest

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, TOP)

from harness.console import Console, GuestError  # noqa: E402


@pytest.fixture
def pair(tmp_path):
    guest, host = socket.socketpair()
    console = Console(host, str(tmp_path / "console.log"))
    yield guest, console
    guest.close()
    console.close()


def uart(sock, data, done):
    """Write data a byte at a time, as QEMU's serial port does."""
    for b in data:
        sock.sendall(bytes([b]))
    done.set()


def test_console_drains_while_nobody_waits(pair):
    guest, console = pair
    guest.setblocking(True)
    data = b"".join(b"line %d of a chatty resume\n" % i for i in range(20000))
    done = threading.Event()
    threading.Thread(target=uart, args=(guest, data, done),
                     daemon=True).start()
    # nobody calls wait_for() meanwhile: the writer must not block
    assert done.wait(60), "the console blocked its writer"
    line = console.wait_for("the last line",
                            lambda s: s.startswith("line 19999 "), 10)
    assert line == "line 19999 of a chatty resume"
    assert len(console.all) == 20000


def test_wait_for_times_out_and_shows_the_tail(pair):
    guest, console = pair
    guest.sendall(b"s3check: ACK 1 sleep\n")
    start = time.monotonic()
    with pytest.raises(GuestError) as e:
        console.wait_for("s3check: DONE 1", lambda s: "DONE 1" in s, 1.5)
    assert 1.4 < time.monotonic() - start < 5
    assert "no s3check: DONE 1 on the guest console within 2 s" in str(e.value)
    assert "| s3check: ACK 1 sleep" in str(e.value)


def test_wait_for_ends_when_qemu_closes_the_console(pair):
    guest, console = pair
    guest.sendall(b"half a line")
    guest.close()
    with pytest.raises(GuestError, match="the console closed"):
        console.wait_for("anything", lambda s: True, 10)


def test_s3check_messages_split_where_another_one_is_glued_on():
    from harness.guest import s3check_messages
    assert s3check_messages("s3check: DONE 7 PASSs3check: first good "
                            "frame") == [["s3check:", "DONE", "7", "PASS"],
                                         ["s3check:", "first", "good",
                                          "frame"]]
    assert s3check_messages("s3check: first good frames3check: DONE 7 "
                            "PASS")[1] == ["s3check:", "DONE", "7", "PASS"]
    assert s3check_messages("[  1.0] x s3check: PASS texture-0 16384") \
        == [["s3check:", "PASS", "texture-0", "16384"]]
    assert s3check_messages("OOM killer enabled.") == []


def test_s3check_status_ignores_what_the_kernel_glued_on():
    from harness.guest import s3check_status
    assert s3check_status("PASS[") == "PASS"
    assert s3check_status("FAIL") == "FAIL"
    assert s3check_status("frame") == "frame"


def test_done_reads_a_glued_done_line():
    """Guest.done() on the very lines that failed test_five_cycles."""
    from harness.guest import Config, Guest

    class FakeConsole:
        def __init__(self, lines):
            self.lines = lines

        def wait_for(self, what, match, timeout):
            for line in self.lines:
                if match(line):
                    return line
            raise AssertionError(f"no {what}")

    g = Guest.__new__(Guest)
    g.cfg = Config("glued")
    g.console = FakeConsole([
        "s3check: PASS texture-0 16384 bytes read back (resource 4)",
        "s3check: TIME resume-to-frame 115.7",
        "s3check: DONE 7 PASSs3check: first good frame"])
    done = g.done(7, "sleep mem 2")
    assert done.status == "PASS" and done.ok
    assert done.checks == {"texture-0": "PASS"}
    g.console = FakeConsole(["s3check: DONE 8 FAIL[  12.3] virtio_gpu"])
    assert g.done(8, "paint 1").status == "FAIL"


def test_agent_messages_are_read_with_its_prefix():
    """The Debian guest's agent answers as s3check does, under its name."""
    from harness.guest import Config, Guest, s3check_messages

    assert s3check_messages("agent: DONE 3 PASS", "agent") == \
        [["agent:", "DONE", "3", "PASS"]]
    assert s3check_messages("s3check: DONE 3 PASS", "agent") == []

    class FakeConsole:
        def wait_for(self, what, match, timeout):
            for line in ["s3check: DONE 4 FAIL", "agent: DONE 4 PASS"]:
                if match(line):
                    return line
            raise AssertionError(f"no {what}")

    g = Guest.__new__(Guest)
    g.cfg = Config("debian", image="debian")
    g.console = FakeConsole()
    assert g.done(4, "alive weston").status == "PASS"

"""The test guest's serial console, read by a thread of its own.

QEMU's serial port stops transmitting when the socket behind it is full,
and a socket holds only a few hundred of the one-byte writes a UART
makes: a guest whose console nobody reads stops in the middle of
whatever it prints (a suspend, a resume) while its host waits for
something else, a QMP event say.  So the console is read all the time,
into lines that callers wait for.
"""

import socket
import threading
import time
from typing import Callable, List


class GuestError(Exception):
    """Something the guest or QEMU did not do; says what and shows why."""


class Console:
    """The guest's serial console: lines, a log, and waits that explain.

    A thread reads the console all the time, not only while a caller
    waits for a line: QEMU's serial port stops transmitting when the
    socket behind it is full (a socket holds only a few hundred of the
    one-byte writes the UART makes), and a guest whose console blocks
    stops in the middle of whatever it prints -- a suspend, a resume --
    while the caller waits for a QMP event."""

    def __init__(self, sock: socket.socket, log: str):
        self.sock = sock
        socket.socket.settimeout(sock, 1.0)
        self.pending: List[str] = []
        self.all: List[str] = []
        self.closed = False
        self.log = open(log, "w")
        self.cond = threading.Condition()
        self.reader = threading.Thread(target=self._reader, daemon=True,
                                       name="console")
        self.reader.start()

    def _reader(self):
        buf = b""
        while True:
            try:
                data = socket.socket.recv(self.sock, 4096)
            except socket.timeout:
                if self.closed:
                    break
                continue
            except OSError:
                data = b""
            with self.cond:
                if not data:
                    self.closed = True
                    self.cond.notify_all()
                    break
                buf += data
                *done, buf = buf.split(b"\n")
                for raw in done:
                    line = raw.decode(errors="replace").rstrip("\r")
                    if not self.log.closed:
                        self.log.write(line + "\n")
                        self.log.flush()
                    self.pending.append(line)
                    self.all.append(line)
                self.cond.notify_all()

    def tail(self, n=15) -> str:
        with self.cond:
            return "\n".join("    | " + line for line in self.all[-n:])

    def wait_for(self, what: str, match: Callable[[str], bool],
                 timeout: float) -> str:
        """The next line for which match() is true."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                while self.pending:
                    line = self.pending.pop(0)
                    if match(line):
                        return line
                    if "guest: BYE" in line:
                        raise GuestError(f"waiting for {what}: the guest's "
                                         f"s3check ended\n{self.tail()}")
                if self.closed:
                    raise GuestError(f"waiting for {what}: the console "
                                     f"closed (QEMU ended?)\n{self.tail()}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise GuestError(f"no {what} on the guest console "
                                     f"within {timeout:.0f} s; its last "
                                     f"lines:\n{self.tail()}")
                self.cond.wait(left)

    def send(self, text: str):
        self.sock.sendall(text.encode() + b"\n")

    def close(self):
        """Stop reading (QEMU has ended) and close the log."""
        with self.cond:
            self.closed = True
        self.reader.join(timeout=5)
        with self.cond:
            self.log.close()

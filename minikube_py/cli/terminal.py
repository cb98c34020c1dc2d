"""The local end of a pty session (exec -t): raw mode, copying, resizes, signals.

    code = attach(process)   # process.pty: the master; process.fileno(): its pidfd

The local terminal goes raw, so every key (Ctrl-C included) travels as a
byte to the pty, whose line discipline inside turns it into SIGINT for the
foreground process there; it is restored on the way out, errors included.
SIGWINCH is forwarded as TIOCSWINSZ on the master; SignalForwarder passes
the signals a user sends the CLI itself (TERM, HUP...) on to the process.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import select
import signal
import termios
import tty
from collections.abc import Iterator
from typing import Protocol

# what a hangup or a kill of the CLI should also mean for the remote process
FORWARDED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)


class Process(Protocol):
    pty: int | None

    def fileno(self) -> int: ...

    def kill(self, sig: int = ...) -> None: ...

    def wait(self, timeout: float | None = None) -> int | None: ...


def window_size(fd: int) -> tuple[int, int] | None:
    """(rows, cols) of the terminal on `fd`, None if it is not one."""
    try:
        rows, cols = os.get_terminal_size(fd)[::-1]
    except OSError:
        return None
    return rows, cols


def copy_window_size(src: int, master: int) -> None:
    with contextlib.suppress(OSError):
        size = fcntl.ioctl(src, termios.TIOCGWINSZ, b"\0" * 8)
        fcntl.ioctl(master, termios.TIOCSWINSZ, size)


class SignalForwarder:
    """From creation on, `sigs` sent to us go to the process given to attach().

    Installed before the process exists, so that none is missed (or kills us
    and leaves it running) in between: those arriving early wait in `pending`.
    """

    def __init__(self, sigs: tuple[int, ...] = FORWARDED_SIGNALS) -> None:
        self.target: Process | None = None
        self.pending: list[int] = []
        self._old = {s: signal.signal(s, self._handle) for s in sigs}

    def _handle(self, signum: int, _frame: object) -> None:
        if self.target is None:
            self.pending.append(signum)
        else:
            self.target.kill(signum)

    def attach(self, p: Process) -> None:
        self.target = p
        while self.pending:
            p.kill(self.pending.pop(0))

    def restore(self) -> None:
        """Our own handlers back; a signal that found no process is acted on now."""
        for s, h in self._old.items():
            signal.signal(s, h)
        for signum in self.pending:
            signal.raise_signal(signum)


@contextlib.contextmanager
def raw_mode(fd: int) -> Iterator[None]:
    """The terminal on `fd` in raw mode, restored however the block ends."""
    saved = termios.tcgetattr(fd)
    try:
        tty.setraw(fd, termios.TCSANOW)
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def attach(p: Process, in_fd: int = 0, out_fd: int = 1) -> int:
    """Connect the local terminal to `p`'s pty until `p` exits; its exit code."""
    assert p.pty is not None
    master = p.pty
    is_tty = os.isatty(in_fd)
    old_winch = signal.signal(signal.SIGWINCH, lambda *_: copy_window_size(in_fd, master))
    try:
        if is_tty:
            copy_window_size(in_fd, master)  # it may have changed since the exec
        with raw_mode(in_fd) if is_tty else contextlib.nullcontext():
            pump(master, in_fd, out_fd, p.fileno())
    finally:
        signal.signal(signal.SIGWINCH, old_winch)
    code = p.wait()
    assert code is not None
    return code


def pump(master: int, in_fd: int, out_fd: int, exited_fd: int) -> None:
    """Copy in_fd -> master and master -> out_fd until the process exits.

    `exited_fd` (a pidfd) becomes readable at exit: the master is then drained
    of what is left, without waiting for a background child that may still
    hold the slave open.
    """
    inputs = [in_fd]
    while True:
        ready = select.select([master, exited_fd, *inputs], [], [])[0]
        if master in ready and not _copy(master, out_fd):
            return
        if in_fd in ready:
            data = _read(in_fd)
            if data:
                _write_all(master, data)
            else:
                inputs = []  # local EOF: the process keeps its terminal
        if exited_fd in ready:
            os.set_blocking(master, False)
            try:
                while _copy(master, out_fd):
                    pass
            except BlockingIOError:
                pass
            finally:
                os.set_blocking(master, True)
            return


def _copy(src: int, dst: int) -> bool:
    data = _read(src)
    if data:
        _write_all(dst, data)
    return bool(data)


def _read(fd: int) -> bytes:
    try:
        return os.read(fd, 65536)
    except OSError as e:
        if e.errno == errno.EIO:  # a pty master whose slave is closed everywhere
            return b""
        raise


def _write_all(fd: int, data: bytes) -> None:
    while data:
        data = data[os.write(fd, data) :]

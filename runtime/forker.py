"""The caller's side of the start path: a connection to the forker process.

See runtime.init for why containers are forked by a separate single-threaded
process.  The caller (agent or shim) becomes a child subreaper here, so each
container, orphaned when its intermediate exits, is re-parented to the caller,
which can then waitpid() it and is the only one to learn its exit code.  A
subreaper also inherits any other orphaned descendant: a caller that reaps
with waitpid(-1) must leave container pids to Container.wait().
"""

from __future__ import annotations

import atexit
import json
import os
import socket
import subprocess
import sys
import threading
from typing import Any

import prctl

from runtime.errors import RuntimeErr

_BOOT = (
    "import sys; sys.path[:0] = sys.argv[2:]; "
    "from runtime.init import serve; serve(int(sys.argv[1]))"
)


def _import_paths() -> list[str]:
    """sys.path entries the forker needs: runtime's parent and python-prctl's dir."""
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    prctl_dir = os.path.dirname(os.path.abspath(prctl.__file__))
    paths = [here, prctl_dir]
    import _prctl  # the C extension may live elsewhere than prctl.py

    paths.append(os.path.dirname(os.path.abspath(_prctl.__file__)))
    return list(dict.fromkeys(paths))


class Forker:
    """A running forker process; `spawn` is thread-safe (serialised)."""

    def __init__(self, python: str | None = None) -> None:
        # must precede the forker's start: the subreaper mark is inherited
        # (as has_child_subreaper) by everything forked afterwards
        prctl.set_child_subreaper(1)
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._sock = ours
        self._lock = threading.Lock()
        # -E -S: no site-packages scan or .pth files; the interpreter starts in
        # ~15 ms and imports only what runtime.init needs.
        self._proc = subprocess.Popen(
            [
                python or sys.executable,
                "-E",
                "-S",
                "-c",
                _BOOT,
                str(theirs.fileno()),
                *_import_paths(),
            ],
            pass_fds=[theirs.fileno()],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            start_new_session=True,  # a ^C meant for the caller must not kill it
        )
        theirs.close()

    @property
    def pid(self) -> int:
        return self._proc.pid

    def alive(self) -> bool:
        return self._proc.poll() is None

    def spawn(self, config: dict[str, Any], fds: list[int]) -> dict[str, Any]:
        """Fork a container init; returns {"pid": host pid or 0, ...}.

        When this returns the intermediate has been reaped, so the container
        is already our child (see module doc).
        """
        payload = json.dumps(config).encode()
        with self._lock:
            try:
                socket.send_fds(self._sock, [payload], fds)
                reply = self._sock.recv(65536)
            except OSError as e:
                raise RuntimeErr(f"runtime forker (pid {self.pid}): {e.strerror}") from None
        if not reply:
            raise RuntimeErr(f"runtime forker (pid {self.pid}) exited")
        return json.loads(reply)

    def close(self) -> None:
        self._sock.close()  # EOF: the forker exits
        try:
            self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()


_default: Forker | None = None
_default_lock = threading.Lock()


def default_forker() -> Forker:
    """The process-wide forker, started on first use (and after a crash)."""
    global _default
    with _default_lock:
        if _default is None or not _default.alive():
            _default = Forker()
            atexit.register(_default.close)
        return _default


def one_shot(config: dict[str, Any], fds: list[int]) -> dict[str, Any]:
    """Spawn through a forker started just for this container (no long-lived helper)."""
    forker = Forker()
    try:
        return forker.spawn(config, fds)
    finally:
        forker.close()

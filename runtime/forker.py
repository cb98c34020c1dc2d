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
import select
import signal
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


_forkers: dict[str, Forker] = {}
_forkers_lock = threading.Lock()


def default_forker(purpose: str = "containers") -> Forker:
    """The process-wide forker for `purpose`, started on first use (and after a crash).
    Containers and execs have one, `call`s another: a forker serves one spawn at a time,
    and a pod start spawns both at once (each container and its log writer)."""
    with _forkers_lock:
        forker = _forkers.get(purpose)
        if forker is None or not forker.alive():
            forker = _forkers[purpose] = Forker()
            atexit.register(forker.close)
        return forker


class Child:
    """A process `call` started: our child (reparented to us, the subreaper), waited for
    like a subprocess.Popen: `pid`, `returncode`, `poll`, `wait`, `kill`."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None
        self._lock = threading.Lock()

    def poll(self) -> int | None:
        with self._lock:
            if self.returncode is None:
                try:
                    pid, status = os.waitpid(self.pid, os.WNOHANG)
                except ChildProcessError:  # reaped elsewhere: it is gone all the same
                    pid, status = self.pid, 0
                if pid:
                    self.returncode = os.waitstatus_to_exitcode(status)
            return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        """The exit code; subprocess.TimeoutExpired if it runs on after `timeout` seconds."""
        if self.poll() is not None:
            return self.returncode  # type: ignore[return-value]
        try:
            pidfd = os.pidfd_open(self.pid)
        except ProcessLookupError:
            pidfd = None
        try:
            if pidfd is not None:
                poller = select.poll()
                poller.register(pidfd, select.POLLIN)
                if not poller.poll(None if timeout is None else max(0, int(timeout * 1000))):
                    raise subprocess.TimeoutExpired(str(self.pid), timeout or 0)
        finally:
            if pidfd is not None:
                os.close(pidfd)
        while self.poll() is None:  # exited: the zombie is ours to reap now
            os.sched_yield()
        return self.returncode  # type: ignore[return-value]

    def kill(self) -> None:
        if self.poll() is None:
            os.kill(self.pid, signal.SIGKILL)  # not reaped: the pid is still this process


def call(target: str, args: list[str], fds: list[int], path: list[str] | None = None) -> Child:
    """Run the Python function `target` ("module:function", imported once in the forker,
    found on `path`) as `function(fds, args)` in a forked process of its own session, with
    cwd /, stdio on /dev/null and, of our fds, only `fds` (renumbered: it gets the numbers).
    Cheap (a fork of the small forker), and the process is our child (see module doc)."""
    config = {"kind": "call", "target": target, "args": args, "path": path or []}
    reply = default_forker("calls").spawn(config, fds)
    if not reply.get("pid"):
        error = reply.get("error") or {}
        detail = error.get("detail") or os.strerror(error.get("errno") or 0)
        raise RuntimeErr(f"runtime forker: cannot start {target}: {error.get('step')}: {detail}")
    return Child(reply["pid"])


def one_shot(config: dict[str, Any], fds: list[int]) -> dict[str, Any]:
    """Spawn through a forker started just for this container (no long-lived helper)."""
    forker = Forker()
    try:
        return forker.spawn(config, fds)
    finally:
        forker.close()

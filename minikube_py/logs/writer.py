"""Start a container's log writer: a process of its own, so logs outlive the agent.

A container's fds 1 and 2 are the write ends of two pipes; the log writer process (see
`_writerproc`) holds the read ends and writes CRI records (see `cri`). As conmon does for
CRI-O, it is apart from the agent: it runs in its own session, ignores SIGINT, SIGHUP and
SIGPIPE, holds no fd of the agent's, and ends by itself once the container and everything
that shares its stdout/stderr have exited and all output is written. It is forked from
the runtime's forker (runtime.forker.call: ~1 ms, no interpreter to start) and is the
caller's child, as the containers are. The agent can be
killed and restarted meanwhile; a new agent learns whether the writer is still at work
from `log_writer_active(log_path)`.

Typical use (the pod worker):

    writer = start_log_writer(log_path)
    spawn the container with fd 1 = writer.stdout_fd, fd 2 = writer.stderr_fd
    writer.close_pipes()           # ours; the container keeps its copies
    ... writer.wait() / log_writer_active(log_path) once the container has exited
"""

from __future__ import annotations

import os
import select
import subprocess
import time

from minikube_py.errors import MinikubeError
from minikube_py.logs.cri import log_writer_active
from runtime import forker
from runtime.errors import RuntimeErr
from runtime.forker import Child

__all__ = ["LogWriter", "LogWriterError", "log_writer_active", "start_log_writer"]

DEFAULT_MAX_SIZE = 10 * 1024 * 1024  # kubelet's containerLogMaxSize
DEFAULT_MAX_FILES = 5  # kubelet's containerLogMaxFiles
_READY_TIMEOUT = 10.0


class LogWriterError(MinikubeError):
    """The log writer process could not be started."""


class LogWriter:
    """A started log writer: hand `stdout_fd`/`stderr_fd` to the container as its fds 1/2."""

    def __init__(
        self,
        proc: Child,
        log_path: str,
        stdout_fd: int,
        stderr_fd: int,
        ready_fd: int = -1,
    ) -> None:
        self._proc = proc
        self.log_path = log_path
        self.stdout_fd = stdout_fd
        self.stderr_fd = stderr_fd
        self._ready_fd = ready_fd

    def wait_ready(self) -> None:
        """Block until the writer has the log open (LogWriterError if it cannot).

        Writes to the pipes before that are kept in the pipe and written then."""
        if self._ready_fd < 0:
            return
        try:
            reply = _read_ready(self._ready_fd, _READY_TIMEOUT)
        finally:
            os.close(self._ready_fd)
            self._ready_fd = -1
        if reply != b"ok":
            self.close_pipes()
            if self._proc.poll() is None and not reply:
                self._proc.kill()
            self._proc.wait()
            why = reply.decode(errors="replace") or f"no answer in {_READY_TIMEOUT:.0f} s"
            raise LogWriterError(f"log writer for {self.log_path}: {why}")

    @property
    def pid(self) -> int:
        return self._proc.pid

    def close_pipes(self) -> None:
        """Close our write ends (once the container holds its own copies); idempotent."""
        for attr in ("stdout_fd", "stderr_fd"):
            fd = getattr(self, attr)
            if fd >= 0:
                os.close(fd)
                setattr(self, attr, -1)

    def poll(self) -> int | None:
        return self._proc.poll()

    def wait(self, timeout: float | None = None) -> int | None:
        """The writer's exit code once it has exited (0: all written), None on timeout."""
        try:
            return self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None


def _package_parent() -> str:
    """The sys.path entry holding the minikube_py package."""
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def start_log_writer(
    log_path: str,
    *,
    max_size: int = DEFAULT_MAX_SIZE,
    max_files: int = DEFAULT_MAX_FILES,
    owner: tuple[int, int] | None = None,
    wait: bool = True,
) -> LogWriter:
    """Start the log writer process for `log_path`; returns once it has the file open
    (with `wait=False`, at once: call `wait_ready()` later, e.g. after giving the
    pipes to a container, so that the writer's start-up overlaps the container's).

    `max_size` (bytes; <= 0: never rotate) and `max_files` (>= 2, rotated plus current)
    are kubelet's containerLogMaxSize and containerLogMaxFiles. `owner` (uid, gid) chowns
    the pipes so that a container running as that user can reopen /dev/stdout.
    The directory of `log_path` is created if missing.
    """
    if max_files < 2:
        raise LogWriterError(f"log writer for {log_path}: max_files must be >= 2, not {max_files}")
    directory = os.path.dirname(log_path) or "."
    try:
        os.makedirs(directory, mode=0o755, exist_ok=True)
    except OSError as e:
        raise LogWriterError(f"cannot create log directory {directory}: {e.strerror}") from None
    # os.pipe() fds are close-on-exec: the writer gets these three (over the forker's
    # socket), nothing else
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    ready_r, ready_w = os.pipe()
    try:
        if owner is not None:
            for fd in (out_w, err_w):
                os.fchown(fd, owner[0], owner[1])
        # its own session (a ^C or hangup meant for the agent must not reach it), cwd /
        # (pins no mount of ours), nothing of ours but these three fds
        proc = forker.call(
            "minikube_py.logs._writerproc:run",
            [os.path.abspath(log_path), str(max_size), str(max_files)],
            [out_r, err_r, ready_w],
            path=[_package_parent()],
        )
    except (OSError, RuntimeErr) as e:
        for fd in (out_w, err_w, ready_r):
            os.close(fd)
        raise LogWriterError(f"cannot start the log writer for {log_path}: {e}") from None
    finally:
        for fd in (out_r, err_r, ready_w):
            os.close(fd)
    writer = LogWriter(proc, log_path, out_w, err_w, ready_r)
    if wait:
        writer.wait_ready()
    return writer


def _read_ready(fd: int, timeout: float) -> bytes:
    """All the writer says on its ready pipe before closing it (or dying)."""
    deadline = time.monotonic() + timeout
    chunks = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            return b""
        data = os.read(fd, 4096)
        if not data:
            return b"".join(chunks)
        chunks.append(data)

"""The log writer process: copies a container's stdout and stderr pipes into its CRI log.

Started by `minikube_py.logs.writer.start_log_writer` with ``python -I -S``; it must start
fast and stay small (one per container), so it imports only os, time, select, fcntl,
_signal and the record format. One loop polls both pipes, so records reach the file in
the order their data was read. It exits, after writing everything, when both pipes are
at EOF: when the container and every process sharing its stdout/stderr are gone.
"""

import _signal  # not `signal`: that one imports enum, a third of our start-up time
import fcntl
import os
import select
import time

from minikube_py.logs.cri import (
    encode_records,
    format_timestamp,
    rotated_log_name,
    rotated_logs,
    writer_lock_path,
)

_READ_SIZE = 1 << 16  # a pipe's default capacity: one read empties it


def _remove(path: str) -> bool:
    # not contextlib.suppress: importing contextlib costs the writer ~4 ms of start-up
    try:
        os.unlink(path)
    except OSError:
        return False
    return True


class _LogFile:
    """The current log file: appends records, rotates before a write would exceed max_size."""

    def __init__(self, path: str, max_size: int, max_files: int) -> None:
        self.path = path
        self.max_size = max_size
        self.max_files = max_files
        self._last_rotation_us = 0
        self.lock_fd = os.open(writer_lock_path(path), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        # a reader probing the lock holds it shared for microseconds: retry briefly
        for _ in range(200):
            try:
                fcntl.flock(self.lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                time.sleep(0.001)
        else:
            os.close(self.lock_fd)
            raise RuntimeError(f"another log writer holds {writer_lock_path(path)}")
        self.fd = self._open()
        self.size = os.fstat(self.fd).st_size

    def _open(self) -> int:
        return os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)

    def write(self, records: list[bytes]) -> None:
        if self.max_size <= 0:
            self._write(b"".join(records))
            return
        chunk: list[bytes] = []
        pending = 0
        for record in records:
            if self.size + pending + len(record) > self.max_size and self.size + pending > 0:
                if chunk:
                    self._write(b"".join(chunk))
                    chunk, pending = [], 0
                self._rotate()
            chunk.append(record)
            pending += len(record)
        if chunk:
            self._write(b"".join(chunk))

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                n = os.write(self.fd, view)
            except OSError:
                # disk full or gone: drop this output but keep draining the pipes, so
                # the container never blocks on a full stdout
                return
            self.size += n
            view = view[n:]

    def _rotate(self) -> None:
        us = max(time.time_ns() // 1000, self._last_rotation_us + 1)
        rotated = rotated_logs(self.path)
        name = rotated_log_name(self.path, us)
        while rotated and name <= rotated[-1]:  # the clock went back: keep name order
            us += 1_000_000
            name = rotated_log_name(self.path, us)
        self._last_rotation_us = us
        try:
            os.rename(self.path, name)
        except OSError:
            return  # keep writing the current file; try again at the next write
        try:
            new_fd = self._open()
        except OSError:
            os.rename(name, self.path)
            return
        # the old file is complete before the new one exists: a follower switches safely
        os.close(self.fd)
        self.fd, self.size = new_fd, 0
        rotated.append(name)
        for old in rotated[: max(0, len(rotated) - (self.max_files - 1))]:
            _remove(old)

    def close(self) -> None:
        os.close(self.fd)
        _remove(writer_lock_path(self.path))
        os.close(self.lock_fd)  # releases the lock: readers see the log is complete


def pump(log: _LogFile, streams: dict[int, bytes]) -> None:
    """Copy until every stream is at EOF; `streams` maps a pipe fd to b'stdout'/b'stderr'."""
    poller = select.poll()
    for fd in streams:
        poller.register(fd, select.POLLIN)
    while streams:
        events = poller.poll()
        records: list[bytes] = []
        stamp = None
        for fd, _ in events:
            try:
                data = os.read(fd, _READ_SIZE)
            except OSError:
                data = b""
            if not data:
                poller.unregister(fd)
                os.close(fd)
                del streams[fd]
                continue
            if stamp is None:
                stamp = format_timestamp(time.time_ns())
            encode_records(streams[fd], stamp, data, records)
        if records:
            log.write(records)


def run(fds: list[int], args: list[str]) -> None:
    """As runtime.forker.call starts it: fds (stdout, stderr, ready), args (path, max
    size, max files)."""
    main([*(str(fd) for fd in fds), *args])


def main(argv: list[str]) -> None:
    stdout_fd, stderr_fd, ready_fd = int(argv[0]), int(argv[1]), int(argv[2])
    path, max_size, max_files = argv[3], int(argv[4]), int(argv[5])
    # Our own session already keeps the terminal's ^C and hangup away; ignoring them as
    # well covers a kill of the agent's process group. SIGPIPE: never die writing.
    for sig in (_signal.SIGINT, _signal.SIGHUP, _signal.SIGPIPE, _signal.SIGQUIT):
        _signal.signal(sig, _signal.SIG_IGN)
    try:
        log = _LogFile(path, max_size, max_files)
    except OSError as e:
        os.write(ready_fd, f"{e.strerror}: {e.filename}".encode())
        raise SystemExit(1) from None
    except RuntimeError as e:
        os.write(ready_fd, str(e).encode())
        raise SystemExit(1) from None
    os.write(ready_fd, b"ok")
    os.close(ready_fd)
    pump(log, {stdout_fd: b"stdout", stderr_fd: b"stderr"})
    log.close()

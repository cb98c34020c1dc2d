"""Reading a container's CRI log: tail, timestamps, rotated files, follow (inotify).

See `minikube_py.logs.cri` for the format and the file layout. `read_log` is also
reachable as `minikube_py.logs.cri.read_log`.
"""

from __future__ import annotations

import errno
import os
from collections import deque
from collections.abc import Callable, Iterator
from typing import Protocol

from minikube_py.logs.cri import (
    PARTIAL,
    STREAMS,
    CRILogError,
    canonical_timestamp,
    log_writer_active,
    parse_line,
    rotated_logs,
)

_READ_CHUNK = 1 << 16


class _Cursor:
    """An open log file read forward in whole records; keeps a trailing incomplete one."""

    __slots__ = ("fd", "ino", "rest")

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.ino = os.fstat(fd).st_ino
        self.rest = b""

    @classmethod
    def open(cls, path: str) -> _Cursor | None:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return None
        except OSError as e:
            raise CRILogError(f"cannot open container log {path}: {e.strerror}") from None
        return cls(fd)

    def records(self, limit: int = 1 << 20) -> list[bytes]:
        """Whole records from here on, up to about `limit` bytes; [] at end of file."""
        parts: list[bytes] = []
        size = 0
        while size < limit:
            data = os.read(self.fd, _READ_CHUNK)
            if not data:
                break
            parts.append(data)
            size += len(data)
        if not parts:
            return []
        lines = (self.rest + b"".join(parts)).split(b"\n")
        self.rest = lines.pop()
        return lines

    def take_rest(self) -> list[bytes]:
        rest, self.rest = self.rest, b""
        return [rest] if rest else []

    def close(self) -> None:
        os.close(self.fd)


class _Lines:
    """Joins each stream's P records into the F record that ends the line."""

    def __init__(self, timestamps: bool) -> None:
        self._timestamps = timestamps
        # stream -> [timestamp of the line's first chunk, chunks not yet emitted, emitted yet]
        self._pending: dict[bytes, list] = {}

    def _prefix(self, ts: bytes) -> bytes:
        if not self._timestamps:
            return b""
        if len(ts) != 30 or not ts.endswith(b"Z"):  # normalise to kubelet's RFC3339NanoFixed
            ts = canonical_timestamp(ts)
        return ts + b" "

    def feed(self, line: bytes) -> bytes | None:
        try:
            rec = parse_line(line)
        except CRILogError:
            return None  # kubelet skips a record it cannot parse, and so do we
        pending = self._pending.get(rec.stream)
        if rec.partial:
            if pending is None:
                self._pending[rec.stream] = [rec.timestamp, [rec.content], False]
            else:
                pending[1].append(rec.content)
            return None
        if pending is None:
            return self._prefix(rec.timestamp) + rec.content + b"\n"
        del self._pending[rec.stream]
        body = b"".join(pending[1]) + rec.content + b"\n"
        return body if pending[2] else self._prefix(pending[0]) + body

    def flush_partial(self) -> list[bytes]:
        """Emit what unfinished lines hold so far (a prompt shows before its newline)."""
        out = []
        for pending in self._pending.values():
            if pending[1]:
                data = b"".join(pending[1])
                out.append(data if pending[2] else self._prefix(pending[0]) + data)
                pending[1] = []
                pending[2] = True
        return out

    def finish(self) -> list[bytes]:
        out = self.flush_partial()
        self._pending.clear()
        return out


def _open_files(log_path: str) -> list[_Cursor]:
    """Rotated files oldest first, then the current one; each opened once, in time order."""
    current = _Cursor.open(log_path)
    files: list[_Cursor] = []
    for name in rotated_logs(log_path):
        cursor = _Cursor.open(name)
        if cursor is None:
            continue  # removed as excess between listing and opening
        if current is not None and cursor.ino == current.ino:
            cursor.close()  # the current file was rotated while we listed: keep its place
            cursor, current = current, None
        files.append(cursor)
    if current is not None:
        files.append(current)
    return files


def _newer_files(log_path: str, cursor: _Cursor) -> list[_Cursor]:
    """Files written after `cursor`'s, once it was rotated away; [] while it is current."""
    try:
        if os.stat(log_path).st_ino == cursor.ino:
            return []
    except FileNotFoundError:
        pass  # mid-rotation: the new current file is not there yet
    newer: list[_Cursor] = []
    seen = False
    for name in rotated_logs(log_path):
        try:
            ino = os.stat(name).st_ino
        except FileNotFoundError:
            continue
        if seen:
            c = _Cursor.open(name)
            if c is not None:
                newer.append(c)
        seen = seen or ino == cursor.ino
    current = _Cursor.open(log_path)
    if current is not None:
        if current.ino == cursor.ino:
            current.close()
        else:
            newer.append(current)
    return newer


def _tail_start(files: list[_Cursor], n: int) -> tuple[int, int]:
    """(file index, offset) from which reading forward yields whole the last `n` lines.

    Scans records backwards and stops at a point where every stream seen has more than `n`
    F records after it: each of the last `n` lines then has its stream's previous F record,
    and so all its P records, inside what is read. A stream's unfinished last line (P records
    and no F yet) is included when the scan reaches it: as kubelet counts, it then sits
    where its last chunk is, not at the end.
    """
    if n == 0:
        last = len(files) - 1
        return last, os.fstat(files[last].fd).st_size
    seen: dict[bytes, int] = {}
    for i in range(len(files) - 1, -1, -1):
        for start, record in _records_backwards(files[i].fd):
            parts = record.split(b" ", 3)
            if len(parts) < 3 or parts[1] not in STREAMS:
                continue
            count = seen.setdefault(parts[1], 0)
            if parts[2] != PARTIAL and not parts[2].startswith(b"P:"):
                seen[parts[1]] = count = count + 1
                if count > n and all(c > n for c in seen.values()):
                    return i, start
    return 0, 0


def _records_backwards(fd: int) -> Iterator[tuple[int, bytes]]:
    """(offset, record) of each newline-ended record of a file, the last one first."""
    pos = os.fstat(fd).st_size
    carry = None  # bytes after the newline last seen; None: still in an unfinished record
    while pos > 0:
        size = min(_READ_CHUNK, pos)
        pos -= size
        block = os.pread(fd, size, pos)
        if carry is None:
            newline = block.rfind(b"\n")
            if newline < 0:
                continue
            block, carry = block[:newline], b""
        joined = block + carry
        lines = joined.split(b"\n")
        carry = lines[0]
        end = pos + len(joined)
        for line in reversed(lines[1:]):
            end -= len(line)
            yield end, line
            end -= 1
    if carry:
        yield 0, carry


class _StopEvent(Protocol):
    def is_set(self) -> bool: ...


def read_log(
    log_path: str,
    *,
    tail_lines: int | None = None,
    timestamps: bool = False,
    follow: bool = False,
    stop_event: _StopEvent | None = None,
    is_finished: Callable[[], bool] | None = None,
    check_interval: float = 0.5,
) -> Iterator[bytes]:
    """Yield a container's output, line by line, from its CRI log and its rotated files.

    Each item is one line as the container wrote it: P chunks joined to their F record, the
    newline kept (the last line may lack one), prefixed with the RFC3339NanoFixed time of
    the line's first chunk and a space when `timestamps`. `tail_lines` N keeps the last N
    lines (0: none; None or negative: all).

    With `follow`, it then yields lines as they are written, woken by inotify on the log's
    directory (no polling interval), crossing into new files as the writer rotates, and
    ends when `stop_event` is set or `is_finished()` is true and everything written has
    been read. `is_finished` defaults to "no log writer holds this log" (see
    `log_writer_active`); the checks are also made every `check_interval` seconds, so a
    `stop_event` or a caller's `is_finished` is seen without an event.

    Raises CRILogError when there is neither `log_path` nor a rotated file of it.
    """
    # the watch comes first, so that no write between opening and watching is missed
    watcher = _watch_directory(log_path) if follow else None
    files: list[_Cursor] = []
    try:
        files = _open_files(log_path)
        if not files:
            raise CRILogError(f"no container log at {log_path}")
        finished = is_finished or (lambda: not log_writer_active(log_path))
        yield from _read_files(
            log_path, files, tail_lines, timestamps, watcher, stop_event, finished, check_interval
        )
    finally:
        for cursor in files:
            cursor.close()
        if watcher is not None:
            watcher.close()


def _watch_directory(log_path: str):
    """An inotify watch on the log's directory: writes, creations, renames, closes."""
    from minikube_py.logs import inotify

    directory = os.path.dirname(log_path) or "."
    try:
        watcher = inotify.Inotify()
    except OSError as e:
        raise CRILogError(
            f"cannot follow {log_path}: inotify_init1: {e.strerror}"
            " (see fs.inotify.max_user_instances)"
        ) from None
    mask = (
        inotify.IN_MODIFY
        | inotify.IN_CLOSE_WRITE
        | inotify.IN_CREATE
        | inotify.IN_DELETE
        | inotify.IN_MOVED_FROM
        | inotify.IN_MOVED_TO
    )
    try:
        watcher.add_watch(directory, mask)
    except OSError as e:
        watcher.close()
        if e.errno == errno.ENOENT:
            raise CRILogError(f"no container log at {log_path}") from None
        raise CRILogError(f"cannot follow {log_path}: inotify_add_watch: {e.strerror}") from None
    return watcher


def _feed_file(cursor: _Cursor, lines: _Lines, whole: bool) -> Iterator[bytes]:
    """Lines from `cursor` to its end; `whole`: the file is complete, so is its last record."""
    while batch := cursor.records():
        for line in batch:
            if (out := lines.feed(line)) is not None:
                yield out
    if whole:
        for line in cursor.take_rest():
            if (out := lines.feed(line)) is not None:
                yield out


def _read_files(
    log_path: str,
    files: list[_Cursor],
    tail_lines: int | None,
    timestamps: bool,
    watcher,
    stop_event: _StopEvent | None,
    is_finished: Callable[[], bool],
    check_interval: float,
) -> Iterator[bytes]:
    lines = _Lines(timestamps)
    window: deque[bytes] | None = None
    if tail_lines is not None and tail_lines >= 0:
        first, offset = _tail_start(files, tail_lines)
        for skipped in files[:first]:
            skipped.close()
        del files[:first]
        os.lseek(files[0].fd, offset, os.SEEK_SET)
        window = deque(maxlen=tail_lines)

    def on_disk() -> Iterator[bytes]:
        for idx, cursor in enumerate(files):
            yield from _feed_file(cursor, lines, idx < len(files) - 1 or watcher is None)
        yield from lines.finish() if watcher is None else lines.flush_partial()

    if window is not None:
        window.extend(on_disk())
        yield from window
    else:
        yield from on_disk()
    if watcher is None:
        return

    # follow: what is written from now on
    cursor = files[-1]
    while True:
        if stop_event is not None and stop_event.is_set():
            return
        done = is_finished()  # asked before draining: all written before "done" gets read
        while True:
            yield from _feed_file(cursor, lines, whole=False)
            newer = _newer_files(log_path, cursor)
            if not newer:
                break
            files.extend(newer)
            # rotated away: the writer wrote its last record before the rename
            for nxt in newer:
                yield from _feed_file(cursor, lines, whole=True)
                cursor.close()
                files.remove(cursor)
                cursor = nxt
        if done:
            yield from _feed_file(cursor, lines, whole=True)
            yield from lines.finish()
            return
        yield from lines.flush_partial()
        watcher.wait(check_interval)

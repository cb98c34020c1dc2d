"""The CRI container log format: records, rotated-file names, the writer lock.

The reader (`read_log`) is in `minikube_py.logs.reader` and is reachable from here too.

A log file holds one record per line, as containerd and CRI-O write them and kubelet reads
them (kubelet's pkg/kubelet/kuberuntime/logs):

    <timestamp> <stream> <tag> <content>\\n
    2016-10-06T00:17:09.669794202Z stdout F hello

- timestamp: RFC 3339 with nanoseconds. We write UTC with exactly nine digits and ``Z`` (so
  records sort as text); we read any RFC 3339 time, as kubelet does.
- stream: ``stdout`` or ``stderr``.
- tag: ``P`` (partial: the line goes on in that stream's next record) or ``F`` (full: the
  line's last chunk). Further ``:``-separated tags are ignored (kubelet keeps the field open).
- content: the bytes read, without the newline that ended the line. A line longer than
  16 KiB is cut into ``P`` records; data that was read without a newline yet (a prompt, the
  last bytes before EOF) is written as ``P`` at once rather than held back (as conmon
  does; containerd waits for the newline), so `logs -f` shows it and a writer killed in
  between loses nothing it had read.

Rotation, named as kubelet's container log manager names it: the current file is
``<log_path>``; before a write would take it past the size limit it is renamed to
``<log_path>.<YYYYmmdd-HHMMSS>.<microseconds>`` (UTC, fixed width: name order is time
order; kubelet's name plus microseconds, because a small limit can rotate several times a
second) and a new file is started. At most ``max_files`` files exist in all, rotated plus
current; the oldest go first. Rotated files are not compressed.

While a log writer process works on ``<log_path>`` it holds an exclusive flock on
``<dir>/.<name>.writer.lock`` (see `log_writer_active`): any process, a restarted agent
included, can tell whether more output may still come.
"""

from __future__ import annotations

import os
import time

from minikube_py.errors import MinikubeError

STDOUT = b"stdout"
STDERR = b"stderr"
STREAMS = (STDOUT, STDERR)
PARTIAL = b"P"
FULL = b"F"
# containerd's default max_container_log_line_size
MAX_RECORD_CONTENT = 16 * 1024
ROTATED_TIME_FORMAT = "%Y%m%d-%H%M%S"


class CRILogError(MinikubeError):
    """A container log cannot be read (missing file, unreadable directory)."""


# ---------------------------------------------------------------- records


def format_timestamp(ns: int) -> bytes:
    """RFC 3339 with nine fraction digits, UTC: b'2016-10-06T00:17:09.669794202Z'."""
    sec, frac = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)).encode() + b".%09dZ" % frac


def _days_from_civil(y: int, m: int, d: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm)."""
    y -= m <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def parse_timestamp(ts: bytes | str) -> int:
    """Nanoseconds since the epoch of any RFC 3339 time (fraction optional, Z or +hh:mm)."""
    s = ts.decode("ascii", "replace") if isinstance(ts, bytes) else ts
    try:
        if len(s) < 20 or s[4] != "-" or s[7] != "-" or s[10] not in "Tt" or s[13] != ":":
            raise ValueError
        y, mo, d = int(s[0:4]), int(s[5:7]), int(s[8:10])
        h, mi, sec = int(s[11:13]), int(s[14:16]), int(s[17:19])
        rest = s[19:]
        frac = 0
        if rest.startswith("."):
            digits = len(rest) - len(rest[1:].lstrip("0123456789")) - 1
            if not 1 <= digits <= 9:
                raise ValueError
            frac = int(rest[1 : 1 + digits].ljust(9, "0"))
            rest = rest[1 + digits :]
        if rest in ("Z", "z"):
            offset = 0
        elif len(rest) == 6 and rest[0] in "+-" and rest[3] == ":":
            offset = (int(rest[1:3]) * 60 + int(rest[4:6])) * 60 * (1 if rest[0] == "+" else -1)
        else:
            raise ValueError
        if not (1 <= mo <= 12 and 1 <= d <= 31 and h < 24 and mi < 60 and sec < 61):
            raise ValueError
    except ValueError:
        raise CRILogError(f"invalid RFC 3339 timestamp {s!r} in CRI log") from None
    secs = _days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - offset
    return secs * 1_000_000_000 + frac


def canonical_timestamp(ts: bytes) -> bytes:
    try:
        return format_timestamp(parse_timestamp(ts))
    except CRILogError:
        return ts


def encode_records(
    stream: bytes, ts: bytes, data: bytes, out: list[bytes], max_len: int = MAX_RECORD_CONTENT
) -> None:
    """Append to `out` the CRI records for `data`, one chunk read from `stream` at `ts`.

    One item per record (newline included), so that a writer can rotate between records.

    Each newline ends an ``F`` record; bytes after the last newline, and every full
    `max_len` slice of a longer line, become ``P`` records.
    """
    head_f = b"%s %s F " % (ts, stream)
    head_p = b"%s %s P " % (ts, stream)
    lines = data.split(b"\n")
    rest = lines.pop()  # b"" when data ended with a newline
    if lines and max(map(len, lines)) <= max_len:
        out.extend([head_f + line + b"\n" for line in lines])
    else:
        for line in lines:
            for i in range(0, len(line) - max_len, max_len):
                out.append(head_p + line[i : i + max_len] + b"\n")
            tail = len(line) - (len(line) - 1) % max_len - 1 if len(line) > max_len else 0
            out.append(head_f + line[tail:] + b"\n")
    for i in range(0, len(rest), max_len):
        out.append(head_p + rest[i : i + max_len] + b"\n")


class LogRecord:
    """One parsed record: `timestamp` as written, `stream` b'stdout'/b'stderr', `content`."""

    __slots__ = ("content", "partial", "stream", "timestamp")

    def __init__(self, timestamp: bytes, stream: bytes, partial: bool, content: bytes) -> None:
        self.timestamp = timestamp
        self.stream = stream
        self.partial = partial
        self.content = content

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LogRecord):
            return NotImplemented
        return (self.timestamp, self.stream, self.partial, self.content) == (
            other.timestamp,
            other.stream,
            other.partial,
            other.content,
        )

    def __repr__(self) -> str:
        tag = "P" if self.partial else "F"
        return f"LogRecord({self.timestamp!r}, {self.stream!r}, {tag}, {self.content!r})"


def parse_line(line: bytes) -> LogRecord:
    """Parse one record (its trailing newline optional), tolerantly as kubelet does.

    The timestamp is checked for shape only (see `parse_timestamp` for its value); a tag
    other than ``P`` counts as full; a record without content (``... F``) has empty content.
    """
    if line.endswith(b"\n"):
        line = line[:-1]
    parts = line.split(b" ", 3)
    if len(parts) < 3:
        raise CRILogError(f"not a CRI log record (want '<time> <stream> <tag> ...'): {line[:80]!r}")
    ts, stream, tags = parts[0], parts[1], parts[2]
    if len(ts) < 20 or ts[10:11] != b"T" or ts[4:5] != b"-":
        raise CRILogError(f"CRI log record has no RFC 3339 timestamp: {line[:80]!r}")
    if stream not in STREAMS:
        raise CRILogError(f"CRI log record has stream {stream[:20]!r}, want stdout or stderr")
    partial = tags == PARTIAL or tags.startswith(b"P:")
    return LogRecord(ts, stream, partial, parts[3] if len(parts) == 4 else b"")


# ---------------------------------------------------------------- files


def rotated_log_name(log_path: str, us: int) -> str:
    """The name `log_path` is renamed to when rotated at `us` microseconds since the epoch."""
    sec, frac = divmod(us, 1_000_000)
    return f"{log_path}.{time.strftime(ROTATED_TIME_FORMAT, time.gmtime(sec))}.{frac:06d}"


def _is_rotated_suffix(s: str) -> bool:
    # YYYYmmdd-HHMMSS.ffffff; also kubelet's own YYYYmmdd-HHMMSS
    return (
        len(s) in (15, 22)
        and s[8] == "-"
        and s[:8].isdigit()
        and s[9:15].isdigit()
        and (len(s) == 15 or (s[15] == "." and s[16:].isdigit()))
    )


def rotated_logs(log_path: str) -> list[str]:
    """Paths of `log_path`'s rotated files, oldest first."""
    directory, base = os.path.split(log_path)
    prefix = base + "."
    try:
        names = os.listdir(directory or ".")
    except FileNotFoundError:
        return []
    return [
        os.path.join(directory, n)
        for n in sorted(names)
        if n.startswith(prefix) and _is_rotated_suffix(n[len(prefix) :])
    ]


def writer_lock_path(log_path: str) -> str:
    directory, base = os.path.split(log_path)
    return os.path.join(directory, f".{base}.writer.lock")


def log_writer_active(log_path: str) -> bool:
    """Whether a log writer process still writes `log_path` (it holds the writer lock)."""
    import fcntl

    try:
        fd = os.open(writer_lock_path(log_path), os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def __getattr__(name: str):
    # The reader lives apart so that the log writer process, which imports this module,
    # does not pay for its imports (typing, collections, ctypes).
    if name == "read_log":
        from minikube_py.logs.reader import read_log

        return read_log
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

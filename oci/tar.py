"""A streaming reader of layer tars: ustar, GNU long names and PAX, nothing extracted.

Python's tarfile is not used: it reads in small records, refuses the
unpadded, end-blockless tars some tools (umoci 0.4.7 `insert`) write, and its
extraction filters are not what keeps us safe.  Here a layer arrives as an
iterator of large decompressed chunks; headers are parsed from them and file
data is written straight from them to a file descriptor.
"""

from __future__ import annotations

import base64
import os
import struct
import sys
from collections.abc import Iterator
from dataclasses import dataclass

from oci.errors import OCIError

BLOCK = 512
ZERO_BLOCK = bytes(BLOCK)
# name mode uid gid size mtime chksum typeflag linkname magic version uname gname
# devmajor devminor prefix
_HEADER = struct.Struct("100s8s8s8s12s12s8sc100s6s2s32s32s8s8s155s12x")
_FS_ENCODING = sys.getfilesystemencoding()

REG = "0"
HARDLINK = "1"
SYMLINK = "2"
CHAR = "3"
BLOCKDEV = "4"
DIR = "5"
FIFO = "6"

_REGULAR_FLAGS = {"0": REG, "\0": REG, "7": REG}
_KNOWN = {HARDLINK, SYMLINK, CHAR, BLOCKDEV, DIR, FIFO}


class TarError(OCIError):
    """A layer is not a tar archive we can read safely."""


@dataclass(slots=True)
class TarEntry:
    name: str  # as in the archive (PAX / GNU long name applied), not yet cleaned
    type: str  # one of REG, HARDLINK, SYMLINK, CHAR, BLOCKDEV, DIR, FIFO
    mode: int
    uid: int
    gid: int
    size: int
    mtime_ns: int
    linkname: str
    devmajor: int
    devminor: int
    xattrs: dict[str, bytes] | None


class ChunkStream:
    """Sequential reads over an iterator of byte chunks, without joining them."""

    __slots__ = ("_chunk", "_it", "_pos")

    def __init__(self, chunks: Iterator[bytes]):
        self._it = iter(chunks)
        self._chunk = b""
        self._pos = 0

    def _fill(self) -> bool:
        while self._pos >= len(self._chunk):
            nxt = next(self._it, None)
            if nxt is None:
                return False
            self._chunk = nxt
            self._pos = 0
        return True

    def read(self, n: int) -> bytes:
        """Up to n bytes; fewer only at the end of the stream."""
        pos = self._pos
        if pos + n <= len(self._chunk):
            self._pos = pos + n
            return self._chunk[pos : pos + n]
        parts = []
        while n and self._fill():
            take = min(n, len(self._chunk) - self._pos)
            parts.append(self._chunk[self._pos : self._pos + take])
            self._pos += take
            n -= take
        return b"".join(parts)

    def skip(self, n: int) -> int:
        """Skip up to n bytes; returns how many were skipped."""
        done = 0
        while n and self._fill():
            take = min(n, len(self._chunk) - self._pos)
            self._pos += take
            n -= take
            done += take
        return done

    def write_to(self, fd: int, n: int) -> int:
        """Write the next n bytes to fd; returns how many there were (n unless truncated)."""
        done = 0
        while n and self._fill():
            take = min(n, len(self._chunk) - self._pos)
            view = memoryview(self._chunk)[self._pos : self._pos + take]
            while view:
                written = os.write(fd, view)
                view = view[written:]
            self._pos += take
            n -= take
            done += take
        return done

    def drain(self) -> None:
        """Consume the rest of the stream (so that its digest covers every byte)."""
        self._chunk = b""
        self._pos = 0
        for _ in self._it:
            pass


def _num(field: bytes, what: str) -> int:
    if field and field[0] & 0x80:
        # GNU base-256: big-endian two's complement in the rest of the field.
        value = (
            int.from_bytes(field, "big", signed=True)
            if field[0] == 0xFF
            else (int.from_bytes(bytes([field[0] & 0x7F]) + field[1:], "big"))
        )
        return value
    text = field.split(b"\0", 1)[0].strip(b" ")
    if not text:
        return 0
    try:
        return int(text, 8)
    except ValueError:
        raise TarError(f"invalid tar header: {what} field {field!r} is not octal") from None


_oct_cache: dict[bytes, int] = {}


def _oct(field: bytes, what: str) -> int:
    """A numeric header field: octal text, fast; anything else (base-256) the long way.
    Modes, owners and times repeat from entry to entry, hence the cache."""
    value = _oct_cache.get(field)
    if value is None:
        try:
            value = int(field.rstrip(b"\0 ") or b"0", 8)
        except ValueError:
            value = _num(field, what)
        if len(_oct_cache) < 4096:
            _oct_cache[field] = value
    return value


def _cstr(field: bytes) -> bytes:
    return field.split(b"\0", 1)[0]


def _parse_pax(data: bytes) -> dict[str, bytes]:
    records: dict[str, bytes] = {}
    pos = 0
    while pos < len(data):
        if data[pos] == 0:
            break
        space = data.find(b" ", pos)
        if space < 0:
            raise TarError("invalid PAX header: record without length")
        try:
            length = int(data[pos:space])
        except ValueError:
            raise TarError(f"invalid PAX header: bad record length {data[pos:space]!r}") from None
        record = data[space + 1 : pos + length]
        if length <= 0 or not record.endswith(b"\n") or b"=" not in record:
            raise TarError("invalid PAX header: malformed record")
        key, value = record[:-1].split(b"=", 1)
        records[key.decode("utf-8", "surrogateescape")] = value
        pos += length
    return records


def _pax_time_ns(value: bytes) -> int:
    text = value.decode("ascii", "replace")
    sign = -1 if text.startswith("-") else 1
    whole, _, frac = text.lstrip("-").partition(".")
    try:
        ns = int(whole or "0") * 1_000_000_000 + int((frac + "000000000")[:9] or "0")
    except ValueError:
        raise TarError(f"invalid PAX time {text!r}") from None
    return sign * ns


def _pax_xattrs(pax: dict[str, bytes]) -> dict[str, bytes] | None:
    xattrs: dict[str, bytes] = {}
    for key, value in pax.items():
        if key.startswith("SCHILY.xattr."):
            xattrs[key[len("SCHILY.xattr.") :]] = value
        elif key.startswith("LIBARCHIVE.xattr."):
            name = key[len("LIBARCHIVE.xattr.") :]
            from urllib.parse import unquote

            pad = "=" * (-len(value) % 4)
            try:
                xattrs[unquote(name)] = base64.b64decode(value + pad.encode())
            except ValueError:
                raise TarError(f"invalid PAX header: xattr {name!r} is not base64") from None
    return xattrs or None


class TarReader:
    """Iterate the entries of a tar stream; read an entry's data with `write_data` before
    asking for the next entry (unread data is skipped)."""

    def __init__(self, stream: ChunkStream):
        self._s = stream
        self._remaining = 0
        self._pad = 0
        self._global: dict[str, bytes] = {}

    def write_data(self, fd: int) -> None:
        n = self._remaining
        if self._s.write_to(fd, n) != n:
            raise TarError("layer tar is truncated inside a file's data")
        self._remaining = 0

    def _finish_entry(self) -> bool:
        """Skip what is left of the current entry; False when the stream ended in the
        padding (tolerated: some writers omit the last padding and end blocks)."""
        if self._remaining:
            if self._s.skip(self._remaining) != self._remaining:
                raise TarError("layer tar is truncated inside a file's data")
            self._remaining = 0
        pad, self._pad = self._pad, 0
        return self._s.skip(pad) == pad

    def _data(self, size: int) -> bytes:
        data = self._s.read(size)
        if len(data) != size:
            raise TarError("layer tar is truncated inside a header's data")
        self._s.skip(-size % BLOCK)
        return data

    def __iter__(self) -> Iterator[TarEntry]:
        pax: dict[str, bytes] = {}
        long_name: bytes | None = None
        long_link: bytes | None = None
        while True:
            if not self._finish_entry():
                return
            header = self._s.read(BLOCK)
            if len(header) < BLOCK:
                if header.strip(b"\0"):
                    raise TarError("layer tar is truncated inside a header")
                return
            if header == ZERO_BLOCK:
                return
            fields = _HEADER.unpack(header)
            _check_sum(header, fields[6])
            flag = chr(header[156])
            size = _oct(fields[4], "size")
            if flag in ("x", "X"):
                pax.update(_parse_pax(self._data(size)))
                continue
            if flag == "g":
                self._global.update(_parse_pax(self._data(size)))
                continue
            if flag == "L":
                long_name = _cstr(self._data(size))
                continue
            if flag == "K":
                long_link = _cstr(self._data(size))
                continue
            if self._global:
                pax = {**self._global, **pax}
            entry = _entry(header, fields, flag, size, pax, long_name, long_link)
            pax, long_name, long_link = {}, None, None
            # As Go's archive/tar and tarfile do: only regular files carry data; the size
            # field of links, directories and devices is ignored.
            self._remaining = entry.size
            self._pad = -entry.size % BLOCK
            yield entry


def _check_sum(header: bytes, field: bytes) -> None:
    stored = _oct(field, "checksum")
    unsigned = sum(header) - sum(header[148:156]) + 256
    if stored != unsigned:
        high = sum(b for b in header[:148] + header[156:] if b > 127)
        if stored != unsigned - 2 * high:  # some old writers summed signed chars
            raise TarError("not a tar archive (header checksum mismatch)")


def _entry(
    header: bytes,
    fields: tuple,
    flag: str,
    size: int,
    pax: dict[str, bytes],
    long_name: bytes | None,
    long_link: bytes | None,
) -> TarEntry:
    etype = _REGULAR_FLAGS.get(flag, flag)
    if etype != REG and etype not in _KNOWN:
        kinds = {"S": "GNU sparse file", "M": "multi-volume", "V": "volume label"}
        raise TarError(f"unsupported tar entry type {kinds.get(flag, repr(flag))}")
    name = fields[0].split(b"\0", 1)[0]
    if fields[9] == b"ustar\0":
        prefix = fields[15].split(b"\0", 1)[0]
        if prefix:
            name = prefix + b"/" + name
    if long_name is not None:
        name = long_name
    link = long_link if long_link is not None else fields[8].split(b"\0", 1)[0]
    uid = _oct(fields[2], "uid")
    gid = _oct(fields[3], "gid")
    mtime_ns = _oct(fields[5], "mtime") * 1_000_000_000
    xattrs = None
    if pax:
        if any(k.startswith("GNU.sparse") for k in pax):
            raise TarError("unsupported tar entry type PAX sparse file")
        name = pax.get("path", name)
        link = pax.get("linkpath", link)
        size = int(pax["size"]) if "size" in pax else size
        uid = int(pax["uid"]) if "uid" in pax else uid
        gid = int(pax["gid"]) if "gid" in pax else gid
        if "mtime" in pax:
            mtime_ns = _pax_time_ns(pax["mtime"])
        xattrs = _pax_xattrs(pax)
    if b"\0" in name or b"\0" in link:
        raise TarError(f"tar entry name contains a NUL byte: {name!r}")
    device = etype in (CHAR, BLOCKDEV)
    return TarEntry(
        name=name.decode(_FS_ENCODING, "surrogateescape"),
        type=etype,
        mode=_oct(fields[1], "mode") & 0o7777,
        uid=uid,
        gid=gid,
        size=size if etype == REG else 0,
        mtime_ns=mtime_ns,
        linkname=link.decode(_FS_ENCODING, "surrogateescape") if link else "",
        devmajor=_oct(fields[13], "devmajor") if device else 0,
        devminor=_oct(fields[14], "devminor") if device else 0,
        xattrs=xattrs,
    )

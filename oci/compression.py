"""Layer compression: gzip (ISA-L), zstd and plain tar, read as a stream.

A layer is never held in memory whole: `open_layer` returns a file object that
decompresses as it is read.  The compression is told by the layer's media
type and checked against the blob's first bytes; the bytes win, because
images whose media type says gzip over a plain tar do exist.
"""

from __future__ import annotations

import io
from typing import BinaryIO

from oci.errors import OCIError

GZIP = "gzip"
ZSTD = "zstd"
NONE = "none"

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"

# Read size handed to the decompressors: large, so the C code runs long with the GIL released.
READ_SIZE = 1 << 20


class CompressionError(OCIError):
    """A layer blob cannot be decompressed (unknown media type, corrupt stream)."""


def from_media_type(media_type: str | None) -> str | None:
    """The compression a layer media type names; None when it names none we know."""
    if not media_type:
        return None
    if "encrypted" in media_type:
        raise CompressionError(f"encrypted layers are not supported (media type {media_type})")
    if media_type.endswith(("+gzip", ".tar.gzip", ".tar.gz")):
        return GZIP
    if media_type.endswith(("+zstd", ".tar.zstd")):
        return ZSTD
    if media_type.endswith((".tar", ".diff.tar")):
        return NONE
    return None


def from_magic(head: bytes) -> str:
    if head.startswith(GZIP_MAGIC):
        return GZIP
    if head.startswith(ZSTD_MAGIC):
        return ZSTD
    return NONE


def detect(path: str, media_type: str | None = None) -> str:
    """gzip, zstd or none for the blob at `path`, by its magic bytes (the media type only
    decides whether the blob is a layer we can read at all)."""
    from_media_type(media_type)  # refuses encrypted layers
    with open(path, "rb") as f:
        head = f.read(4)
    return from_magic(head)


def open_layer(path: str, media_type: str | None = None) -> BinaryIO:
    """The uncompressed tar stream of the layer blob at `path`."""
    kind = detect(path, media_type)
    if kind == GZIP:
        from isal import igzip

        return igzip.open(path, "rb")  # type: ignore[return-value]
    raw = open(path, "rb", buffering=0)  # noqa: SIM115 (returned, closed by the caller)
    if kind == ZSTD:
        import zstandard

        return zstandard.ZstdDecompressor().stream_reader(
            raw, read_size=READ_SIZE, read_across_frames=True, closefd=True
        )
    return io.BufferedReader(raw, buffer_size=READ_SIZE)


def read_chunks(stream: BinaryIO, size: int = READ_SIZE):
    """Yield the stream's bytes in chunks of up to `size`, turning decoder errors into
    CompressionError."""
    while True:
        try:
            chunk = stream.read(size)
        except (OSError, EOFError, ValueError) as e:
            raise CompressionError(f"corrupt compressed layer data: {e}") from e
        except Exception as e:
            # zstandard raises its own ZstdError, which derives from Exception only.
            if type(e).__name__ == "ZstdError":
                raise CompressionError(f"corrupt zstd layer data: {e}") from e
            raise
        if not chunk:
            return
        yield chunk

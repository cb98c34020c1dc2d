"""Crafting layer tars for tests: tarfile builds them (it is only used to *write* here)."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import stat
import tarfile

TYPES = {
    "file": tarfile.REGTYPE,
    "dir": tarfile.DIRTYPE,
    "symlink": tarfile.SYMTYPE,
    "hardlink": tarfile.LNKTYPE,
    "char": tarfile.CHRTYPE,
    "block": tarfile.BLKTYPE,
    "fifo": tarfile.FIFOTYPE,
}


def entry(
    name: str,
    kind: str = "file",
    data: bytes = b"",
    *,
    mode: int | None = None,
    link: str = "",
    uid: int = 0,
    gid: int = 0,
    mtime: int = 1_600_000_000,
    dev: tuple[int, int] = (0, 0),
    xattrs: dict[str, bytes] | None = None,
) -> dict:
    return dict(
        name=name,
        kind=kind,
        data=data,
        mode=mode,
        link=link,
        uid=uid,
        gid=gid,
        mtime=mtime,
        dev=dev,
        xattrs=xattrs,
    )


def file(name: str, data: bytes | str = b"", **kw) -> dict:
    return entry(name, "file", data.encode() if isinstance(data, str) else data, **kw)


def directory(name: str, **kw) -> dict:
    return entry(name, "dir", **kw)


def symlink(name: str, target: str, **kw) -> dict:
    return entry(name, "symlink", link=target, **kw)


def hardlink(name: str, target: str, **kw) -> dict:
    return entry(name, "hardlink", link=target, **kw)


def tar_bytes(entries: list[dict]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for e in entries:
            info = tarfile.TarInfo(e["name"])
            info.type = TYPES[e["kind"]]
            default_mode = 0o755 if e["kind"] == "dir" else 0o644
            info.mode = default_mode if e["mode"] is None else e["mode"]
            info.uid, info.gid, info.mtime = e["uid"], e["gid"], e["mtime"]
            info.linkname = e["link"]
            info.devmajor, info.devminor = e["dev"]
            if e["xattrs"]:
                # surrogates make tarfile write hdrcharset=BINARY and the raw bytes back
                info.pax_headers = {
                    f"SCHILY.xattr.{k}": v.decode("utf-8", "surrogateescape")
                    for k, v in e["xattrs"].items()
                }
            if e["kind"] == "file":
                info.size = len(e["data"])
                t.addfile(info, io.BytesIO(e["data"]))
            else:
                t.addfile(info)
    return buf.getvalue()


def write_layer(path: str, entries: list[dict], compression: str | None = None) -> str:
    """Write a layer blob; returns its diff_id (sha256 of the tar)."""
    raw = tar_bytes(entries)
    data = raw
    if compression == "gzip":
        data = gzip.compress(raw)
    elif compression == "zstd":
        import zstandard

        data = zstandard.ZstdCompressor().compress(raw)
    with open(path, "wb") as f:
        f.write(data)
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def snapshot_tree(root: str, skip: str | None = None) -> dict[str, tuple]:
    """Everything about a tree that a write, chmod, chown or link would change."""
    out: dict[str, tuple] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        if skip:
            dirnames[:] = [d for d in dirnames if os.path.join(dirpath, d) != skip]
        for name in [".", *dirnames, *filenames]:
            path = os.path.normpath(os.path.join(dirpath, name))
            st = os.lstat(path)
            content = None
            if stat.S_ISREG(st.st_mode):
                with open(path, "rb") as f:
                    content = f.read()
            link = os.readlink(path) if stat.S_ISLNK(st.st_mode) else None
            out[path] = (
                st.st_mode,
                st.st_uid,
                st.st_gid,
                st.st_nlink,
                st.st_mtime_ns,
                st.st_ino,
                content,
                link,
            )
    return out

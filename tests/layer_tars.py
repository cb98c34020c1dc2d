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


def describe_tree(root: str) -> dict[str, tuple]:
    """path -> (type, mode, uid, gid, link target, rdev, content sha256, hardlink group)."""
    entries: dict[str, tuple] = {}
    inodes: dict[int, str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in ["", *dirnames, *filenames] if dirpath == root else [*dirnames, *filenames]:
            path = os.path.join(dirpath, name) if name else dirpath
            rel = os.path.relpath(path, root)
            st = os.lstat(path)
            target = os.readlink(path) if stat.S_ISLNK(st.st_mode) else None
            content = None
            group = None
            if stat.S_ISREG(st.st_mode):
                with open(path, "rb") as f:
                    content = hashlib.sha256(f.read()).hexdigest()
                if st.st_nlink > 1:
                    # hardlinked files: name the group by its first path seen (sorted walk)
                    group = inodes.setdefault(st.st_ino, rel)
            rdev = st.st_rdev if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode) else None
            entries[rel] = (
                stat.S_IFMT(st.st_mode),
                stat.S_IMODE(st.st_mode),
                st.st_uid,
                st.st_gid,
                target,
                rdev,
                content,
                group,
            )
        dirnames.sort()
        filenames.sort()
    return entries


def diff_trees(ours: dict, theirs: dict) -> list[str]:
    problems = []
    for path in sorted(set(ours) | set(theirs)):
        if path not in ours:
            problems.append(f"missing in ours: {path}")
        elif path not in theirs:
            problems.append(f"extra in ours: {path}")
        elif ours[path][:7] != theirs[path][:7]:
            problems.append(f"differs: {path}: ours {ours[path]} umoci {theirs[path]}")
    return problems

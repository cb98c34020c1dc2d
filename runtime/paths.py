"""Path resolution inside a container root (used by the init before pivot_root)."""

from __future__ import annotations

import errno
import os


def secure_join(root: str, unsafe: str) -> str:
    """`unsafe` resolved inside `root`: symlinks and '..' never leave it.

    Like filepath-securejoin: an absolute symlink target restarts at `root`.
    """
    pending = [p for p in unsafe.split("/") if p]
    resolved: list[str] = []
    links = 0
    while pending:
        part = pending.pop(0)
        if part == ".":
            continue
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = os.path.join(root, *resolved, part)
        if os.path.islink(candidate):
            links += 1
            if links > 40:
                raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), unsafe)
            target = os.readlink(candidate)
            if target.startswith("/"):
                resolved = []
            pending = [p for p in target.split("/") if p] + pending
            continue
        resolved.append(part)
    return os.path.join(root, *resolved)

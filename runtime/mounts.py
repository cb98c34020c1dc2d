"""Mount options -> mount(2) flags and data, and path resolution inside a root.

Pure functions, computed in the caller (unit-tested without root); the init
process only replays the resulting plan.
"""

from __future__ import annotations

import os
from typing import Any

from runtime import linux
from runtime.errors import SpecError
from runtime.paths import secure_join
from runtime.spec import Mount, Root

# option -> (flag, set?)
_FLAGS: dict[str, tuple[int, bool]] = {
    "ro": (linux.MS_RDONLY, True),
    "rw": (linux.MS_RDONLY, False),
    "nosuid": (linux.MS_NOSUID, True),
    "suid": (linux.MS_NOSUID, False),
    "nodev": (linux.MS_NODEV, True),
    "dev": (linux.MS_NODEV, False),
    "noexec": (linux.MS_NOEXEC, True),
    "exec": (linux.MS_NOEXEC, False),
    "sync": (linux.MS_SYNCHRONOUS, True),
    "async": (linux.MS_SYNCHRONOUS, False),
    "dirsync": (linux.MS_DIRSYNC, True),
    "noatime": (linux.MS_NOATIME, True),
    "atime": (linux.MS_NOATIME, False),
    "nodiratime": (linux.MS_NODIRATIME, True),
    "diratime": (linux.MS_NODIRATIME, False),
    "relatime": (linux.MS_RELATIME, True),
    "norelatime": (linux.MS_RELATIME, False),
    "strictatime": (linux.MS_STRICTATIME, True),
    "nostrictatime": (linux.MS_STRICTATIME, False),
    "bind": (linux.MS_BIND, True),
    "rbind": (linux.MS_BIND | linux.MS_REC, True),
}
_PROPAGATION = {
    "private": linux.MS_PRIVATE,
    "rprivate": linux.MS_PRIVATE | linux.MS_REC,
    "shared": linux.MS_SHARED,
    "rshared": linux.MS_SHARED | linux.MS_REC,
    "slave": linux.MS_SLAVE,
    "rslave": linux.MS_SLAVE | linux.MS_REC,
    "unbindable": linux.MS_UNBINDABLE,
    "runbindable": linux.MS_UNBINDABLE | linux.MS_REC,
}
# flags a bind mount only takes on a second, remounting mount(2)
_REMOUNT_MASK = (
    linux.MS_RDONLY
    | linux.MS_NOSUID
    | linux.MS_NODEV
    | linux.MS_NOEXEC
    | linux.MS_NOATIME
    | linux.MS_NODIRATIME
    | linux.MS_RELATIME
    | linux.MS_STRICTATIME
)


def parse_options(options: list[str]) -> tuple[int, int, str]:
    """(mount flags, propagation flags, data string) for OCI-style options."""
    flags = 0
    propagation = 0
    data = []
    for opt in options:
        if opt in _FLAGS:
            bit, on = _FLAGS[opt]
            flags = flags | bit if on else flags & ~bit
        elif opt in _PROPAGATION:
            propagation = _PROPAGATION[opt]
        else:
            data.append(opt)
    return flags, propagation, ",".join(data)


def plan_mount(m: Mount, index: int) -> dict[str, Any]:
    """One step of the init's mount plan (JSON-able)."""
    flags, propagation, data = parse_options(m.options)
    is_bind = m.type == "bind" or bool(flags & linux.MS_BIND)
    if is_bind:
        flags |= linux.MS_BIND
        if "bind" not in m.options and "rbind" not in m.options:
            flags |= linux.MS_REC  # type "bind" without an option: recursive, as runc
    for piece in data.split(","):
        if piece.startswith("size=") and not _is_size(piece[5:]):
            raise SpecError(f"mounts[{index}].options", f"bad size {piece[5:]!r}")
    return {
        "destination": m.destination,
        "type": "bind" if is_bind else m.type,
        "source": m.source or m.type,
        "flags": flags,
        # a bind mount ignores every flag but MS_BIND|MS_REC on first mount(2)
        "remount_flags": (flags & _REMOUNT_MASK) if is_bind else 0,
        "propagation": propagation,
        "data": data or None,
        "source_is_file": is_bind and os.path.isfile(m.source),
    }


def _is_size(s: str) -> bool:
    s = s.rstrip("kKmMgG%")
    return s.isdigit()


def overlay_data(root: Root) -> str:
    """overlayfs mount data; `lower` is top-most first, as overlayfs wants."""
    for d in [*root.lower, root.upper or "", root.work or ""]:
        if ":" in d or "," in d:
            raise SpecError("root", f"overlay dir {d!r} contains ':' or ','")
    data = f"lowerdir={':'.join(root.lower)},upperdir={root.upper},workdir={root.work}"
    if len(data.encode()) > 4095:  # mount(2) copies one page of data
        raise SpecError(
            "root.lower", f"overlay mount data is {len(data)} bytes, the kernel takes 4095 at most"
        )
    return data


__all__ = ["overlay_data", "parse_options", "plan_mount", "secure_join"]

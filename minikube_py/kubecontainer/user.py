"""Resolving a container's user against its own root filesystem.

An image's ``User`` (or the user the pod asks for) may be ``name``, ``uid``, ``uid:gid``,
``name:group`` or ``uid:group``; names are looked up in the container's ``/etc/passwd`` and
``/etc/group``, as runc and containerd do.  The rootfs belongs to the image, so those files
are opened without ever following a symlink out of it: every path component is opened
relative to its directory with ``O_NOFOLLOW``, and symlinks are resolved by hand with the
rootfs as ``/`` (absolute targets and ``..`` cannot climb above it).
"""

from __future__ import annotations

import errno
import os
import stat
from collections import deque
from dataclasses import dataclass

from minikube_py.errors import CreateContainerConfigError

MAX_SYMLINKS = 40
MAX_FILE_BYTES = 16 * 1024 * 1024
MAX_ID = 2**32 - 1


@dataclass(frozen=True)
class PasswdEntry:
    name: str
    uid: int
    gid: int
    home: str


@dataclass(frozen=True)
class GroupEntry:
    name: str
    gid: int
    members: tuple[str, ...]


def read_file_in_root(root: str, path: str) -> bytes | None:
    """The bytes of regular file ``path`` inside ``root`` (None if missing or not a file)."""
    flags = os.O_RDONLY | os.O_CLOEXEC
    root_fd = os.open(root, flags | os.O_DIRECTORY)
    stack = [root_fd]
    try:
        parts = deque(p for p in path.split("/") if p not in ("", "."))
        links = 0
        while parts:
            name = parts.popleft()
            if name == "..":
                if len(stack) > 1:
                    os.close(stack.pop())
                continue
            try:
                st = os.stat(name, dir_fd=stack[-1], follow_symlinks=False)
            except FileNotFoundError:
                return None
            if stat.S_ISLNK(st.st_mode):
                links += 1
                if links > MAX_SYMLINKS:
                    raise OSError(errno.ELOOP, "too many levels of symbolic links", path)
                target = os.readlink(name, dir_fd=stack[-1])
                if target.startswith("/"):
                    while len(stack) > 1:
                        os.close(stack.pop())
                parts.extendleft(reversed([p for p in target.split("/") if p not in ("", ".")]))
                continue
            if parts:
                if not stat.S_ISDIR(st.st_mode):
                    return None
                stack.append(
                    os.open(name, flags | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=stack[-1])
                )
                continue
            if not stat.S_ISREG(st.st_mode):
                return None
            fd = os.open(name, flags | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=stack[-1])
            try:
                if not stat.S_ISREG(os.fstat(fd).st_mode):
                    return None
                with os.fdopen(fd, "rb", closefd=False) as stream:
                    return stream.read(MAX_FILE_BYTES)
            finally:
                os.close(fd)
        return None
    finally:
        for fd in stack:
            os.close(fd)


def parse_passwd(data: bytes) -> list[PasswdEntry]:
    entries = []
    for line in data.decode("utf-8", "replace").splitlines():
        fields = line.split(":")
        if len(fields) < 4 or not line or line.startswith("#"):
            continue
        try:
            entries.append(
                PasswdEntry(
                    fields[0], int(fields[2]), int(fields[3]), fields[5] if len(fields) > 5 else ""
                )
            )
        except ValueError:
            continue
    return entries


def parse_group(data: bytes) -> list[GroupEntry]:
    entries = []
    for line in data.decode("utf-8", "replace").splitlines():
        fields = line.split(":")
        if len(fields) < 3 or not line or line.startswith("#"):
            continue
        try:
            gid = int(fields[2])
        except ValueError:
            continue
        members = tuple(m for m in (fields[3].split(",") if len(fields) > 3 else []) if m)
        entries.append(GroupEntry(fields[0], gid, members))
    return entries


def _numeric(text: str) -> int | None:
    if text.isdigit():
        value = int(text)
        if value > MAX_ID:
            raise CreateContainerConfigError(f'user or group id "{text}" is out of range')
        return value
    return None


def resolve_user(
    rootfs_dir: str, user_string: str, supplemental_groups: tuple[int, ...] | list[int] = ()
) -> tuple[int, int, list[int]]:
    """(uid, gid, additional gids) for ``user_string`` in the container at ``rootfs_dir``.

    A numeric uid missing from /etc/passwd is fine (gid 0 unless given); a name that is
    missing is an error.  The additional gids are the primary gid, the groups that list the
    user as a member, then ``supplemental_groups`` (the pod's), without repeats.
    """
    return resolve_user_from_files(
        read_file_in_root(rootfs_dir, "/etc/passwd"),
        read_file_in_root(rootfs_dir, "/etc/group"),
        user_string,
        supplemental_groups,
    )


def resolve_user_from_files(
    passwd_data: bytes | None,
    group_data: bytes | None,
    user_string: str,
    supplemental_groups: tuple[int, ...] | list[int] = (),
) -> tuple[int, int, list[int]]:
    """``resolve_user`` on the contents of /etc/passwd and /etc/group (None: no such file).

    For callers that find those files themselves, e.g. in an image's layers."""
    user_part, _, group_part = (user_string or "0").partition(":")
    user_part = user_part or "0"
    passwd = parse_passwd(passwd_data) if passwd_data is not None else []
    groups = parse_group(group_data) if group_data is not None else []

    uid = _numeric(user_part)
    if uid is None:
        entry = next((e for e in passwd if e.name == user_part), None)
        if entry is None:
            raise CreateContainerConfigError(
                f'unable to find user "{user_part}": '
                "no matching entries in the image's /etc/passwd"
            )
    else:
        entry = next((e for e in passwd if e.uid == uid), None)
    uid = entry.uid if entry is not None else uid
    gid = entry.gid if entry is not None else 0

    if group_part:
        explicit = _numeric(group_part)
        if explicit is None:
            group = next((g for g in groups if g.name == group_part), None)
            if group is None:
                raise CreateContainerConfigError(
                    f'unable to find group "{group_part}": no matching entries in the image\'s '
                    "/etc/group"
                )
            explicit = group.gid
        gid = explicit

    additional = [gid]
    if entry is not None:
        additional += [g.gid for g in groups if entry.name in g.members]
    additional += list(supplemental_groups)
    return uid, gid, list(dict.fromkeys(additional))

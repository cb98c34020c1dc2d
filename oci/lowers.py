"""Looking through a stack of snapshots the way overlayfs does, without mounting it.

A snapshot is applied on its own, in parallel with the layers below it; what depends on
those layers is settled afterwards, when they are complete (oci.layer.settle_on_lowers):
hardlinks to their files, directories the layer only implied (their owner, mode and times
are the lower directory's, as a copy-up would keep them), and paths the layer wrote
through a directory symlink of a lower layer (`bin/app` over `bin -> usr/bin`).

Every walk goes one component at a time with O_NOFOLLOW from a descriptor of a snapshot:
symlinks in image content are read, never followed by the kernel.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass

from oci.errors import OCIError

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_NEW_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_MAX_SYMLINKS = 40
OPAQUE_XATTR = "trusted.overlay.opaque"
_IS_ROOT = os.geteuid() == 0


class LowersError(OCIError):
    """A path cannot be resolved through the layers (symlink loop)."""


@dataclass
class Found:
    """A node found in the stack: its parent's fd (owned: close it), name, stat, layer."""

    fd: int
    name: str
    st: os.stat_result
    layer: int  # index in the dirs given, 0 = top

    def close(self) -> None:
        os.close(self.fd)


def is_whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def is_opaque(fd: int) -> bool:
    try:
        return os.getxattr(fd, OPAQUE_XATTR) == b"y"
    except OSError:
        return False


def settable_xattr(key: str) -> bool:
    # Overlay's own attributes must come from us, never from image data.
    return not key.startswith("trusted.overlay.")


def find(dirs: Sequence[str], parts: list[str]) -> Found | None:
    """`parts` in the overlay of `dirs` (top first): a whiteout hides it, a non-directory
    hides everything below it, an opaque directory ends the search.  Intermediate
    components must be real directories (resolve symlinks first with `resolve`)."""
    if not parts:
        raise ValueError("find() needs a path below the root")
    for index, top in enumerate(dirs):
        fd = os.open(top, _DIR_FLAGS)
        stop = False
        try:
            for comp in parts[:-1]:
                try:
                    st = os.stat(comp, dir_fd=fd, follow_symlinks=False)
                except FileNotFoundError:
                    break
                if is_whiteout(st) or not stat.S_ISDIR(st.st_mode):
                    return None
                nfd = os.open(comp, _DIR_FLAGS, dir_fd=fd)
                os.close(fd)
                fd = nfd
                stop = stop or is_opaque(fd)
            else:
                try:
                    st = os.stat(parts[-1], dir_fd=fd, follow_symlinks=False)
                except FileNotFoundError:
                    st = None
                if st is not None:
                    if is_whiteout(st):
                        return None
                    found, fd = Found(fd, parts[-1], st, index), -1
                    return found
        finally:
            if fd >= 0:
                os.close(fd)
        if stop:
            return None
    return None


def resolve(dirs: Sequence[str], parts: list[str], follow_last: bool = False) -> list[str]:
    """The real path of `parts` in the overlay of `dirs`: symlinks met on the way are
    followed as if the root were `/` (`..` stops at the root)."""
    todo = list(reversed(parts))
    stack: list[str] = []
    hops = 0
    while todo:
        comp = todo.pop()
        if comp in ("", "."):
            continue
        if comp == "..":
            if stack:
                stack.pop()
            continue
        if not todo and not follow_last:
            stack.append(comp)
            break
        found = find(dirs, [*stack, comp])
        if found is None or not stat.S_ISLNK(found.st.st_mode):
            if found is not None:
                found.close()
            stack.append(comp)
            continue
        try:
            target = os.readlink(found.name, dir_fd=found.fd)
        finally:
            found.close()
        hops += 1
        if hops > _MAX_SYMLINKS:
            raise LowersError(f"too many levels of symlinks resolving /{'/'.join(parts)}")
        if target.startswith("/"):
            stack = []
        todo.extend(reversed(target.split("/")))
    return stack


def root_stat(dirs: Sequence[str]) -> os.stat_result | None:
    """The attributes overlayfs shows for `/`: the top layer's root."""
    return os.stat(dirs[0]) if dirs else None


def copy_dir_meta(src_fd: int, st: os.stat_result, dst_fd: int) -> None:
    """Give a directory another's owner, mode, xattrs and times (as a copy-up keeps them)."""
    if _IS_ROOT:
        os.fchown(dst_fd, st.st_uid, st.st_gid)
    os.fchmod(dst_fd, stat.S_IMODE(st.st_mode))
    for key in os.listxattr(src_fd):
        if settable_xattr(key):
            try:
                os.setxattr(dst_fd, key, os.getxattr(src_fd, key))
            except OSError as e:
                if e.errno not in (errno.ENOTSUP, errno.EOPNOTSUPP):
                    raise
    os.utime(dst_fd, ns=(st.st_atime_ns, st.st_mtime_ns))


def copy_node(sfd: int, sname: str, dfd: int, dname: str) -> None:
    """Copy a non-directory (file, symlink, device, fifo) with its metadata."""
    st = os.stat(sname, dir_fd=sfd, follow_symlinks=False)
    if stat.S_ISLNK(st.st_mode):
        os.symlink(os.readlink(sname, dir_fd=sfd), dname, dir_fd=dfd)
    elif stat.S_ISREG(st.st_mode):
        src = os.open(sname, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=sfd)
        try:
            dst = os.open(dname, _NEW_FILE_FLAGS, 0o600, dir_fd=dfd)
            try:
                left = st.st_size
                while left > 0:
                    n = os.copy_file_range(src, dst, min(left, 1 << 30))
                    if n == 0:
                        break
                    left -= n
                for key in os.listxattr(src):
                    if settable_xattr(key):
                        os.setxattr(dst, key, os.getxattr(src, key))
                if _IS_ROOT:
                    os.fchown(dst, st.st_uid, st.st_gid)
                os.fchmod(dst, stat.S_IMODE(st.st_mode))
                os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns))
            finally:
                os.close(dst)
        finally:
            os.close(src)
        return
    else:
        os.mknod(dname, stat.S_IFMT(st.st_mode) | 0o600, st.st_rdev, dir_fd=dfd)
        os.chmod(dname, stat.S_IMODE(st.st_mode), dir_fd=dfd)
    if _IS_ROOT:
        os.chown(dname, st.st_uid, st.st_gid, dir_fd=dfd, follow_symlinks=False)
    os.utime(dname, ns=(st.st_atime_ns, st.st_mtime_ns), dir_fd=dfd, follow_symlinks=False)


def rmtree_at(pfd: int, name: str) -> None:
    """Remove the directory `name` under pfd and everything in it, following no symlink."""
    fd = os.open(name, _DIR_FLAGS, dir_fd=pfd)
    try:
        with os.scandir(fd) as it:
            entries = [(d.name, d.is_dir(follow_symlinks=False)) for d in it]
        for child, is_dir in entries:
            if is_dir:
                rmtree_at(fd, child)
            else:
                os.unlink(child, dir_fd=fd)
    finally:
        os.close(fd)
    os.rmdir(name, dir_fd=pfd)


def merge_move(sfd: int, dfd: int) -> None:
    """Move everything in directory sfd into directory dfd.  Where both have a name, two
    directories merge; otherwise what dfd has stays."""
    for child in os.listdir(sfd):
        try:
            dst = os.stat(child, dir_fd=dfd, follow_symlinks=False)
        except FileNotFoundError:
            os.rename(child, child, src_dir_fd=sfd, dst_dir_fd=dfd)
            continue
        src = os.stat(child, dir_fd=sfd, follow_symlinks=False)
        if stat.S_ISDIR(src.st_mode) and stat.S_ISDIR(dst.st_mode):
            cs = os.open(child, _DIR_FLAGS, dir_fd=sfd)
            cd = os.open(child, _DIR_FLAGS, dir_fd=dfd)
            try:
                merge_move(cs, cd)
            finally:
                os.close(cs)
                os.close(cd)
            os.rmdir(child, dir_fd=sfd)
        elif stat.S_ISDIR(src.st_mode):
            rmtree_at(sfd, child)
        else:
            os.unlink(child, dir_fd=sfd)

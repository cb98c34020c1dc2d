"""Snapshots: one directory per applied layer, keyed by chain ID, shared between images.

    <root>/snapshots/<chainID hex>/   a layer applied in OVERLAY mode: an overlayfs lower dir
    <root>/snapshots/.tmp/            layers being applied (renamed into place when complete)
    <root>/snapshots/.lock            shared by writers, exclusive for gc

A snapshot is written once, in a temporary directory that is renamed to its chain ID when
complete, and never modified afterwards: a name under snapshots/ always means a whole layer.
The chain ID (image-spec config.md) names a layer together with everything below it,
which is what a lower dir's meaning depends on (whiteouts, materialised hardlinks).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import shutil
import struct
import tempfile
from collections.abc import Iterable, Iterator, Sequence

from oci.errors import OCIError

TMP = ".tmp"
LOCK = ".lock"

_FS_IOC_GETFLAGS = 0x80086601
_FS_IOC_SETFLAGS = 0x40086602
_FS_TOPDIR_FL = 0x00020000


class SnapshotError(OCIError):
    """The snapshot directory cannot be read or written."""


def chain_ids(diff_ids: Sequence[str]) -> list[str]:
    """ChainID(L0) = DiffID(L0); ChainID(Ln) = sha256(ChainID(Ln-1) + " " + DiffID(Ln))."""
    result: list[str] = []
    for diff_id in diff_ids:
        if not result:
            result.append(diff_id)
        else:
            text = f"{result[-1]} {diff_id}".encode()
            result.append("sha256:" + hashlib.sha256(text).hexdigest())
    return result


def _hex(chain_id: str) -> str:
    algo, sep, value = chain_id.partition(":")
    if algo != "sha256" or not sep or len(value) != 64 or value.strip("0123456789abcdef"):
        raise SnapshotError(f"invalid chain ID {chain_id!r}: want sha256:<64 hex digits>")
    return value


class SnapshotStore:
    def __init__(self, snapshots_dir: str):
        self.root = os.path.abspath(snapshots_dir)
        self.tmp_root = os.path.join(self.root, TMP)
        self._ensured = False

    def ensure(self) -> None:
        # 0700: snapshots hold image files as the image wants them (setuid binaries, devices);
        # host users must not reach them.
        if not self._ensured:
            os.makedirs(self.tmp_root, mode=0o700, exist_ok=True)
            os.chmod(self.root, 0o700)
            _mark_topdir(self.tmp_root)
            self._ensured = True

    def path(self, chain_id: str) -> str:
        return os.path.join(self.root, _hex(chain_id))

    def exists(self, chain_id: str) -> bool:
        return os.path.isdir(self.path(chain_id))

    def list(self) -> list[str]:
        try:
            names = os.listdir(self.root)
        except FileNotFoundError:
            return []
        return sorted(
            "sha256:" + n for n in names if len(n) == 64 and not n.strip("0123456789abcdef")
        )

    @contextlib.contextmanager
    def _lock(self, how: int) -> Iterator[None]:
        self.ensure()
        fd = os.open(os.path.join(self.root, LOCK), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, how)
            yield
        finally:
            os.close(fd)

    def writing(self) -> contextlib.AbstractContextManager[None]:
        """Held while applying layers and committing them: keeps gc away from temp dirs and
        from snapshots about to be used."""
        return self._lock(fcntl.LOCK_SH)

    def new_temp(self) -> str:
        """An empty directory to apply a layer into (mode 0755: an image's `/` when the layer
        has no entry for it)."""
        self.ensure()
        path = tempfile.mkdtemp(dir=self.tmp_root)
        os.chmod(path, 0o755)
        return path

    def commit(self, temp: str, chain_id: str) -> str:
        """Move a complete layer into place; if another writer got there first, keep theirs."""
        final = self.path(chain_id)
        try:
            os.rename(temp, final)
        except OSError as e:
            if e.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                raise SnapshotError(f"cannot commit snapshot {final}: {e.strerror}") from e
            self.discard(temp)
        return final

    def discard(self, temp: str) -> None:
        shutil.rmtree(temp, ignore_errors=True)

    def remove(self, chain_id: str) -> None:
        """Remove one snapshot: renamed away first, so a half-deleted one never keeps its name."""
        final = self.path(chain_id)
        self.ensure()
        doomed = tempfile.mkdtemp(dir=self.tmp_root, prefix="rm-")
        with contextlib.suppress(FileNotFoundError):
            os.rename(final, os.path.join(doomed, "s"))
        shutil.rmtree(doomed, ignore_errors=True)

    def mounted(self) -> set[str]:
        """Chain IDs of snapshots that some overlay mount, in any mount namespace, uses as
        a lower dir: a running container's image may be untagged, its snapshots stay."""
        used: set[str] = set()
        prefix = self.root + "/"
        seen: set[str] = set()
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                ns = os.readlink(f"/proc/{pid}/ns/mnt")
                if ns in seen:
                    continue
                seen.add(ns)
                with open(f"/proc/{pid}/mountinfo") as f:
                    lines = f.read().splitlines()
            except OSError:
                continue  # gone, or not ours to read
            for line in lines:
                _, _, rest = line.partition(" - ")
                fields = rest.split(" ")
                if len(fields) < 3 or fields[0] != "overlay":
                    continue
                for option in fields[2].split(","):
                    if not option.startswith("lowerdir="):
                        continue
                    for lower in option[len("lowerdir=") :].split(":"):
                        lower = lower.replace("\\040", " ")
                        if lower.startswith(prefix):
                            name = lower[len(prefix) :].split("/", 1)[0]
                            used.add("sha256:" + name)
        return used

    def gc(self, keep_chain_ids: Iterable[str]) -> list[str]:
        """Remove every snapshot not in `keep_chain_ids` nor mounted, and leftovers of
        crashed writers.  Returns the chain IDs removed."""
        keep = set(keep_chain_ids) | self.mounted()
        removed: list[str] = []
        with self._lock(fcntl.LOCK_EX):
            for chain_id in self.list():
                if chain_id not in keep:
                    self.remove(chain_id)
                    removed.append(chain_id)
            for name in os.listdir(self.tmp_root):
                shutil.rmtree(os.path.join(self.tmp_root, name), ignore_errors=True)
        return removed


def _mark_topdir(path: str) -> None:
    """Flag `path` as the top of unrelated directory trees (chattr +T), where ext4 supports
    it: each new snapshot directory is then placed by the Orlov allocator in a block group
    of its own instead of next to its parent.  On ext4 without a journal this matters a
    lot: allocating an inode next to recently deleted ones (a snapshot just removed, any
    test's temp dirs) scans past each of them, which made file creation ~30x slower here."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return
    try:
        flags = struct.unpack("i", fcntl.ioctl(fd, _FS_IOC_GETFLAGS, bytes(4)))[0]
        if not flags & _FS_TOPDIR_FL:
            fcntl.ioctl(fd, _FS_IOC_SETFLAGS, struct.pack("i", flags | _FS_TOPDIR_FL))
    except OSError:
        pass  # not ext2/3/4, or not allowed: only a placement hint
    finally:
        os.close(fd)

"""Apply one image layer (a tar changeset) to a directory, never writing outside it.

Two ways, per the OCI image-spec layer rules:

- OVERLAY: the directory is the layer's own snapshot, an overlayfs lower dir.
  `.wh.NAME` becomes a 0/0 character device NAME, `.wh..wh..opq` sets
  `trusted.overlay.opaque=y` on its directory.  Hardlinks to files of lower
  layers are collected in `LayerResult.pending_links`; they, and directories the
  layer only implied, are settled against the lower snapshots by `settle_on_lowers`
  once those exist (see oci/lowers.py).
- FLAT: the directory holds the layers below, applied before; whiteouts delete
  from it.  This is `umoci unpack`'s rootfs.

Safety.  Every entry name is cleaned lexically inside the root as containerd
does (`/a` and `../../a` both mean `<root>/a`).  Parent directories are walked
one component at a time with openat(O_NOFOLLOW|O_DIRECTORY) from a descriptor
of the root; a symlink met on the way is resolved by us, inside the root, as
if the root were `/`.  The last component is always acted on through its
parent's descriptor (mkdirat, openat(O_CREAT|O_EXCL|O_NOFOLLOW), symlinkat,
linkat without following, fchownat(AT_SYMLINK_NOFOLLOW)...), so a symlink in
the layer can neither redirect a write nor be followed out of the root.  An
entry that names the root as a non-directory, a whiteout of `.` or `..`, and
unsupported tar types are refused.  `trusted.overlay.*` xattrs from a layer
are dropped: they would steer overlayfs (redirects, opaque) from image data.

Known differences from applying onto a merged view (containerd): an OVERLAY
snapshot is applied before its lowers are known, so a whiteout or opaque marker
under a path that is a symlink only in a lower layer is placed by
`settle_on_lowers` afterwards, and an explicit directory entry over a lower
directory symlink replaces the symlink (as containerd's RemoveAll does).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import queue
import stat
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import BinaryIO

from oci import lowers as lowers_mod
from oci import tar
from oci.compression import CompressionError, open_layer, read_chunks
from oci.errors import OCIError
from oci.lowers import rmtree_at as _rmtree_at
from oci.lowers import settable_xattr as _settable_xattr

OVERLAY = "overlay"
FLAT = "flat"

WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"
OPAQUE_XATTR = "trusted.overlay.opaque"

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_NEW_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_MAX_SYMLINKS = 40
_FD_CACHE = 128
_IS_ROOT = os.geteuid() == 0 and os.getegid() == 0


def _umask() -> int:
    """The process umask, read without changing it (os.umask would, for all threads)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o777  # unknown: always chmod


class LayerError(OCIError):
    """A layer cannot be applied (unsafe or malformed entry, wrong digest, I/O error)."""


class DiffIDMismatch(LayerError):
    """The uncompressed layer does not hash to the diff_id the image config names."""


@dataclass
class LayerResult:
    diff_id: str  # sha256 of the uncompressed tar stream
    size: int  # uncompressed bytes
    # OVERLAY mode: path -> target of hardlinks whose target is in a lower layer.
    pending_links: dict[str, str] = field(default_factory=dict)
    # OVERLAY mode: directories made only as parents of entries ("" is the root when the
    # layer has no entry for it), in the order they were made.
    implicit_dirs: list[str] = field(default_factory=list)


def clean_path(name: str) -> list[str]:
    """The components of an entry name cleaned inside the root: `..` never climbs above
    it (filepath.Clean("/" + name) in Go), empty and `.` components vanish."""
    if name.startswith("./"):
        name = name[2:]
    parts = name.rstrip("/").split("/")
    if "" not in parts and "." not in parts and ".." not in parts:
        return parts  # the common case: already clean
    parts = []
    for comp in name.split("/"):
        if comp in ("", "."):
            continue
        if comp == "..":
            if parts:
                parts.pop()
            continue
        parts.append(comp)
    return parts


def _join(parent: str, name: str) -> str:
    return f"{parent}/{name}" if parent else name


# --- reading a layer: decompress and hash on a thread, parse and write on the caller's --------


class _Pipe:
    """Decompresses and hashes a layer on a thread; iterating yields the plain chunks."""

    _EOF = object()

    def __init__(self, stream: BinaryIO):
        self._stream = stream
        self._queue: queue.Queue = queue.Queue(maxsize=8)
        self._stop = False
        self.sha = hashlib.sha256()
        self.size = 0
        self._thread = threading.Thread(target=self._run, name="layer-decompress", daemon=True)
        self._thread.start()

    def _put(self, item: object) -> bool:
        while not self._stop:
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        try:
            for chunk in read_chunks(self._stream):
                self.sha.update(chunk)
                self.size += len(chunk)
                if not self._put(chunk):
                    return
            self._put(self._EOF)
        except BaseException as e:
            self._put(e)

    def __iter__(self) -> Iterator[bytes]:
        while True:
            item = self._queue.get()
            if item is self._EOF:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def close(self) -> None:
        self._stop = True
        while self._thread.is_alive():
            with contextlib.suppress(queue.Empty):
                self._queue.get(timeout=0.05)
        self._thread.join()
        self._stream.close()

    @property
    def diff_id(self) -> str:
        return "sha256:" + self.sha.hexdigest()


def apply_layer(
    blob_path: str,
    dest: str,
    *,
    media_type: str | None = None,
    mode: str = OVERLAY,
    expected_diff_id: str | None = None,
    lowers: Sequence[str] | None = None,
    what: str | None = None,
) -> LayerResult:
    """Apply the layer blob at `blob_path` (gzip, zstd or plain tar) to `dest`.

    `lowers` (OVERLAY mode, top first) are the lower snapshots, if already complete:
    then hardlinks into them are materialised now, else they come back in
    `pending_links`.  `what` names the layer in error messages.
    """
    what = what or blob_path
    try:
        stream = open_layer(blob_path, media_type)
    except OSError as e:
        raise LayerError(f"layer {what}: cannot open blob {blob_path}: {e.strerror}") from e
    return apply_stream(
        stream, dest, mode=mode, expected_diff_id=expected_diff_id, lowers=lowers, what=what
    )


def apply_stream(
    stream: BinaryIO,
    dest: str,
    *,
    mode: str = OVERLAY,
    expected_diff_id: str | None = None,
    lowers: Sequence[str] | None = None,
    what: str = "layer",
) -> LayerResult:
    """Apply an uncompressed tar stream to `dest` (see apply_layer); closes the stream."""
    pipe = _Pipe(stream)
    applier = _Applier(dest, mode, what)
    try:
        chunks = tar.ChunkStream(iter(pipe))
        try:
            reader = tar.TarReader(chunks)
            for entry in reader:
                applier.apply(entry, reader)
            chunks.drain()
        except (tar.TarError, CompressionError) as e:
            raise LayerError(f"layer {what}: {e}") from e
        if expected_diff_id and pipe.diff_id != expected_diff_id:
            raise DiffIDMismatch(
                f"layer {what}: uncompressed digest {pipe.diff_id} does not match the image "
                f"config's diff_id {expected_diff_id}"
            )
        applier.finish()
        result = LayerResult(pipe.diff_id, pipe.size, dict(applier.pending), list(applier.implicit))
    finally:
        applier.close()
        pipe.close()
    if lowers is not None and mode == OVERLAY:
        settle_on_lowers(dest, result, lowers, what)
        result.pending_links, result.implicit_dirs = {}, []
    return result


def settle_on_lowers(
    dest: str, result: LayerResult, lowers: Sequence[str], what: str = "layer"
) -> None:
    """Finish an OVERLAY snapshot once the layers below it (`lowers`, top first) are
    complete: paths written through a directory symlink of a lower layer move to where
    it points (as applying onto the merged view would have put them), hardlinks into
    lower layers are materialised, and directories this layer only implied take the
    owner, mode and times of the lower directory they stand over."""
    if result.pending_links and not lowers:
        path, target = next(iter(result.pending_links.items()))
        raise LayerError(f"layer {what}: hardlink /{path} -> /{target}: target not found")
    if not lowers or not (result.pending_links or result.implicit_dirs):
        return
    applier = _Applier(dest, OVERLAY, what)
    applier.implicit = {}  # from here on: only the directories settling itself makes
    try:
        view = [dest, *lowers]
        moves = applier.follow_lower_symlinks(result.implicit_dirs, lowers, view)
        applier.link_pending(result.pending_links, moves, view)
        implied = [_moved(p, moves) for p in result.implicit_dirs] + list(applier.implicit)
        applier.adopt_lower_dir_meta(implied, lowers)
    except lowers_mod.LowersError as e:
        raise LayerError(f"layer {what}: {e}") from e
    finally:
        applier.close()


def _moved(path: str, moves: list[tuple[str, str]]) -> str:
    for old, new in moves:
        if path == old or path.startswith(old + "/"):
            path = new + path[len(old) :]
    return path


# --- the applier -------------------------------------------------------------------------------


class _Applier:
    def __init__(self, root: str, mode: str, what: str):
        if mode not in (OVERLAY, FLAT):
            raise ValueError(f"unknown layer apply mode {mode!r}")
        self.mode = mode
        self.what = what
        self.root_fd = os.open(root, _DIR_FLAGS)
        self._umask = _umask()
        # real dir path -> has the setgid bit (its new files would take its group)
        self._sgid: dict[str, bool] = {"": bool(os.fstat(self.root_fd).st_mode & stat.S_ISGID)}
        # real path ("" is the root) -> open directory fd, most recently used last
        self._dirs: OrderedDict[str, int] = OrderedDict()
        self.kinds: dict[str, str] = {}  # what this layer put at a path: a tar type or "w"
        self.pending: dict[str, str] = {}  # OVERLAY: hardlinks into lower layers
        self._dir_times: list[tuple[str, int]] = []
        self.implicit: dict[str, None] = {} if mode == FLAT else {"": None}  # an ordered set

    def close(self) -> None:
        for fd in self._dirs.values():
            os.close(fd)
        self._dirs.clear()
        os.close(self.root_fd)

    # -- path resolution inside the root

    def _cache(self, key: str, fd: int) -> None:
        self._dirs[key] = fd
        if len(self._dirs) > _FD_CACHE:
            _, old = self._dirs.popitem(last=False)
            os.close(old)

    def _forget(self, key: str) -> None:
        """Drop cached descriptors of `key` and everything below it (it is being removed)."""
        prefix = key + "/"
        for k in [k for k in self._dirs if k == key or k.startswith(prefix)]:
            os.close(self._dirs.pop(k))

    def resolve_dir(self, parts: list[str], create: bool) -> tuple[int, str] | None:
        """(fd, real path) of the directory `parts` names, inside the root.  Symlinks are
        followed as if the root were `/`; missing directories are made when `create`.
        The fd belongs to the cache: do not close it.  None if missing and not `create`."""
        key = "/".join(parts)
        fd = self._dirs.get(key)
        if fd is not None:
            self._dirs.move_to_end(key)
            return fd, key
        if not parts:
            return self.root_fd, ""
        todo = list(reversed(parts))
        stack: list[str] = []
        fd = self.root_fd
        hops = 0
        while todo:
            comp = todo.pop()
            if comp in ("", "."):
                continue
            if comp == "..":
                if stack:
                    stack.pop()
                fd = self._reopen(stack)
                continue
            cur = _join("/".join(stack), comp)
            cached = self._dirs.get(cur)
            if cached is not None:
                self._dirs.move_to_end(cur)
                fd = cached
                stack.append(comp)
                continue
            try:
                nfd = os.open(comp, _DIR_FLAGS, dir_fd=fd)
            except FileNotFoundError:
                if not create:
                    return None
                nfd = self._mkdir_implicit(fd, comp, cur)
            except OSError as e:
                if e.errno not in (errno.ELOOP, errno.ENOTDIR):
                    raise
                st = os.stat(comp, dir_fd=fd, follow_symlinks=False)
                if stat.S_ISLNK(st.st_mode):
                    hops += 1
                    if hops > _MAX_SYMLINKS:
                        raise LayerError(
                            f"layer {self.what}: too many levels of symlinks in {'/'.join(parts)}"
                        ) from None
                    target = os.readlink(comp, dir_fd=fd)
                    if target.startswith("/"):
                        stack = []
                        fd = self.root_fd
                    todo.extend(reversed(target.split("/")))
                    continue
                if create and self.kinds.get(cur) == "w":
                    # a whiteout of this layer, then content under the same name: a new dir
                    os.unlink(comp, dir_fd=fd)
                    nfd = self._mkdir_implicit(fd, comp, cur)
                    self._set_opaque(nfd)
                else:
                    if not create:
                        return None
                    raise LayerError(
                        f"layer {self.what}: {'/'.join(parts)}: parent {cur} is not a directory"
                    ) from None
            self._cache(cur, nfd)
            self._sgid[cur] = bool(os.fstat(nfd).st_mode & stat.S_ISGID)
            fd = nfd
            stack.append(comp)
        return fd, "/".join(stack)

    def _reopen(self, stack: list[str]) -> int:
        found = self.resolve_dir(stack, create=False)
        if found is None:
            raise LayerError(f"layer {self.what}: directory {'/'.join(stack)} vanished")
        return found[0]

    def _mkdir_implicit(self, dir_fd: int, name: str, key: str) -> int:
        os.mkdir(name, 0o755, dir_fd=dir_fd)
        nfd = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
        os.fchmod(nfd, 0o755)
        if key not in self.kinds:
            self.kinds[key] = tar.DIR
            if self.mode == OVERLAY:
                self.implicit[key] = None
        return nfd

    # -- entries

    def apply(self, e: tar.TarEntry, data: tar.TarReader) -> None:
        parts = clean_path(e.name)
        try:
            if not parts:
                self._apply_root(e)
                return
            name = parts[-1]
            if name.startswith(WHITEOUT_PREFIX):
                self._whiteout(parts[:-1], name)
                return
            found = self.resolve_dir(parts[:-1], create=True)
            assert found is not None
            pfd, pkey = found
            path = _join(pkey, name)
            self.pending.pop(path, None)
            if e.type == tar.REG:
                self._regular(pfd, name, path, e, data)
            elif e.type == tar.DIR:
                self._directory(pfd, name, path, e)
            elif e.type == tar.SYMLINK:
                self._symlink(pfd, name, path, e)
            elif e.type == tar.HARDLINK:
                self._hardlink(pfd, name, path, e)
            else:
                self._special(pfd, name, path, e)
        except LayerError:
            raise
        except (OSError, ValueError) as err:
            detail = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
            raise LayerError(f"layer {self.what}: cannot apply entry {e.name!r}: {detail}") from err

    def _apply_root(self, e: tar.TarEntry) -> None:
        if e.type != tar.DIR:
            raise LayerError(
                f"layer {self.what}: entry {e.name!r} would replace the root directory "
                f"with a non-directory"
            )
        self._fd_meta(self.root_fd, e)
        self._sgid[""] = bool(e.mode & stat.S_ISGID)
        self.implicit.pop("", None)
        self._dir_times.append(("", e.mtime_ns))

    def _make_room(self, pfd: int, name: str, path: str, keep_dir: bool) -> bool:
        """Clear `name` for a new entry; True if it is a directory that stays (merge)."""
        try:
            st = os.stat(name, dir_fd=pfd, follow_symlinks=False)
        except FileNotFoundError:
            return False
        if keep_dir and stat.S_ISDIR(st.st_mode):
            return True
        self._remove(pfd, name, path, st)
        return False

    def _remove(self, pfd: int, name: str, path: str, st: os.stat_result | None = None) -> None:
        if st is None:
            try:
                st = os.stat(name, dir_fd=pfd, follow_symlinks=False)
            except FileNotFoundError:
                return
        if stat.S_ISDIR(st.st_mode):
            self._forget(path)
            prefix = path + "/"
            for key in [k for k in self.implicit if k == path or k.startswith(prefix)]:
                del self.implicit[key]
            _rmtree_at(pfd, name)
        else:
            os.unlink(name, dir_fd=pfd)

    def _regular(
        self, pfd: int, name: str, path: str, e: tar.TarEntry, data: tar.TarReader
    ) -> None:
        # Created with its permission bits: most files then need no chmod, and none made
        # by root as root:root in a non-setgid directory needs a chown.
        try:
            fd = os.open(name, _NEW_FILE_FLAGS, e.mode & 0o777, dir_fd=pfd)
        except FileExistsError:
            self._make_room(pfd, name, path, keep_dir=False)
            fd = os.open(name, _NEW_FILE_FLAGS, e.mode & 0o777, dir_fd=pfd)
        try:
            if e.size:
                data.write_data(fd)
            chown = not _IS_ROOT or e.uid or e.gid or self._sgid.get(path.rpartition("/")[0], True)
            if chown or e.xattrs or e.mode & (~0o777 | self._umask):
                self._fd_meta(fd, e)
            os.utime(fd, ns=(e.mtime_ns, e.mtime_ns))
        finally:
            os.close(fd)
        self.kinds[path] = tar.REG

    def _directory(self, pfd: int, name: str, path: str, e: tar.TarEntry) -> None:
        created = True
        try:
            os.mkdir(name, e.mode & 0o777, dir_fd=pfd)
        except FileExistsError:
            created = not self._make_room(pfd, name, path, keep_dir=True)
            if created:
                os.mkdir(name, e.mode & 0o777, dir_fd=pfd)
        fd = self._dirs.get(path)
        if fd is None:
            # its entries usually follow: keep it open for them
            fd = os.open(name, _DIR_FLAGS, dir_fd=pfd)
            self._cache(path, fd)
        parent_sgid = self._sgid.get(path.rpartition("/")[0], True)
        if (
            not created
            or not _IS_ROOT
            or e.uid
            or e.gid
            or parent_sgid
            or e.xattrs
            or e.mode & (~0o777 | self._umask)
        ):
            self._fd_meta(fd, e)
        self._sgid[path] = bool(e.mode & stat.S_ISGID)
        if self.kinds.get(path) == "w":
            self._set_opaque(fd)
        self.kinds[path] = tar.DIR
        self.implicit.pop(path, None)
        self._dir_times.append((path, e.mtime_ns))

    def _symlink(self, pfd: int, name: str, path: str, e: tar.TarEntry) -> None:
        try:
            os.symlink(e.linkname, name, dir_fd=pfd)
        except FileExistsError:
            self._make_room(pfd, name, path, keep_dir=False)
            os.symlink(e.linkname, name, dir_fd=pfd)
        self._path_meta(pfd, name, e)
        self.kinds[path] = tar.SYMLINK

    def _special(self, pfd: int, name: str, path: str, e: tar.TarEntry) -> None:
        kind = {tar.CHAR: stat.S_IFCHR, tar.BLOCKDEV: stat.S_IFBLK, tar.FIFO: stat.S_IFIFO}[e.type]
        dev = os.makedev(e.devmajor, e.devminor) if e.type != tar.FIFO else 0
        try:
            os.mknod(name, kind | 0o600, dev, dir_fd=pfd)
        except FileExistsError:
            self._make_room(pfd, name, path, keep_dir=False)
            os.mknod(name, kind | 0o600, dev, dir_fd=pfd)
        self._path_meta(pfd, name, e)
        self.kinds[path] = e.type

    def _hardlink(self, pfd: int, name: str, path: str, e: tar.TarEntry) -> None:
        tparts = clean_path(e.linkname)
        if not tparts:
            raise LayerError(f"layer {self.what}: hardlink {e.name!r} points at the root")
        source = self._find_link_source(tparts)
        if source is not None and source[1] == path:
            return  # a link to itself: the file is already there
        self._make_room(pfd, name, path, keep_dir=False)
        if source is not None:
            sfd, spath = source
            os.link(
                os.path.basename(spath), name, src_dir_fd=sfd, dst_dir_fd=pfd, follow_symlinks=False
            )
        elif self.mode == OVERLAY:
            self.pending[path] = "/".join(tparts)
        else:
            raise LayerError(
                f"layer {self.what}: hardlink {e.name!r} -> {e.linkname!r}: target not found"
            )
        self.kinds[path] = tar.HARDLINK

    def _find_link_source(self, tparts: list[str]) -> tuple[int, str] | None:
        """(parent fd, real path) of a hardlink target present in the root, else None."""
        found = self.resolve_dir(tparts[:-1], create=False)
        if found is None:
            return None
        tfd, tkey = found
        tpath = _join(tkey, tparts[-1])
        if self.kinds.get(tpath) == "w":
            return None
        try:
            st = os.stat(tparts[-1], dir_fd=tfd, follow_symlinks=False)
        except FileNotFoundError:
            return None
        if stat.S_ISDIR(st.st_mode):
            raise LayerError(f"layer {self.what}: hardlink target {tpath!r} is a directory")
        return tfd, tpath

    # -- whiteouts

    def _whiteout(self, parent: list[str], marker: str) -> None:
        if marker == OPAQUE_MARKER:
            found = self.resolve_dir(parent, create=self.mode == OVERLAY)
            if found is None:
                return
            fd, key = found
            if self.mode == OVERLAY:
                self._set_opaque(fd)
                self.kinds.setdefault(key, tar.DIR)
            else:
                self._clear_lower(fd, key)
            return
        if marker.startswith(WHITEOUT_PREFIX + WHITEOUT_PREFIX):
            return  # other aufs metadata (.wh..wh.plnk, ...): not content
        victim = marker[len(WHITEOUT_PREFIX) :]
        if victim in (".", ".."):
            raise LayerError(f"layer {self.what}: invalid whiteout {marker!r} (names {victim!r})")
        found = self.resolve_dir(parent, create=self.mode == OVERLAY)
        if found is None:
            return
        pfd, pkey = found
        path = _join(pkey, victim)
        self.pending.pop(path, None)
        kind = self.kinds.get(path)
        if kind is not None and kind != "w":
            # Present in this same layer: a whiteout only hides lower layers' content.
            if kind == tar.DIR:
                vfd = os.open(victim, _DIR_FLAGS, dir_fd=pfd)
                try:
                    if self.mode == OVERLAY:
                        self._set_opaque(vfd)
                    else:
                        self._clear_lower(vfd, path)
                finally:
                    os.close(vfd)
            return
        if self.mode == FLAT:
            self._remove(pfd, victim, path)
            return
        self._make_room(pfd, victim, path, keep_dir=False)
        os.mknod(victim, stat.S_IFCHR, os.makedev(0, 0), dir_fd=pfd)
        self.kinds[path] = "w"

    def _set_opaque(self, fd: int) -> None:
        if self.mode == OVERLAY:
            os.setxattr(fd, OPAQUE_XATTR, b"y")

    def _clear_lower(self, dfd: int, key: str) -> None:
        """FLAT: remove what lower layers put under the directory, keep this layer's."""
        for child in os.listdir(dfd):
            cpath = _join(key, child)
            kind = self.kinds.get(cpath)
            if kind is None:
                self._remove(dfd, child, cpath)
            elif kind == tar.DIR:
                cfd = os.open(child, _DIR_FLAGS, dir_fd=dfd)
                try:
                    self._clear_lower(cfd, cpath)
                finally:
                    os.close(cfd)

    # -- metadata

    def _fd_meta(self, fd: int, e: tar.TarEntry) -> None:
        if _IS_ROOT:
            os.fchown(fd, e.uid, e.gid)
        os.fchmod(fd, e.mode)  # after chown, which clears setuid/setgid
        if e.xattrs:
            for key, value in e.xattrs.items():
                if _settable_xattr(key):
                    _setxattr(lambda k, v: os.setxattr(fd, k, v), key, value)

    def _path_meta(self, pfd: int, name: str, e: tar.TarEntry) -> None:
        """Metadata of a symlink or device node we just made at `name` (never followed)."""
        if _IS_ROOT:
            os.chown(name, e.uid, e.gid, dir_fd=pfd, follow_symlinks=False)
        if e.type != tar.SYMLINK:
            # a device or fifo we created a moment ago: chmod cannot be sent elsewhere
            os.chmod(name, e.mode, dir_fd=pfd)
        if e.xattrs:
            proc_path = f"/proc/self/fd/{pfd}/{name}"
            for key, value in e.xattrs.items():
                if _settable_xattr(key):
                    _setxattr(
                        lambda k, v: os.setxattr(proc_path, k, v, follow_symlinks=False), key, value
                    )
        os.utime(name, ns=(e.mtime_ns, e.mtime_ns), dir_fd=pfd, follow_symlinks=False)

    # -- settling against the lower layers (OVERLAY, once they are complete)

    def follow_lower_symlinks(
        self, implicit: list[str], lowers: Sequence[str], view: list[str]
    ) -> list[tuple[str, str]]:
        """Move implied directories that stand over a lower layer's directory symlink to
        where the symlink points.  Returns the moves made, (old path, new path)."""
        moves: list[tuple[str, str]] = []
        touched: dict[str, tuple[int, int]] = {}
        for original in sorted((p for p in implicit if p), key=lambda p: p.count("/")):
            path = _moved(original, moves)
            parts = path.split("/")
            below = lowers_mod.find(lowers, parts)
            if below is None:
                continue
            try:
                if not stat.S_ISLNK(below.st.st_mode):
                    continue
                link = os.readlink(below.name, dir_fd=below.fd)
            finally:
                below.close()
            base = [] if link.startswith("/") else parts[:-1]
            target = lowers_mod.resolve(view, [*base, *link.split("/")], follow_last=True)
            tkey = "/".join(target)
            if tkey == path or tkey.startswith(path + "/"):
                continue  # into itself: leave the layer's directory where it is
            there = lowers_mod.find(view, target) if target else None
            if there is not None:
                there.close()
                if not stat.S_ISDIR(there.st.st_mode):
                    continue
            found = self.resolve_dir(parts, create=False)
            if found is None or found[1] != path:
                continue
            src = os.dup(found[0])
            try:
                self._forget(path)
                dst_fd, dst_key = self.resolve_dir(target, create=True)  # type: ignore[misc]
                if dst_key not in touched:
                    st = os.fstat(dst_fd)
                    touched[dst_key] = (st.st_atime_ns, st.st_mtime_ns)
                lowers_mod.merge_move(src, dst_fd)
                if lowers_mod.is_opaque(src):
                    self._set_opaque(dst_fd)
            finally:
                os.close(src)
            parent = self.resolve_dir(parts[:-1], create=False)
            assert parent is not None
            os.rmdir(parts[-1], dir_fd=parent[0])
            self.implicit.pop(path, None)
            moves.append((path, tkey))
        for key, times in touched.items():
            found = self.resolve_dir(key.split("/") if key else [], create=False)
            if found is not None:
                os.utime(found[0], ns=times)
        return moves

    def link_pending(
        self, pending: dict[str, str], moves: list[tuple[str, str]], view: list[str]
    ) -> None:
        """Make the hardlinks whose target is in a lower layer: a copy of that file (a
        hardlink cannot cross snapshots), or a link if the target is in this layer."""
        for original, target in pending.items():
            path = _moved(original, moves)
            parts = path.split("/")
            found = self.resolve_dir(parts[:-1], create=True)
            assert found is not None
            pfd = found[0]
            parent = os.fstat(pfd)
            tparts = lowers_mod.resolve(view, target.split("/"))
            source = lowers_mod.find(view, tparts) if tparts else None
            if source is None or stat.S_ISDIR(source.st.st_mode):
                if source is not None:
                    source.close()
                raise LayerError(
                    f"layer {self.what}: hardlink /{original} -> /{target}: target not found "
                    f"in this layer or the layers below"
                )
            try:
                if source.layer == 0:
                    os.link(
                        source.name,
                        parts[-1],
                        src_dir_fd=source.fd,
                        dst_dir_fd=pfd,
                        follow_symlinks=False,
                    )
                else:
                    lowers_mod.copy_node(source.fd, source.name, pfd, parts[-1])
            finally:
                source.close()
            os.utime(pfd, ns=(parent.st_atime_ns, parent.st_mtime_ns))

    def adopt_lower_dir_meta(self, paths: list[str], lowers: Sequence[str]) -> None:
        """Implied directories take the lower directory's owner, mode, xattrs and times; one
        with none below takes the group of a setgid parent, as mkdir in the merged view
        would have given it."""
        for path in sorted(dict.fromkeys(paths), key=lambda p: (p.count("/"), p != "")):
            parts = path.split("/") if path else []
            found = self.resolve_dir(parts, create=False)
            if found is None or found[1] != path:
                continue
            dst = found[0]
            src = self._lower_dir(lowers, parts)
            if src is None:
                if path and _IS_ROOT:
                    parent = self.resolve_dir(parts[:-1], create=False)
                    if parent is not None:
                        pst = os.fstat(parent[0])
                        if pst.st_mode & stat.S_ISGID:
                            os.fchown(dst, -1, pst.st_gid)
                continue
            try:
                lowers_mod.copy_dir_meta(src, os.fstat(src), dst)
            finally:
                os.close(src)

    @staticmethod
    def _lower_dir(lowers: Sequence[str], parts: list[str]) -> int | None:
        if not parts:
            return os.open(lowers[0], _DIR_FLAGS)
        below = lowers_mod.find(lowers, parts)
        if below is None:
            return None
        try:
            if not stat.S_ISDIR(below.st.st_mode):
                return None
            return os.open(below.name, _DIR_FLAGS, dir_fd=below.fd)
        finally:
            below.close()

    def finish(self) -> None:
        """Directory mtimes, last: creating their children changed them."""
        for path, mtime_ns in reversed(self._dir_times):
            found = self.resolve_dir(path.split("/") if path else [], create=False)
            if found is not None and found[1] == path:
                os.utime(found[0], ns=(mtime_ns, mtime_ns))

    # -- hardlinks into lower layers (OVERLAY)


def _setxattr(setter, key: str, value: bytes) -> None:
    try:
        setter(key, value)
    except OSError as e:
        if e.errno not in (errno.ENOTSUP, errno.EOPNOTSUPP):
            raise

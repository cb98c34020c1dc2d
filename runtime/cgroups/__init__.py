"""cgroups: one small interface, a v1 and a v2 driver, chosen at run time.

    driver = cgroups.open_cgroup("minikube-py/ctr1")   # detect v1/v2
    driver.create(); driver.apply(resources)
    child writes "0" into each of driver.procs_files()  # joins before exec
    driver.stats(); driver.oom_kills(); driver.kill_all(); driver.destroy()

A relative path is placed under the cgroup the caller runs in (read from
/proc/self/cgroup, per hierarchy on v1), never at a hierarchy's root; an
absolute path is taken from the hierarchy's root.  Every file access goes
through a `CgroupFS` so the drivers are unit-tested against a fake tree.
"""

from __future__ import annotations

import contextlib
import errno
import os
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

from runtime.errors import CgroupError
from runtime.spec import Resources

CGROUP_ROOT = "/sys/fs/cgroup"


class CgroupFS:
    """File access to cgroupfs; tests substitute a double enforcing kernel rules."""

    def read(self, path: str) -> str:
        with open(path) as f:
            return f.read()

    def write(self, path: str, data: str) -> None:
        # cgroupfs wants one write(2) per value: no buffering, no truncation games
        fd = os.open(path, os.O_WRONLY)
        try:
            os.write(fd, data.encode())
        finally:
            os.close(fd)

    def mkdir(self, path: str) -> None:
        os.makedirs(path, exist_ok=True)

    def rmdir(self, path: str) -> None:
        os.rmdir(path)

    def exists(self, path: str) -> bool:
        return os.path.exists(path)


@dataclass
class Stats:
    memory_usage: int  # bytes
    memory_limit: int | None  # bytes, None = unlimited
    cpu_usage_ns: int
    pids_current: int
    oom_kills: int


class Cgroup(ABC):
    """One container's cgroup (a leaf)."""

    version: int

    @abstractmethod
    def create(self) -> None:
        """Make the cgroup (and missing parents)."""

    @abstractmethod
    def apply(self, resources: Resources) -> None: ...

    @abstractmethod
    def procs_files(self) -> list[str]:
        """The files a single-threaded process writes "0" into to join: on v1 each
        hierarchy's ``tasks``, on v2 ``cgroup.procs`` (see v1.JOIN_FILE)."""

    @abstractmethod
    def pids(self) -> list[int]: ...

    @abstractmethod
    def mount_sources(self) -> dict[str, str]:
        """What a "cgroup" mount shows inside: {subdirectory ("" = the mount itself): dir}."""

    @abstractmethod
    def stats(self) -> Stats: ...

    @abstractmethod
    def oom_kills(self) -> int: ...

    @abstractmethod
    def freeze(self, frozen: bool) -> None: ...

    @abstractmethod
    def destroy(self, timeout: float = 2.0) -> None:
        """Remove the (empty) cgroup directories; absent is fine."""

    @abstractmethod
    def to_state(self) -> dict[str, Any]: ...

    def kill_all(self, timeout: float = 5.0) -> None:
        """SIGKILL every process in the cgroup, a fork bomb included.

        Freezing first means nothing can fork between the listing and the kill.
        """
        deadline = time.monotonic() + timeout
        while True:
            pids = self.pids()
            if not pids:
                return
            # no freezer: the loop still converges under a pids limit
            with contextlib.suppress(OSError, CgroupError):
                self.freeze(True)
            for pid in self.pids():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, 9)
            with contextlib.suppress(OSError, CgroupError):
                self.freeze(False)
            if time.monotonic() > deadline:
                raise CgroupError(
                    f"cgroup {self.describe()}: processes {pids[:10]} survive SIGKILL"
                )
            time.sleep(0.005)

    @abstractmethod
    def describe(self) -> str: ...


def rmdir_retry(fs: CgroupFS, path: str, timeout: float = 2.0) -> None:
    """rmdir a cgroup; EBUSY lasts a moment after the last task exits."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            fs.rmdir(path)
            return
        except FileNotFoundError:
            return
        except OSError as e:
            if e.errno != errno.EBUSY or time.monotonic() > deadline:
                raise CgroupError(f"rmdir {path}: {os.strerror(e.errno or 0).lower()}") from None
            time.sleep(0.01)


def shares_to_weight(shares: int) -> int:
    """cgroup v1 cpu.shares [2..262144] -> v2 cpu.weight [1..10000] (linear map)."""
    shares = min(max(shares, 2), 262144)
    return 1 + (shares - 2) * 9999 // 262142


def weight_to_shares(weight: int) -> int:
    weight = min(max(weight, 1), 10000)
    return 2 + (weight - 1) * 262142 // 9999


def parse_mountinfo(text: str) -> list[tuple[str, str, list[str]]]:
    """(mount point, fs type, super options) of each line of /proc/self/mountinfo."""
    out = []
    for line in text.splitlines():
        left, _, right = line.partition(" - ")
        fields = left.split()
        rfields = right.split()
        if len(fields) < 5 or len(rfields) < 3:
            continue
        out.append((fields[4].replace("\\040", " "), rfields[0], rfields[2].split(",")))
    return out


def parse_proc_cgroup(text: str) -> dict[str, str]:
    """/proc/PID/cgroup -> {controller: path}; the v2 entry's key is ""."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        for c in controllers.split(",") if controllers else [""]:
            out[c] = path
    return out


def detect_version(mountinfo: str, root: str = CGROUP_ROOT) -> int:
    """2 when cgroup2 is mounted at `root` (pure v2); 1 otherwise (v1 or hybrid).

    On a hybrid host, cgroup2 sits at <root>/unified with few or no controllers:
    the controllers live on v1, so v1 is the driver to use.
    """
    for mnt, fstype, _ in parse_mountinfo(mountinfo):
        if mnt == root and fstype == "cgroup2":
            return 2
    return 1


def procs_files_joining(target_cgroup: str, self_cgroup: str, mountinfo: str) -> list[str]:
    """The files (v1 ``tasks``, v2 ``cgroup.procs``) that move a single-threaded process,
    writing "0", from our cgroups to `target`'s.

    `target_cgroup` and `self_cgroup` are /proc/PID/cgroup texts.  Every
    hierarchy counts, not only the controllers the runtime manages: an exec'd
    process must sit exactly where the container's init sits (memory, pids,
    cpuset, devices, name=systemd, the v2 tree...).  Hierarchies where both
    already agree, or that are not mounted here, are left out.
    """
    ours = _hierarchies(self_cgroup)
    mounts = _cgroup_mounts(mountinfo)
    files = []
    for key, path in _hierarchies(target_cgroup).items():
        if ours.get(key) == path:
            continue
        want = set(key.split(",")) if key else set()
        for mnt, root, fstype, opts in mounts:
            if (fstype == "cgroup2") != (not key) or not want <= set(opts):
                continue
            rel = os.path.relpath(path, root) if root != "/" else path.lstrip("/")
            if rel.startswith(".."):
                continue  # the target sits outside what this mount shows
            join = "cgroup.procs" if fstype == "cgroup2" else "tasks"  # see v1.JOIN_FILE
            files.append(os.path.normpath(os.path.join(mnt, rel, join)))
            break
    return files


def _hierarchies(proc_cgroup: str) -> dict[str, str]:
    """/proc/PID/cgroup -> {"cpu,cpuacct" (as listed; "" = v2): path}."""
    out = {}
    for line in proc_cgroup.splitlines():
        parts = line.split(":", 2)
        if len(parts) == 3:
            out[parts[1]] = parts[2]
    return out


def _cgroup_mounts(mountinfo: str) -> list[tuple[str, str, str, list[str]]]:
    """(mount point, root inside the hierarchy, fs type, super options) of cgroup mounts."""
    out = []
    for line in mountinfo.splitlines():
        left, _, right = line.partition(" - ")
        fields, rfields = left.split(), right.split()
        if len(fields) < 5 or len(rfields) < 3 or rfields[0] not in ("cgroup", "cgroup2"):
            continue
        point = fields[4].replace("\\040", " ")
        out.append((point, fields[3], rfields[0], rfields[2].split(",")))
    return out


def _read(path: str) -> str:
    with open(path) as f:
        return f.read()


def open_cgroup(
    path: str,
    *,
    mountinfo: str | None = None,
    self_cgroup: str | None = None,
    root: str = CGROUP_ROOT,
    fs: CgroupFS | None = None,
) -> Cgroup:
    """The driver for cgroup `path` on this host (see module doc for paths)."""
    mountinfo = _read("/proc/self/mountinfo") if mountinfo is None else mountinfo
    self_cgroup = _read("/proc/self/cgroup") if self_cgroup is None else self_cgroup
    fs = fs or CgroupFS()
    own = parse_proc_cgroup(self_cgroup)
    if detect_version(mountinfo, root) == 2:
        from runtime.cgroups.v2 import LEAF, CgroupV2

        base = own.get("", "/")
        if os.path.basename(base) == LEAF:
            base = os.path.dirname(base)  # we moved ourselves there to delegate
        return CgroupV2(root, _place(base, path), fs, base=base)
    from runtime.cgroups.v1 import CONTROLLERS, CgroupV1

    mounts: dict[str, str] = {}
    for mnt, fstype, opts in parse_mountinfo(mountinfo):
        if fstype == "cgroup":
            for c in opts:
                if c in CONTROLLERS and c not in mounts:
                    mounts[c] = mnt
    missing = [c for c in ("memory", "pids", "cpu", "cpuacct") if c not in mounts]
    if missing:
        raise CgroupError(f"cgroup v1 controllers not mounted: {', '.join(missing)}")
    dirs = {c: mnt + _place(own.get(c, "/"), path) for c, mnt in mounts.items()}
    return CgroupV1(dirs, fs)


def load_cgroup(state: dict[str, Any], fs: CgroupFS | None = None) -> Cgroup:
    """Rebuild a driver from `Cgroup.to_state()` (another process, same host)."""
    fs = fs or CgroupFS()
    if state["version"] == 2:
        from runtime.cgroups.v2 import CgroupV2

        return CgroupV2(state["root"], state["path"], fs)
    from runtime.cgroups.v1 import CgroupV1

    return CgroupV1(dict(state["dirs"]), fs)


def _place(own: str, path: str) -> str:
    """Absolute cgroup path (from the hierarchy root) for `path`."""
    if ".." in path.split("/"):
        raise CgroupError(f"cgroup path {path!r}: '..' escapes the hierarchy")
    if path.startswith("/"):
        full = os.path.normpath(path)
    else:
        full = os.path.normpath(os.path.join(own, path))
    if full == "/":
        raise CgroupError(f"cgroup path {path!r}: is a hierarchy root")
    return full

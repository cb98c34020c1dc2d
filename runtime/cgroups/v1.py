"""cgroup v1 driver: one directory per controller hierarchy.

Controllers used: memory, cpu, cpuacct, pids, freezer (to stop a fork bomb
while it is killed).  cpuset and devices are left to the caller's cgroup.
"""

from __future__ import annotations

import os
import time
from typing import Any

from runtime.cgroups import Cgroup, CgroupFS, Stats, rmdir_retry, weight_to_shares
from runtime.errors import CgroupError
from runtime.spec import Resources

CONTROLLERS = ("memory", "cpu", "cpuacct", "pids", "freezer")
UNLIMITED = 1 << 62  # memory.limit_in_bytes reads back PAGE_COUNTER_MAX * pagesize
# A process joins by writing "0" into `tasks`, not `cgroup.procs`: moving a whole thread
# group takes the kernel's global cgroup_threadgroup_rwsem for writing, which waits for an
# RCU grace period (6-35 ms here, per container), while a thread moving itself skips that
# lock.  The joining process (a container's init or exec, forked from the single-threaded
# forker) has one thread, so its one thread is the whole process.
JOIN_FILE = "tasks"


class CgroupV1(Cgroup):
    version = 1

    def __init__(self, dirs: dict[str, str], fs: CgroupFS) -> None:
        self.dirs = dirs  # controller -> absolute directory
        self.fs = fs

    def describe(self) -> str:
        return self.dirs.get("memory") or next(iter(self.dirs.values()))

    def _file(self, controller: str, name: str) -> str:
        return os.path.join(self.dirs[controller], name)

    def _write(self, controller: str, name: str, value: object) -> None:
        path = self._file(controller, name)
        try:
            self.fs.write(path, str(value))
        except OSError as e:
            raise CgroupError(
                f"write {value} to {path}: {os.strerror(e.errno or 0).lower()}"
            ) from None

    def create(self) -> None:
        for d in self._unique_dirs():
            try:
                self.fs.mkdir(d)
            except OSError as e:
                raise CgroupError(f"mkdir {d}: {os.strerror(e.errno or 0).lower()}") from None

    def _unique_dirs(self) -> list[str]:
        return sorted(set(self.dirs.values()))

    def apply(self, r: Resources) -> None:
        if r.memory_limit is not None:
            self._write("memory", "memory.limit_in_bytes", r.memory_limit)
            swap = r.memory_swap if r.memory_swap is not None else r.memory_limit
            if self.fs.exists(self._file("memory", "memory.memsw.limit_in_bytes")):
                self._write("memory", "memory.memsw.limit_in_bytes", swap)
        if r.cpu_period is not None:
            self._write("cpu", "cpu.cfs_period_us", r.cpu_period)
        if r.cpu_quota is not None:
            self._write("cpu", "cpu.cfs_quota_us", r.cpu_quota)
        shares = r.cpu_shares
        if shares is None and r.cpu_weight is not None:
            shares = weight_to_shares(r.cpu_weight)
        if shares is not None:
            self._write("cpu", "cpu.shares", shares)
        if r.pids_limit is not None:
            self._write("pids", "pids.max", "max" if r.pids_limit < 0 else r.pids_limit)

    def procs_files(self) -> list[str]:
        return [os.path.join(d, JOIN_FILE) for d in self._unique_dirs()]

    def mount_sources(self) -> dict[str, str]:
        by_dir: dict[str, list[str]] = {}
        for c, d in self.dirs.items():
            by_dir.setdefault(d, []).append(c)
        return {",".join(sorted(cs)): d for d, cs in by_dir.items()}

    def pids(self) -> list[int]:
        seen: set[int] = set()
        for d in self._unique_dirs():
            try:
                text = self.fs.read(os.path.join(d, "cgroup.procs"))
            except FileNotFoundError:
                continue
            seen.update(int(x) for x in text.split())
        return sorted(seen)

    def _read_int(self, controller: str, name: str) -> int:
        try:
            return int(self.fs.read(self._file(controller, name)).split()[0])
        except (FileNotFoundError, IndexError, ValueError):
            return 0

    def oom_kills(self) -> int:
        try:
            text = self.fs.read(self._file("memory", "memory.oom_control"))
        except FileNotFoundError:
            return 0
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                return int(value)
        # kernels before 4.13 have no oom_kill counter: a failed charge at the
        # limit is the best evidence left
        return 1 if self._read_int("memory", "memory.failcnt") > 0 else 0

    def stats(self) -> Stats:
        limit = self._read_int("memory", "memory.limit_in_bytes")
        return Stats(
            memory_usage=self._read_int("memory", "memory.usage_in_bytes"),
            memory_limit=None if limit >= UNLIMITED else limit,
            cpu_usage_ns=self._read_int("cpuacct", "cpuacct.usage"),
            pids_current=self._read_int("pids", "pids.current"),
            oom_kills=self.oom_kills(),
        )

    def freeze(self, frozen: bool) -> None:
        if "freezer" not in self.dirs:
            raise CgroupError("no freezer hierarchy")
        state = "FROZEN" if frozen else "THAWED"
        self._write("freezer", "freezer.state", state)
        if not frozen:
            return
        deadline = time.monotonic() + 1.0
        while self.fs.read(self._file("freezer", "freezer.state")).strip() != state:
            if time.monotonic() > deadline:
                return  # FREEZING: kill anyway, the loop retries
            time.sleep(0.001)

    def destroy(self, timeout: float = 2.0) -> None:
        for d in self._unique_dirs():
            rmdir_retry(self.fs, d, timeout)

    def to_state(self) -> dict[str, Any]:
        return {"version": 1, "dirs": dict(self.dirs)}

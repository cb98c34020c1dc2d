"""cgroup v2 driver: one unified tree.

The v2 rule that shapes this driver ("no internal processes"): a non-root
cgroup that holds processes cannot enable controllers for its children
(writing cgroup.subtree_control fails with EBUSY).  So processes only ever go
into leaves, and every ancestor between the caller's cgroup and ours gets the
controllers in its cgroup.subtree_control.  When the caller's own cgroup
holds processes (an agent in a systemd service, say), they are first moved
into a leaf child of it, `LEAF`, which is what a delegated subtree expects.
"""

from __future__ import annotations

import errno
import os
from typing import Any

from runtime.cgroups import Cgroup, CgroupFS, Stats, rmdir_retry, shares_to_weight
from runtime.errors import CgroupError
from runtime.spec import Resources

WANTED = ("cpu", "memory", "pids")
LEAF = "init"  # where the caller's processes go when its cgroup must become a parent


class CgroupV2(Cgroup):
    version = 2

    def __init__(self, root: str, path: str, fs: CgroupFS, base: str = "/") -> None:
        self.root = root  # mount point of cgroup2
        self.path = path  # absolute cgroup path, e.g. /agent/minikube-py/ctr1
        # the caller's own cgroup: we create and delegate only below it
        self.base = base
        self.fs = fs
        self.dir = root + path

    def describe(self) -> str:
        return self.dir

    def _f(self, name: str, d: str | None = None) -> str:
        return os.path.join(d or self.dir, name)

    def _write(self, path: str, value: object) -> None:
        try:
            self.fs.write(path, str(value))
        except OSError as e:
            raise CgroupError(
                f"write {value!r} to {path}: {os.strerror(e.errno or 0).lower()}"
            ) from None

    def _procs(self, d: str) -> list[int]:
        try:
            return [int(x) for x in self.fs.read(self._f("cgroup.procs", d)).split()]
        except FileNotFoundError:
            return []

    def create(self) -> None:
        """mkdir each level below `base`, enabling controllers in each parent."""
        start = self.base if _is_within(self.path, self.base) else "/"
        d = os.path.normpath(self.root + start)
        for name in [p for p in self.path[len(start) :].split("/") if p]:
            self._enable_controllers(d)
            child = os.path.join(d, name)
            if not self.fs.exists(child):
                try:
                    self.fs.mkdir(child)
                except OSError as e:
                    raise CgroupError(
                        f"mkdir {child}: {os.strerror(e.errno or 0).lower()}"
                    ) from None
            d = child

    def _enable_controllers(self, d: str) -> None:
        available = self.fs.read(self._f("cgroup.controllers", d)).split()
        enabled = self.fs.read(self._f("cgroup.subtree_control", d)).split()
        todo = [c for c in WANTED if c in available and c not in enabled]
        if not todo:
            return
        if os.path.normpath(d) != os.path.normpath(self.root) and self._procs(d):
            self._evacuate(d)
        self._write(self._f("cgroup.subtree_control", d), " ".join("+" + c for c in todo))

    def _evacuate(self, d: str) -> None:
        """Move every process of `d` into its leaf child so `d` may delegate."""
        leaf = os.path.join(d, LEAF)
        if not self.fs.exists(leaf):
            self.fs.mkdir(leaf)
        for pid in self._procs(d):
            try:
                self.fs.write(self._f("cgroup.procs", leaf), str(pid))
            except OSError as e:
                if e.errno != errno.ESRCH:  # exited meanwhile: fine
                    raise CgroupError(
                        f"move pid {pid} to {leaf}: {os.strerror(e.errno or 0).lower()}"
                    ) from None

    def apply(self, r: Resources) -> None:
        available = set(self.fs.read(self._f("cgroup.controllers")).split())

        def need(controller: str, field: str) -> None:
            if controller not in available:
                raise CgroupError(
                    f"resources.{field}: cgroup v2 controller {controller!r} not enabled "
                    f"for {self.dir} (not delegated to the caller's cgroup?)"
                )

        if r.memory_limit is not None:
            need("memory", "memory_limit")
            self._write(self._f("memory.max"), r.memory_limit)
            swap = r.memory_swap if r.memory_swap is not None else r.memory_limit
            if self.fs.exists(self._f("memory.swap.max")):
                self._write(self._f("memory.swap.max"), max(swap - r.memory_limit, 0))
        if r.cpu_quota is not None or r.cpu_period is not None:
            need("cpu", "cpu_quota")
            quota = "max" if r.cpu_quota is None else str(r.cpu_quota)
            self._write(self._f("cpu.max"), f"{quota} {r.cpu_period or 100000}")
        weight = r.cpu_weight
        if weight is None and r.cpu_shares is not None:
            weight = shares_to_weight(r.cpu_shares)
        if weight is not None:
            need("cpu", "cpu_weight")
            self._write(self._f("cpu.weight"), weight)
        if r.pids_limit is not None:
            need("pids", "pids_limit")
            self._write(self._f("pids.max"), "max" if r.pids_limit < 0 else r.pids_limit)

    def procs_files(self) -> list[str]:
        return [self._f("cgroup.procs")]

    def mount_sources(self) -> dict[str, str]:
        return {"": self.dir}

    def pids(self) -> list[int]:
        return self._procs(self.dir)

    def _kv(self, name: str) -> dict[str, int]:
        try:
            text = self.fs.read(self._f(name))
        except FileNotFoundError:
            return {}
        out = {}
        for line in text.splitlines():
            k, _, v = line.partition(" ")
            if v.strip().isdigit():
                out[k] = int(v)
        return out

    def _int(self, name: str) -> int | None:
        try:
            v = self.fs.read(self._f(name)).strip()
        except FileNotFoundError:
            return 0
        return None if v == "max" else int(v or 0)

    def oom_kills(self) -> int:
        return self._kv("memory.events").get("oom_kill", 0)

    def stats(self) -> Stats:
        return Stats(
            memory_usage=self._int("memory.current") or 0,
            memory_limit=self._int("memory.max"),
            cpu_usage_ns=self._kv("cpu.stat").get("usage_usec", 0) * 1000,
            pids_current=self._int("pids.current") or 0,
            oom_kills=self.oom_kills(),
        )

    def freeze(self, frozen: bool) -> None:
        self._write(self._f("cgroup.freeze"), "1" if frozen else "0")

    def kill_all(self, timeout: float = 5.0) -> None:
        # cgroup.kill (5.14+) kills the whole subtree atomically
        if self.pids() and self.fs.exists(self._f("cgroup.kill")):
            self._write(self._f("cgroup.kill"), "1")
        super().kill_all(timeout)

    def destroy(self, timeout: float = 2.0) -> None:
        rmdir_retry(self.fs, self.dir, timeout)

    def to_state(self) -> dict[str, Any]:
        return {"version": 2, "root": self.root, "path": self.path}


def _is_within(path: str, base: str) -> bool:
    return base != "/" and (path + "/").startswith(base.rstrip("/") + "/")

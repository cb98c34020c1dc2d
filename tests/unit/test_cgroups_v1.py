"""cgroup detection and the v1 driver against a fake hierarchy tree."""

from __future__ import annotations

import os

import pytest

from runtime.cgroups import (
    CgroupFS,
    detect_version,
    open_cgroup,
    parse_proc_cgroup,
    shares_to_weight,
    weight_to_shares,
)
from runtime.cgroups.v1 import CgroupV1
from runtime.spec import Resources

HYBRID = """\
25 30 0:22 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
26 25 0:23 / /sys/fs/cgroup/unified rw,nosuid - cgroup2 cgroup2 rw,nsdelegate
27 25 0:24 / /sys/fs/cgroup/memory rw,nosuid - cgroup cgroup rw,memory
28 25 0:25 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid - cgroup cgroup rw,cpu,cpuacct
29 25 0:26 / /sys/fs/cgroup/pids rw,nosuid - cgroup cgroup rw,pids
30 25 0:27 / /sys/fs/cgroup/freezer rw,nosuid - cgroup cgroup rw,freezer
31 25 0:28 / /sys/fs/cgroup/systemd rw,nosuid - cgroup cgroup rw,xattr,name=systemd
"""
PURE_V2 = "30 1 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n"
SELF = """\
12:pids:/
8:memory:/process_api/abc
5:cpu,cpuacct:/
3:freezer:/
1:name=systemd:/
0::/
"""


def test_hybrid_host_uses_v1_and_pure_v2_host_uses_v2():
    assert detect_version(HYBRID) == 1
    assert detect_version(PURE_V2) == 2


def test_this_hosts_mount_table_is_classified(tmp_path):
    with open("/proc/self/mountinfo") as f:
        text = f.read()
    assert detect_version(text) in (1, 2)


def test_proc_cgroup_splits_comounted_controllers():
    own = parse_proc_cgroup(SELF)
    assert own["memory"] == "/process_api/abc"
    assert own["cpu"] == own["cpuacct"] == "/"
    assert own[""] == "/"


class FileFS(CgroupFS):
    """Plain files stand in for v1 interface files (the kernel makes them on mkdir)."""

    def write(self, path: str, data: str) -> None:
        with open(path, "w") as f:
            f.write(data)


def fake_v1(tmp_path) -> tuple[str, str]:
    root = str(tmp_path)
    info = HYBRID.replace("/sys/fs/cgroup", root)
    for d in ("memory/process_api/abc", "cpu,cpuacct", "pids", "freezer", "unified"):
        os.makedirs(os.path.join(root, d))
    return root, info


def test_v1_places_the_container_under_the_callers_cgroup_in_each_hierarchy(tmp_path):
    root, info = fake_v1(tmp_path)
    cg = open_cgroup("minikube-py/web", mountinfo=info, self_cgroup=SELF, root=root)
    assert isinstance(cg, CgroupV1)
    assert cg.dirs["memory"] == f"{root}/memory/process_api/abc/minikube-py/web"
    assert cg.dirs["pids"] == f"{root}/pids/minikube-py/web"
    assert cg.dirs["cpu"] == cg.dirs["cpuacct"] == f"{root}/cpu,cpuacct/minikube-py/web"
    cg.create()
    assert sorted(cg.procs_files()) == sorted(f"{d}/tasks" for d in {*cg.dirs.values()})


def test_v1_absolute_path_is_taken_from_the_hierarchy_root(tmp_path):
    root, info = fake_v1(tmp_path)
    cg = open_cgroup("/pods/web", mountinfo=info, self_cgroup=SELF, root=root)
    assert cg.dirs["memory"] == f"{root}/memory/pods/web"


def test_v1_limits_and_oom_counter(tmp_path):
    root, info = fake_v1(tmp_path)
    cg = open_cgroup("minikube-py/web", mountinfo=info, self_cgroup=SELF, root=root, fs=FileFS())
    cg.create()
    cg.apply(
        Resources(
            memory_limit=16 << 20, cpu_quota=20000, cpu_period=100000, cpu_weight=100, pids_limit=10
        )
    )

    def read(c: str, name: str) -> str:
        with open(os.path.join(cg.dirs[c], name)) as f:
            return f.read()

    assert read("memory", "memory.limit_in_bytes") == str(16 << 20)
    assert read("cpu", "cpu.cfs_quota_us") == "20000"
    assert read("cpu", "cpu.cfs_period_us") == "100000"
    assert read("cpu", "cpu.shares") == str(weight_to_shares(100))
    assert read("pids", "pids.max") == "10"
    with open(os.path.join(cg.dirs["memory"], "memory.oom_control"), "w") as f:
        f.write("oom_kill_disable 0\nunder_oom 0\noom_kill 2\n")
    assert cg.oom_kills() == 2


def test_v1_missing_controllers_are_named(tmp_path):
    from runtime.errors import CgroupError

    with pytest.raises(CgroupError, match="not mounted: memory"):
        open_cgroup("x", mountinfo=HYBRID.replace("rw,memory", "rw,blkio"), self_cgroup=SELF)


def test_shares_and_weight_convert_both_ways():
    assert shares_to_weight(2) == 1
    assert shares_to_weight(262144) == 10000
    assert shares_to_weight(1024) == 39
    assert weight_to_shares(shares_to_weight(1024)) in range(990, 1030)

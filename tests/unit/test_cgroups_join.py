"""Which files (v1 tasks, v2 cgroup.procs) put a process where another one is (exec's join)."""

from __future__ import annotations

from runtime.cgroups import procs_files_joining
from runtime.exec import merge_env

HYBRID_MOUNTINFO = """\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
"""

OURS = """\
9:name=systemd:/user.slice
8:pids:/user.slice
4:memory:/agent
2:cpu,cpuacct:/
0::/user.slice
"""

CONTAINER = """\
9:name=systemd:/user.slice
8:pids:/agent/minikube-py/c1
4:memory:/agent/minikube-py/c1
2:cpu,cpuacct:/minikube-py/c1
0::/user.slice
"""


def test_every_hierarchy_that_differs_is_joined_and_no_other():
    assert procs_files_joining(CONTAINER, OURS, HYBRID_MOUNTINFO) == [
        "/sys/fs/cgroup/pids/agent/minikube-py/c1/tasks",
        "/sys/fs/cgroup/memory/agent/minikube-py/c1/tasks",
        "/sys/fs/cgroup/cpu,cpuacct/minikube-py/c1/tasks",
    ]


def test_named_and_v2_hierarchies_count_too():
    target = "9:name=systemd:/pods/c1\n0::/pods/c1\n"
    assert procs_files_joining(target, OURS, HYBRID_MOUNTINFO) == [
        "/sys/fs/cgroup/systemd/pods/c1/tasks",
        "/sys/fs/cgroup/unified/pods/c1/cgroup.procs",
    ]


def test_pure_v2_and_a_mount_of_a_subtree():
    mountinfo = "30 23 0:26 /kubepods /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n"
    assert procs_files_joining("0::/kubepods/c1\n", "0::/kubepods\n", mountinfo) == [
        "/sys/fs/cgroup/c1/cgroup.procs"
    ]
    # outside what the mount shows: nothing to write
    assert procs_files_joining("0::/elsewhere\n", "0::/kubepods\n", mountinfo) == []


def test_exec_env_overrides_by_name_and_keeps_order():
    base = ["PATH=/bin", "FOO=bar", "HOME=/root"]
    assert merge_env(base, ["FOO=baz", "NEW=1"]) == ["PATH=/bin", "FOO=baz", "HOME=/root", "NEW=1"]

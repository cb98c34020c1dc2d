"""The v2 driver on a real cgroup2 mount (this hybrid host's /sys/fs/cgroup/unified).

Its only controller is hugetlb, and enabling it would mean writing the
hierarchy root's subtree_control, which tests must not touch; so limits and
the "no internal processes" rule stay with the fake tree in tests/unit.
What the kernel can show is checked for real: mkdir, joining by writing "0",
listing, cgroup.kill, rmdir.
"""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from runtime.cgroups import CgroupFS
from runtime.cgroups.v2 import CgroupV2

UNIFIED = "/sys/fs/cgroup/unified"


def _v2_path_of_self() -> str:
    with open("/proc/self/cgroup") as f:
        for line in f:
            if line.startswith("0::"):
                return line.strip()[3:]
    pytest.skip("no cgroup2 entry in /proc/self/cgroup")


@pytest.fixture
def unified():
    if not os.path.exists(os.path.join(UNIFIED, "cgroup.procs")):
        pytest.skip("no cgroup2 mount at /sys/fs/cgroup/unified (pure v2 or pure v1 host)")
    parent = f"{_v2_path_of_self().rstrip('/')}/minikube-py-v2test-{os.getpid()}"
    yield parent
    d = UNIFIED + parent
    if os.path.isdir(d):
        for sub in os.listdir(d):
            if os.path.isdir(os.path.join(d, sub)):
                os.rmdir(os.path.join(d, sub))
        os.rmdir(d)


def test_v2_driver_creates_joins_kills_and_removes_for_real(unified):
    cg = CgroupV2(UNIFIED, f"{unified}/c1", CgroupFS(), base=unified.rsplit("/", 1)[0] or "/")
    cg.create()
    assert os.path.isdir(cg.dir)
    # a child that joins by writing "0", as the container init does
    child = subprocess.Popen(
        ["sh", "-c", f"echo 0 > {cg.procs_files()[0]} && exec sleep 30"],
    )
    try:
        for _ in range(200):
            if cg.pids():
                break
            time.sleep(0.01)
        assert cg.pids() == [child.pid]
        cg.kill_all()
        assert child.wait(timeout=5) == -9
        assert cg.pids() == []
        assert cg.stats().cpu_usage_ns >= 0
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    cg.destroy()
    assert not os.path.exists(cg.dir)

"""cgroup v2 driver against a fake cgroupfs tree that enforces the kernel's rules."""

from __future__ import annotations

import errno
import os

import pytest

from runtime.cgroups import CgroupFS, load_cgroup, open_cgroup
from runtime.cgroups.v2 import CgroupV2
from runtime.errors import CgroupError
from runtime.spec import Resources

PURE_V2 = "30 1 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n"
INTERFACE = {
    "memory": {"memory.max": "max\n", "memory.current": "0\n", "memory.events": "oom_kill 0\n"},
    "cpu": {"cpu.max": "max 100000\n", "cpu.weight": "100\n", "cpu.stat": "usage_usec 0\n"},
    "pids": {"pids.max": "max\n", "pids.current": "0\n"},
}


class FakeCgroup2FS(CgroupFS):
    """A directory tree behaving like cgroup2 for the operations the driver uses.

    - mkdir creates the core files, and the interface files of the controllers
      the parent enabled in its cgroup.subtree_control;
    - writing cgroup.subtree_control of a non-root cgroup that has processes
      fails with EBUSY ("no internal processes"), as does putting a process
      into a non-root cgroup that delegates controllers;
    - writing a pid into cgroup.procs moves it out of its old cgroup;
    - rmdir of a cgroup with processes or children fails with EBUSY.
    """

    def __init__(self, root: str, controllers: str = "cpu io memory pids") -> None:
        self.root = root
        os.makedirs(root, exist_ok=True)
        self._put(root, "cgroup.controllers", controllers + "\n")
        self._put(root, "cgroup.subtree_control", "\n")
        self._put(root, "cgroup.procs", "")

    @staticmethod
    def _put(d: str, name: str, text: str) -> None:
        with open(os.path.join(d, name), "w") as f:
            f.write(text)

    @staticmethod
    def _get(d: str, name: str) -> str:
        with open(os.path.join(d, name)) as f:
            return f.read()

    def add_process(self, cgroup: str, pid: int) -> None:
        d = self.root + cgroup
        self._put(d, "cgroup.procs", self._get(d, "cgroup.procs") + f"{pid}\n")

    def mkdir(self, path: str) -> None:
        parent = os.path.dirname(path)
        os.mkdir(path)
        enabled = self._get(parent, "cgroup.subtree_control").split()
        self._put(path, "cgroup.controllers", " ".join(enabled) + "\n")
        self._put(path, "cgroup.subtree_control", "\n")
        self._put(path, "cgroup.procs", "")
        self._put(path, "cgroup.events", "populated 0\n")
        for c in enabled:
            for name, text in INTERFACE.get(c, {}).items():
                self._put(path, name, text)

    def write(self, path: str, data: str) -> None:
        d, name = os.path.split(path)
        is_root = os.path.normpath(d) == os.path.normpath(self.root)
        if not os.path.exists(path):
            raise OSError(errno.ENOENT, "No such file or directory", path)
        if name == "cgroup.subtree_control":
            if not is_root and self._get(d, "cgroup.procs").split():
                raise OSError(errno.EBUSY, "Device or resource busy", path)
            available = self._get(d, "cgroup.controllers").split()
            enabled = self._get(d, name).split()
            for tok in data.split():
                c = tok[1:]
                if c not in available:
                    raise OSError(errno.ENOENT, "No such file or directory", path)
                if tok[0] == "+" and c not in enabled:
                    enabled.append(c)
                elif tok[0] == "-" and c in enabled:
                    enabled.remove(c)
            self._put(d, name, " ".join(enabled) + "\n")
        elif name == "cgroup.procs":
            if not is_root and self._get(d, "cgroup.subtree_control").split():
                raise OSError(errno.EBUSY, "Device or resource busy", path)
            pid = data.strip()
            for dirpath, _, files in os.walk(self.root):
                if "cgroup.procs" in files:
                    pids = self._get(dirpath, "cgroup.procs").split()
                    if pid in pids:
                        pids.remove(pid)
                        self._put(dirpath, "cgroup.procs", "".join(p + "\n" for p in pids))
            self.add_process(d[len(self.root) :] or "/", int(pid))
        else:
            self._put(d, name, data)

    def rmdir(self, path: str) -> None:
        if self._get(path, "cgroup.procs").split() or any(
            os.path.isdir(os.path.join(path, x)) for x in os.listdir(path)
        ):
            raise OSError(errno.EBUSY, "Device or resource busy", path)
        for x in os.listdir(path):
            os.unlink(os.path.join(path, x))
        os.rmdir(path)


@pytest.fixture
def fake(tmp_path):
    fs = FakeCgroup2FS(str(tmp_path / "cgroup"))
    # the caller's own cgroup: made by "systemd", controllers delegated from root
    fs.write(fs.root + "/cgroup.subtree_control", "+cpu +memory +pids +io")
    fs.mkdir(fs.root + "/agent.service")
    fs.add_process("/agent.service", 4242)
    fs.add_process("/agent.service", 4243)
    return fs


def driver(fs: FakeCgroup2FS, path: str = "minikube-py/web", own: str = "/agent.service"):
    return open_cgroup(
        path,
        mountinfo=PURE_V2.replace("/sys/fs/cgroup", fs.root),
        self_cgroup=f"0::{own}\n",
        root=fs.root,
        fs=fs,
    )


def test_fake_refuses_controllers_for_children_of_a_cgroup_with_processes(fake):
    with pytest.raises(OSError) as e:
        fake.write(fake.root + "/agent.service/cgroup.subtree_control", "+memory")
    assert e.value.errno == errno.EBUSY


def test_v2_is_picked_when_cgroup2_is_mounted_at_the_root(fake):
    assert isinstance(driver(fake), CgroupV2)


def test_container_cgroup_is_created_under_the_callers_cgroup(fake):
    cg = driver(fake)
    cg.create()
    assert cg.dir == fake.root + "/agent.service/minikube-py/web"
    assert os.path.isdir(cg.dir)


def test_callers_processes_move_to_a_leaf_so_its_cgroup_can_delegate(fake):
    driver(fake).create()
    agent = fake.root + "/agent.service"
    assert fake._get(agent, "cgroup.procs").split() == []
    assert sorted(fake._get(agent + "/init", "cgroup.procs").split()) == ["4242", "4243"]
    for d in (agent, agent + "/minikube-py"):
        assert set(fake._get(d, "cgroup.subtree_control").split()) >= {"cpu", "memory", "pids"}


def test_only_leaves_hold_processes_after_a_container_joins(fake):
    cg = driver(fake)
    cg.create()
    (procs,) = cg.procs_files()
    fake.write(procs, "777")
    for dirpath, _, files in os.walk(fake.root):
        if dirpath == fake.root or "cgroup.procs" not in files:
            continue
        if fake._get(dirpath, "cgroup.procs").split():
            assert fake._get(dirpath, "cgroup.subtree_control").split() == [], dirpath
    assert cg.pids() == [777]


def test_second_container_reuses_the_parent_and_a_caller_in_the_leaf_is_not_nested(fake):
    driver(fake, "minikube-py/a").create()
    # the caller now runs in /agent.service/init: containers still go beside it
    cg = driver(fake, "minikube-py/b", own="/agent.service/init")
    cg.create()
    assert cg.dir == fake.root + "/agent.service/minikube-py/b"
    assert not os.path.exists(fake.root + "/agent.service/init/minikube-py")


def test_limits_are_written_in_v2_terms(fake):
    cg = driver(fake)
    cg.create()
    cg.apply(
        Resources(
            memory_limit=64 << 20,
            cpu_quota=50000,
            cpu_period=100000,
            cpu_shares=1024,
            pids_limit=32,
        )
    )
    read = lambda name: fake._get(cg.dir, name).strip()  # noqa: E731
    assert read("memory.max") == str(64 << 20)
    assert read("cpu.max") == "50000 100000"
    assert read("cpu.weight") == "39"  # shares 1024 -> weight
    assert read("pids.max") == "32"


def test_oom_kill_and_usage_are_read_from_the_v2_files(fake):
    cg = driver(fake)
    cg.create()
    fake._put(cg.dir, "memory.events", "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n")
    fake._put(cg.dir, "memory.current", "123456\n")
    fake._put(cg.dir, "cpu.stat", "usage_usec 2500\nuser_usec 2000\n")
    fake._put(cg.dir, "pids.current", "3\n")
    s = cg.stats()
    assert (s.oom_kills, s.memory_usage, s.cpu_usage_ns, s.pids_current) == (
        1,
        123456,
        2_500_000,
        3,
    )
    assert s.memory_limit is None


def test_a_limit_for_an_undelegated_controller_names_the_field(tmp_path):
    fs = FakeCgroup2FS(str(tmp_path / "cg"), controllers="cpu io")
    fs.mkdir(fs.root + "/agent")
    cg = driver(fs, own="/agent")
    cg.create()
    with pytest.raises(CgroupError, match=r"resources.memory_limit: cgroup v2 controller 'memory'"):
        cg.apply(Resources(memory_limit=1 << 20))


def test_destroy_removes_the_leaf_and_refuses_while_processes_remain(fake):
    cg = driver(fake)
    cg.create()
    fake.add_process(cg.path, 999)
    with pytest.raises(CgroupError, match=r"rmdir .*web: device or resource busy"):
        cg.destroy(timeout=0.05)
    fake._put(cg.dir, "cgroup.procs", "")
    cg.destroy()
    assert not os.path.exists(cg.dir)


def test_state_round_trip_rebuilds_the_same_cgroup(fake):
    cg = driver(fake)
    again = load_cgroup(cg.to_state(), fs=fake)
    assert isinstance(again, CgroupV2) and again.dir == cg.dir


def test_a_path_escaping_the_hierarchy_is_refused(fake):
    with pytest.raises(CgroupError, match="escapes"):
        driver(fake, "../../etc")

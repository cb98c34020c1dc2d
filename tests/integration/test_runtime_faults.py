"""Bad input and faults: each is a precise error, and nothing is left behind."""

from __future__ import annotations

import os
import uuid

import pytest

from runtime.cgroups import open_cgroup
from runtime.container import Container
from runtime.errors import SpecError, StartError
from runtime.spec import Namespace, Process, Root, Spec


@pytest.fixture
def make(busybox_rootfs, tmp_path):
    parent = f"minikube-py-faults-{os.getpid()}"
    made = []

    def factory(*args: str) -> tuple[Spec, str]:
        s = Spec(process=Process(args=list(args)), root=Root(busybox_rootfs))
        cid = uuid.uuid4().hex[:12]
        s.cgroups_path = f"{parent}/{cid}"
        made.append(s.cgroups_path)
        return s, cid

    yield factory
    for path in made:
        cg = open_cgroup(path)
        for d in set(getattr(cg, "dirs", {}).values()) or {getattr(cg, "dir", "")}:
            assert not os.path.exists(d), f"cgroup {d} left behind"
    cg = open_cgroup(parent)
    for d in set(getattr(cg, "dirs", {}).values()) or {getattr(cg, "dir", "")}:
        if os.path.isdir(d):
            os.rmdir(d)


def our_processes(cid: str) -> list[int]:
    """Pids whose cgroup names this container (should be none after a failure)."""
    found = []
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                with open(f"/proc/{p}/cgroup") as f:
                    if cid in f.read():
                        found.append(int(p))
            except OSError:
                pass
    return found


def assert_start_fails(spec: Spec, cid: str, state_dir: str, message: str) -> None:
    with pytest.raises(StartError) as e:
        c = Container.create(cid, spec, state_dir)
        c.start()
    assert str(e.value) == f"container {cid}: {message}"
    assert our_processes(cid) == []
    assert not os.path.exists(os.path.join(state_dir, "state.json"))


def test_missing_executable(make, tmp_path):
    s, cid = make("/bin/nope")
    assert_start_fails(s, cid, str(tmp_path / "st"), 'exec "/bin/nope": no such file or directory')


def test_missing_executable_on_path(make, tmp_path):
    s, cid = make("nope")
    assert_start_fails(
        s, cid, str(tmp_path / "st"), 'exec "nope": no such file or directory (not found in $PATH)'
    )


def test_non_executable_file(make, tmp_path):
    s, cid = make("/etc/passwd")
    assert_start_fails(s, cid, str(tmp_path / "st"), 'exec "/etc/passwd": permission denied')


def test_cwd_that_does_not_exist(make, tmp_path):
    s, cid = make("/bin/true")
    s.process.cwd = "/no/such/dir"
    assert_start_fails(
        s, cid, str(tmp_path / "st"), 'chdir "/no/such/dir": no such file or directory'
    )


def test_namespace_path_that_does_not_exist(make, tmp_path):
    s, cid = make("/bin/true")
    s.namespaces[1] = Namespace("network", "/proc/999999999/ns/net")
    with pytest.raises(SpecError, match=r"namespaces\[1\].path: /proc/999999999/ns/net: no such"):
        Container.create(cid, s, str(tmp_path / "st"))
    assert our_processes(cid) == []


def test_namespace_path_that_is_not_a_namespace(make, tmp_path):
    s, cid = make("/bin/true")
    s.namespaces[1] = Namespace("network", "/etc/hostname")
    assert_start_fails(s, cid, str(tmp_path / "st"), 'setns "/etc/hostname": invalid argument')


def test_rootfs_missing(make, tmp_path):
    s, cid = make("/bin/true")
    s.root = Root(str(tmp_path / "gone"))
    with pytest.raises(SpecError, match=r"root.path: rootfs .*/gone: no such directory"):
        Container.create(cid, s, str(tmp_path / "st"))


def test_uid_without_permission_on_cwd(make, tmp_path):
    s, cid = make("/bin/true")
    s.process.uid = s.process.gid = 1000
    s.process.cwd = "/root"  # mode 700 in the fixture
    st = os.stat(os.path.join(s.root.path, "root"))
    if st.st_mode & 0o005:
        pytest.skip("fixture /root is world-accessible")
    assert_start_fails(s, cid, str(tmp_path / "st"), 'chdir "/root": permission denied')


def test_created_but_never_started_container_is_deleted_cleanly(make, tmp_path):
    s, cid = make("/bin/sh", "-c", "echo never")
    c = Container.create(cid, s, str(tmp_path / "st"))
    assert c.status() == "created" and c.alive()
    c.delete()
    assert not c.alive()
    assert our_processes(cid) == []

"""Bad input and faults: each is a precise error, and nothing is left behind."""

from __future__ import annotations

import os
import uuid

import pytest

from runtime.cgroups import open_cgroup
from runtime.container import Container
from runtime.errors import SpecError, StartError
from runtime.spec import Mount, Namespace, Process, Root, Spec


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
    open_cgroup(parent).destroy()


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


def test_cwd_reached_through_an_inherited_fd_is_refused(make, tmp_path):
    # CVE-2024-21626 class: fd 0 is a host directory, cwd /proc/self/fd/0
    # would put the process outside its root
    s, cid = make("/bin/true")
    s.process.cwd = "/proc/self/fd/0"
    host_dir = os.open("/", os.O_RDONLY | os.O_DIRECTORY)
    try:
        with pytest.raises(StartError) as e:
            Container.create(cid, s, str(tmp_path / "st"), stdin=host_dir)
    finally:
        os.close(host_dir)
    assert str(e.value) == (
        f'container {cid}: chdir "/proc/self/fd/0": working directory is outside the container root'
    )
    assert our_processes(cid) == []


def test_exec_failure_after_start_is_reported_and_cleaned_up(make, tmp_path):
    # executable bit set, but not a program: only execve itself can tell
    bad = tmp_path / "bad"
    bad.write_bytes(b"\x00\x01garbage")
    bad.chmod(0o755)
    s, cid = make("/bad")
    s.mounts.append(Mount("/bad", "bind", str(bad), ["ro"]))
    # the mount point is new: make it in an upper dir, never in the shared fixture
    dirs = [tmp_path / n for n in ("upper", "work", "mnt")]
    for d in dirs:
        d.mkdir()
    s.root = Root(str(dirs[2]), lower=[s.root.path], upper=str(dirs[0]), work=str(dirs[1]))
    c = Container.create(cid, s, str(tmp_path / "st"))
    with pytest.raises(StartError) as e:
        c.start()
    assert str(e.value) == f'container {cid}: exec "/bad": exec format error'
    assert not c.alive()
    assert our_processes(cid) == []
    assert not os.path.exists(os.path.join(tmp_path, "st", "state.json"))


def test_containers_start_concurrently_from_many_threads(make, tmp_path):
    # the agent is multi-threaded: creates from threads must not interfere
    from concurrent.futures import ThreadPoolExecutor

    def one(i: int) -> tuple[int | None, str]:
        s, cid = make("/bin/sh", "-c", f"exit {i}")
        c = Container.run(cid, s, str(tmp_path / cid))
        status = c.wait(timeout=20)
        c.delete()
        return (status.code if status else None), cid

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(one, range(16)))
    assert [code for code, _ in results] == list(range(16))
    for _, cid in results:
        assert our_processes(cid) == []


def test_forker_survives_the_thread_that_started_it_and_restarts_after_a_crash(make, tmp_path):
    import signal
    import threading

    from runtime import forker

    box = {}
    t = threading.Thread(target=lambda: box.setdefault("f", forker.Forker()))
    t.start()
    t.join()
    f = box["f"]
    try:
        s, cid = make("/bin/true")
        c = Container.run(cid, s, str(tmp_path / "a"), use_forker=f)
        assert c.wait(timeout=10).code == 0
        c.delete()
    finally:
        f.close()

    first = forker.default_forker()
    os.kill(first.pid, signal.SIGKILL)
    first._proc.wait()
    s, cid = make("/bin/true")
    c = Container.run(cid, s, str(tmp_path / "b"))
    assert c.wait(timeout=10).code == 0
    c.delete()
    assert forker.default_forker().pid != first.pid

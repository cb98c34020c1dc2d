"""The shim: the containers' parent in a process of its own, driven over its socket."""

from __future__ import annotations

import os
import threading
import time

import pytest

from minikube_py.kubelet.runtime_service import LocalRuntimeService
from minikube_py.shim.client import RemoteStartError, ShimClient, ShimError
from runtime.errors import RuntimeErr, StartError
from runtime.spec import Process, Root, Spec
from tests.fixtures.node import process_gone

CGROUP_PARENT = f"mkpy-shimtest-{os.getpid()}"


def spec_for(tmp_path, name: str, args: list[str], lower: str) -> Spec:
    base = tmp_path / name
    for d in ("rootfs", "upper", "work"):
        (base / d).mkdir(parents=True)
    return Spec(
        process=Process(args=args),
        root=Root(
            path=str(base / "rootfs"),
            lower=[lower],
            upper=str(base / "upper"),
            work=str(base / "work"),
        ),
        cgroups_path=f"{CGROUP_PARENT}/{name}",
    )


@pytest.fixture
def shim(tmp_path):
    run_dir = str(tmp_path / "run")
    client = ShimClient.connect(run_dir)
    pid = client.pid()
    yield client
    client.shutdown(force=True)
    client.close()
    deadline = time.monotonic() + 10
    while not process_gone(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert process_gone(pid), "the shim did not exit on shutdown"
    from runtime import cgroups

    cgroups.open_cgroup(CGROUP_PARENT).destroy()


def test_exits_are_reported_listed_and_logged(shim, tmp_path, busybox_rootfs):
    exits = []
    got = threading.Event()
    shim.subscribe(lambda e: (exits.append(e), got.set()))
    log = str(tmp_path / "logs/c1/0.log")
    shim.create(
        "c1",
        spec_for(tmp_path, "c1", ["sh", "-c", "echo out; echo err >&2; exit 3"], busybox_rootfs),
        log,
    )
    shim.start("c1")
    assert got.wait(10)
    assert (exits[0].id, exits[0].code, exits[0].reason) == ("c1", 3, "Error")
    info = shim.list()["c1"]
    assert info.status == "stopped" and info.exit.code == 3
    from minikube_py.logs.reader import read_log

    assert sorted(read_log(log)) == [b"err\n", b"out\n"]
    shim.delete("c1")
    assert "c1" not in shim.list()


def test_a_start_error_crosses_with_its_message(shim, tmp_path, busybox_rootfs):
    with pytest.raises(StartError) as e:  # the runtime finds it out at create or start
        shim.create("c2", spec_for(tmp_path, "c2", ["/bin/nope"], busybox_rootfs), None)
        shim.start("c2")
    assert isinstance(e.value, RemoteStartError)
    assert 'exec "/bin/nope": no such file or directory' in str(e.value)
    assert "c2" not in shim.list()  # nothing half-made


def test_workers_create_containers_concurrently(shim, tmp_path, busybox_rootfs):
    errors: list[BaseException] = []

    def create(i: int) -> None:
        try:
            shim.create(f"p{i}", spec_for(tmp_path, f"p{i}", ["sleep", "30"], busybox_rootfs), None)
            shim.start(f"p{i}")
        except BaseException as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=create, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    listed = shim.list()
    assert {f"p{i}" for i in range(8)} <= set(listed)
    assert all(listed[f"p{i}"].status == "running" for i in range(8))


def test_unknown_container_is_a_clear_error(shim):
    with pytest.raises(ShimError, match="not found"):
        shim.kill("nope", 15)


def test_a_log_that_cannot_be_opened_fails_the_create_and_leaves_nothing(tmp_path, busybox_rootfs):
    runtime = LocalRuntimeService(str(tmp_path / "run"))
    log = tmp_path / "logs" / "0.log"
    log.mkdir(parents=True)  # a directory where the log file should go
    with pytest.raises(RuntimeErr, match="container c3: log writer"):
        runtime.create("c3", spec_for(tmp_path, "c3", ["true"], busybox_rootfs), str(log))
    assert runtime.list() == {}
    assert not os.path.exists(runtime.state_dir("c3"))
    from runtime import cgroups

    cgroups.open_cgroup(CGROUP_PARENT).destroy()

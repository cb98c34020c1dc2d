"""The pause's root: made once, safely, even by many pods starting at once."""

from __future__ import annotations

import os
import threading

from minikube_py.kubelet.pause import prepare_rootfs


def test_pods_starting_at_once_share_one_pause_rootfs(tmp_path):
    rootfs = str(tmp_path / "pause-rootfs")
    errors: list[BaseException] = []
    barrier = threading.Barrier(16)

    def prepare():
        barrier.wait()
        try:
            prepare_rootfs(rootfs)
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=prepare) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    for name in ("bin", "lib", "sbin", "lib64"):
        host = f"/{name}"
        if os.path.islink(host):
            assert os.readlink(os.path.join(rootfs, name)) == os.readlink(host)


def test_pause_mounts_the_interpreter_read_only(tmp_path):
    mounts = prepare_rootfs(str(tmp_path / "r"))
    binds = [m for m in mounts if m.type == "bind"]
    assert binds and all("ro" in m.options for m in binds)
    assert any(m.destination == "/proc" for m in mounts)

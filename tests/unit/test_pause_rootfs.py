"""The pause: the runtime's builtin, on an empty root made once, safely, even by many pods
starting at once."""

from __future__ import annotations

import os
import threading

import pytest

from minikube_py.kubelet.pause import pause_spec, prepare_rootfs
from runtime.errors import SpecError
from runtime.spec import Process, Root, Spec


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
    assert os.listdir(rootfs) == []


def test_the_pause_execs_nothing_and_mounts_nothing(tmp_path):
    spec = pause_spec(str(tmp_path / "r"), "web", "pods/x/pause")
    spec.validate()
    assert spec.process.builtin == "pause"
    assert spec.mounts == [] and spec.root.readonly
    assert spec.process.capabilities.base == []
    assert Spec.from_dict(spec.to_dict()) == spec


def test_only_known_builtins():
    spec = Spec(process=Process(args=["x"], builtin="sleep"), root=Root(path="/r"))
    with pytest.raises(SpecError, match=r"process\.builtin"):
        spec.validate()

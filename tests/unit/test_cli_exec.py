"""exec's choice of container and its kubectl messages (no root, no agent)."""

from __future__ import annotations

import pytest

from minikube_py.cli.exec import pick_container, running_container_id
from minikube_py.errors import MinikubeError


def pod(containers=("app", "side"), inits=(), annotations=None, phase="Running", statuses=()):
    return {
        "metadata": {"name": "web", "annotations": annotations or {}},
        "spec": {
            "containers": [{"name": n} for n in containers],
            "initContainers": [{"name": n} for n in inits],
        },
        "status": {"phase": phase, "containerStatuses": list(statuses)},
    }


def test_first_container_is_the_default_and_kubectl_says_so():
    said = []
    assert pick_container(pod(inits=("setup",)), None, said.append) == "app"
    assert said == ['Defaulted container "app" out of: app, side, setup (init)']


def test_a_single_container_is_picked_silently():
    said = []
    assert pick_container(pod(containers=("only",)), None, said.append) == "only"
    assert said == []


def test_the_default_container_annotation_wins_silently():
    said = []
    p = pod(annotations={"kubectl.kubernetes.io/default-container": "side"})
    assert pick_container(p, None, said.append) == "side"
    assert said == []


def test_an_annotation_naming_no_container_falls_back_to_the_first():
    said = []
    p = pod(annotations={"kubectl.kubernetes.io/default-container": "gone"})
    assert pick_container(p, None, said.append) == "app"
    assert said == ['Defaulted container "app" out of: app, side']


def test_unknown_container_and_completed_pod_are_kubectls_errors():
    with pytest.raises(MinikubeError, match=r"^container nope is not valid for pod web$"):
        pick_container(pod(), "nope", print)
    with pytest.raises(MinikubeError, match=r"completed pod; current phase is Failed$"):
        pick_container(pod(phase="Failed"), "app", print)


def test_only_a_running_container_has_an_id_to_exec_into():
    running = {"name": "app", "containerID": "minikube-py://abc", "state": {"running": {}}}
    done = {"name": "side", "containerID": "minikube-py://def", "state": {"terminated": {}}}
    p = pod(statuses=[running, done])
    assert running_container_id(p, "app") == "abc"
    with pytest.raises(MinikubeError, match=r'container not found \("side"\)$'):
        running_container_id(p, "side")


def test_a_non_root_user_is_told_to_use_root(monkeypatch, capsys, tmp_path):
    from minikube_py.cli import main

    monkeypatch.setattr("os.geteuid", lambda: 1000)
    with pytest.raises(SystemExit) as e:
        main(["--run-dir", str(tmp_path), "exec", "web", "--", "true"])
    assert e.value.code == 1
    assert capsys.readouterr().err == (
        "error: exec needs root: it enters the container's namespaces and cgroups "
        "(run as root: sudo minikube-py exec ...)\n"
    )

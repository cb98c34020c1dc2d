"""A container run's runtime id names its pod, container and run (adoption relies on it)."""

from minikube_py.kubelet.worker import container_id, parse_container_id

UID = "0b6f6f55-6a4c-4f4e-9a3e-2a1d7f1c9b10"


def test_a_run_id_reads_back_and_is_unique():
    a, b = container_id(UID, "web-server", 3), container_id(UID, "web-server", 3)
    assert a != b and a.startswith(UID + "-web-server-3-")
    assert parse_container_id(UID, a) == ("web-server", 3)


def test_ids_of_other_pods_and_the_pause_are_not_runs():
    assert parse_container_id(UID, f"{UID}-pause") is None
    assert parse_container_id(UID, container_id("1" * 36, "web", 0)) is None
    assert parse_container_id(UID, "0123456789abcdef0123456789abcdef") is None

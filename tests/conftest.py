"""Fixtures every test may use: a busybox rootfs, a real registry, real images."""

from __future__ import annotations

import os

import pytest

from tests.fixtures.images import FixtureImages, build_fixture_images
from tests.fixtures.registry import Registry
from tests.fixtures.registry import start_registry as _start_registry
from tests.fixtures.rootfs import build_busybox_rootfs

IS_ROOT = os.geteuid() == 0
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
NEEDS_ROOT_DIRS = ("integration", "e2e")


def pytest_collection_modifyitems(config, items):
    # Everything under tests/integration and tests/e2e needs root and real kernel features.
    for item in items:
        parts = item.path.parts
        if any(d in parts for d in NEEDS_ROOT_DIRS) and "root" not in item.keywords:
            item.add_marker(pytest.mark.root)


@pytest.fixture(autouse=True)
def _root_gate(request):
    if "root" in request.keywords and not IS_ROOT:
        if IN_CI:
            pytest.fail("this test needs root, and CI must run every test: run as root")
        pytest.skip("needs root (namespaces, mounts, cgroups): run with sudo")


@pytest.fixture(scope="session")
def busybox_rootfs(tmp_path_factory) -> str:
    """A plain busybox root filesystem directory. Treat it as read-only."""
    return build_busybox_rootfs(str(tmp_path_factory.mktemp("busybox-rootfs")))


@pytest.fixture(scope="session")
def registry(tmp_path_factory) -> Registry:
    reg = _start_registry(str(tmp_path_factory.mktemp("registry")))
    yield reg
    reg.stop()


@pytest.fixture
def start_registry(tmp_path_factory):
    """Factory for a test's own registry, e.g. start_registry(htpasswd=("user", "pass"))."""
    started: list[Registry] = []

    def factory(htpasswd: tuple[str, str] | None = None) -> Registry:
        reg = _start_registry(str(tmp_path_factory.mktemp("registry")), htpasswd=htpasswd)
        started.append(reg)
        return reg

    yield factory
    for reg in started:
        reg.stop()


@pytest.fixture(scope="session")
def images(tmp_path_factory, registry, busybox_rootfs) -> FixtureImages:
    """The fixture images, built with umoci and pushed with skopeo to `registry`."""
    if not IS_ROOT:
        pytest.skip("building fixture images needs root (file ownership)")
    return build_fixture_images(str(tmp_path_factory.mktemp("images")), registry, busybox_rootfs)


def _mounts_under(path: str) -> list[str]:
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4] for line in f]
    return [p for p in points if p == path or p.startswith(path.rstrip("/") + "/")]


@pytest.fixture(scope="session", autouse=True)
def _no_leaked_mounts(tmp_path_factory):
    """A leak is a failed test: nothing may stay mounted under the tests' temp dirs."""
    yield
    leaked = _mounts_under(str(tmp_path_factory.getbasetemp()))
    assert not leaked, f"tests left mounts behind: {leaked}"


@pytest.fixture
def pod_node(tmp_path):
    """A node for pod tests; at the end, asserts the runs left nothing behind."""
    from tests.fixtures.node import destroy_node, make_node

    node = make_node(str(tmp_path / "node"))
    yield node
    try:
        for proc in node.procs:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=90)
        leftovers = node.leftovers()
        processes = node.processes()
    finally:
        destroy_node(node)
    assert not leftovers, f"the run left behind: {leftovers}"
    assert not processes, f"the run left processes: {processes}"


@pytest.fixture
def agent(pod_node, tmp_path):
    """A running `minikube-py agent` on pod_node; drained (every pod stopped) at the end."""
    from tests.fixtures.node import AgentProcess

    a = AgentProcess(pod_node, str(tmp_path / "manifests"))
    a.start()
    yield a
    a.drain()

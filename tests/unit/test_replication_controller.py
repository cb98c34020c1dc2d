"""The replication controller against the real object store and a stand-in kubelet: it keeps
the replicas, replaces what goes, scales both ways, adopts orphans, cascades deletion, and
backs off from pods the node keeps failing."""

from __future__ import annotations

import threading
import time

import pytest

from minikube_py.apiserver.errors import APIError
from minikube_py.apiserver.store import ObjectStore
from minikube_py.controller.replication import ReplicationManager
from tests.unit.fake_agent import pod_manifest, running_status

pytestmark = pytest.mark.timeout(60)


def rc_manifest(name="web", replicas=3, labels=None):
    labels = labels or {"app": name}
    return {
        "apiVersion": "v1",
        "kind": "ReplicationController",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "template": {
                "metadata": {"labels": labels, "annotations": {"note": "from the template"}},
                "spec": {"containers": [{"name": "c", "image": "busybox"}]},
            },
        },
    }


class Kubelet:
    """Runs every new pod (Running, Ready) or fails it; finishes graceful deletions."""

    def __init__(self, store: ObjectStore, fail: bool = False):
        self.store, self.fail = store, fail
        self.watch = store.watch("Pod")
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self):
        for type_, pod in self.watch:
            meta = pod["metadata"]
            try:
                if meta.get("deletionTimestamp"):
                    self.store.remove("Pod", meta["namespace"], meta["name"], uid=meta["uid"])
                elif type_ == "ADDED":
                    status = {"phase": "Failed", "reason": "OutOfpods"}
                    if not self.fail:
                        status = running_status(pod)
                    self.store.update_status("Pod", meta["namespace"], meta["name"], status)
            except APIError:
                pass

    def close(self):
        self.watch.close()
        self.thread.join(5)


@pytest.fixture
def store(tmp_path):
    return ObjectStore(str(tmp_path / "root"), node_name="node1")


@pytest.fixture
def controller(store):
    rcm = ReplicationManager(store)
    rcm.start()
    yield rcm
    rcm.close()


@pytest.fixture
def kubelet(store):
    k = Kubelet(store)
    yield k
    k.close()


def wait_until(check, what, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def pods(store, **labels):
    items, _ = store.list("Pod", "default")
    return [
        p
        for p in items
        if all(p["metadata"].get("labels", {}).get(k) == v for k, v in labels.items())
    ]


def rc_status(store, name="web"):
    return store.get("ReplicationController", "default", name).get("status", {})


def test_keeps_the_replicas_from_the_template_and_reports_them(store, controller, kubelet):
    rc = store.create(rc_manifest(replicas=3))
    wait_until(lambda: rc_status(store).get("readyReplicas") == 3, "3 ready replicas")
    made = pods(store, app="web")
    assert len(made) == 3
    for p in made:
        assert p["metadata"]["name"].startswith("web-") and len(p["metadata"]["name"]) == 9
        assert p["metadata"]["annotations"] == {"note": "from the template"}
        (ref,) = p["metadata"]["ownerReferences"]
        assert ref == {
            "apiVersion": "v1",
            "kind": "ReplicationController",
            "name": "web",
            "uid": rc["metadata"]["uid"],
            "controller": True,
            "blockOwnerDeletion": True,
        }
    assert rc_status(store) == {
        "replicas": 3,
        "fullyLabeledReplicas": 3,
        "readyReplicas": 3,
        "availableReplicas": 3,
        "observedGeneration": 1,
    }
    events, _ = store.list("Event", "default")
    created = [e for e in events if e["reason"] == "SuccessfulCreate"]
    assert len(created) == 3
    assert created[0]["involvedObject"]["kind"] == "ReplicationController"


def test_a_pod_that_goes_is_replaced(store, controller, kubelet):
    store.create(rc_manifest(replicas=2))
    first = wait_until(lambda: len(pods(store, app="web")) == 2 and pods(store, app="web"), "2")
    victim = first[0]["metadata"]["name"]
    store.request_delete("Pod", "default", victim)
    wait_until(
        lambda: (
            len(pods(store, app="web")) == 2
            and victim not in {p["metadata"]["name"] for p in pods(store, app="web")}
        ),
        "a replacement",
    )


def test_scaling_down_then_up(store, controller, kubelet):
    rc = store.create(rc_manifest(replicas=3))
    wait_until(lambda: rc_status(store).get("readyReplicas") == 3, "3 ready")
    rc["spec"]["replicas"] = 1
    store.update(rc)
    wait_until(lambda: len(pods(store, app="web")) == 1, "1 pod left")
    wait_until(lambda: rc_status(store).get("replicas") == 1, "status replicas 1")
    assert rc_status(store)["observedGeneration"] == 2
    events, _ = store.list("Event", "default")
    assert len([e for e in events if e["reason"] == "SuccessfulDelete"]) == 2
    rc = store.get("ReplicationController", "default", "web")
    rc["spec"]["replicas"] = 4
    store.update(rc)
    wait_until(lambda: rc_status(store).get("readyReplicas") == 4, "4 ready")


def test_scaling_down_removes_the_pending_pods_first(store, controller):
    store.create(rc_manifest(replicas=3))  # no kubelet: all three stay Pending
    made = wait_until(lambda: len(pods(store, app="web")) == 3 and pods(store, app="web"), "3")
    running = made[1]
    name = running["metadata"]["name"]
    store.update_status("Pod", "default", name, running_status(running))
    rc = store.get("ReplicationController", "default", "web")
    rc["spec"]["replicas"] = 1
    store.update(rc)
    wait_until(
        lambda: (
            [
                p["metadata"]["name"]
                for p in pods(store)
                if not p["metadata"].get("deletionTimestamp")
            ]
            == [name]
        ),
        "only the running pod kept",
    )


def test_an_orphan_matching_the_selector_is_adopted(store, controller, kubelet):
    orphan = pod_manifest("stray")
    orphan["metadata"]["labels"] = {"app": "web"}
    store.create(orphan)
    rc = store.create(rc_manifest(replicas=2))
    wait_until(lambda: rc_status(store).get("readyReplicas") == 2, "2 ready")
    assert len(pods(store, app="web")) == 2
    stray = store.get("Pod", "default", "stray")
    assert stray["metadata"]["ownerReferences"][0]["uid"] == rc["metadata"]["uid"]


def test_deleting_the_rc_deletes_its_pods_and_no_other(store, controller, kubelet):
    other = pod_manifest("other")
    other["metadata"]["labels"] = {"app": "other"}
    store.create(other)
    store.create(rc_manifest(replicas=2))
    wait_until(lambda: len(pods(store, app="web")) == 2, "2 pods")
    store.request_delete("ReplicationController", "default", "web")
    wait_until(lambda: not pods(store, app="web"), "its pods gone")
    assert [p["metadata"]["name"] for p in pods(store)] == ["other"]


def test_pods_of_an_rc_deleted_while_no_controller_ran_are_deleted(store, kubelet):
    rcm = ReplicationManager(store)
    rcm.start()
    store.create(rc_manifest(replicas=2))
    wait_until(lambda: len(pods(store, app="web")) == 2, "2 pods")
    rcm.close()  # the agent is down...
    store.request_delete("ReplicationController", "default", "web")  # ...as the RC goes
    assert len(pods(store, app="web")) == 2
    again = ReplicationManager(store)
    again.start()
    try:
        wait_until(lambda: not pods(store, app="web"), "the orphaned pods deleted")
    finally:
        again.close()


def test_pods_the_node_keeps_failing_are_replaced_with_backoff(store, controller):
    kubelet = Kubelet(store, fail=True)
    try:
        store.create(rc_manifest(replicas=1))
        time.sleep(3.5)
        made = len(pods(store, app="web"))
        # at once, then after 1, 2 (and 4) s: not a hot loop
        assert 2 <= made <= 4, made
        assert rc_status(store).get("replicas") == 0
    finally:
        kubelet.close()

"""The object store: Kubernetes' create/get/list/status/delete semantics, events, watches
(resume, 410), persistence across a restart."""

import json
import os
import threading

import pytest

from minikube_py.apiserver.errors import APIError
from minikube_py.apiserver.store import ObjectStore
from tests.unit.fake_agent import pod_manifest, running_status


@pytest.fixture
def store(tmp_path):
    return ObjectStore(str(tmp_path / "root"), node_name="node1")


def rc_manifest(name="front"):
    return {
        "apiVersion": "v1",
        "kind": "ReplicationController",
        "metadata": {"name": name},
        "spec": {
            "replicas": 2,
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": "busybox"}]},
            },
        },
    }


def test_create_sets_identity_defaults_and_pending_status(store):
    pod = store.create(pod_manifest("web"))
    meta = pod["metadata"]
    assert meta["namespace"] == "default"
    assert len(meta["uid"]) == 36
    assert meta["creationTimestamp"].endswith("Z")
    assert meta["resourceVersion"] == str(int(meta["resourceVersion"]))
    assert pod["spec"]["restartPolicy"] == "Always"
    assert pod["spec"]["terminationGracePeriodSeconds"] == 30
    assert pod["spec"]["nodeName"] == "node1"
    assert pod["status"] == {"phase": "Pending", "qosClass": "BestEffort"}
    assert store.get("Pod", "default", "web") == pod


def test_create_ignores_client_supplied_uid_and_timestamps(store):
    manifest = pod_manifest("web")
    manifest["metadata"].update(uid="mine", creationTimestamp="2000-01-01T00:00:00Z")
    pod = store.create(manifest)
    assert pod["metadata"]["uid"] != "mine"
    assert pod["metadata"]["creationTimestamp"] != "2000-01-01T00:00:00Z"


def test_create_twice_is_already_exists(store):
    store.create(pod_manifest("web"))
    with pytest.raises(APIError) as err:
        store.create(pod_manifest("web"))
    assert err.value.status() == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'pods "web" already exists',
        "reason": "AlreadyExists",
        "details": {"name": "web", "kind": "pods"},
        "code": 409,
    }


def test_invalid_pod_is_422_with_field_causes_and_nothing_stored(store):
    bad = pod_manifest("web")
    del bad["spec"]["containers"][0]["image"]
    with pytest.raises(APIError) as err:
        store.create(bad)
    status = err.value.status()
    assert status["code"] == 422 and status["reason"] == "Invalid"
    assert status["message"] == 'Pod "web" is invalid: spec.containers[0].image: Required value'
    assert status["details"]["causes"] == [
        {
            "reason": "FieldValueRequired",
            "message": "Required value",
            "field": "spec.containers[0].image",
        }
    ]
    assert store.list("Pod")[0] == []


def test_get_missing_is_not_found(store):
    with pytest.raises(APIError) as err:
        store.get("Pod", "default", "nope")
    assert err.value.code == 404
    assert err.value.message == 'pods "nope" not found'


def test_list_filters_by_namespace_labels_and_fields(store):
    store.create(pod_manifest("a"))
    other = pod_manifest("b")
    other["metadata"]["namespace"] = "team"
    store.create(other)
    names = lambda items: [p["metadata"]["name"] for p in items]  # noqa: E731
    assert names(store.list("Pod", None)[0]) == ["a", "b"]
    assert names(store.list("Pod", "team")[0]) == ["b"]
    assert names(store.list("Pod", None, label_selector="app=a")[0]) == ["a"]
    assert names(store.list("Pod", None, field_selector="metadata.name=b")[0]) == ["b"]
    items, rv = store.list("Pod", None)
    assert int(rv) >= max(int(p["metadata"]["resourceVersion"]) for p in items)


def test_returned_objects_are_copies(store):
    pod = store.create(pod_manifest("web"))
    pod["metadata"]["labels"]["app"] = "changed"
    store.get("Pod", "default", "web")["spec"]["containers"].clear()
    again = store.get("Pod", "default", "web")
    assert again["metadata"]["labels"]["app"] == "web"
    assert again["spec"]["containers"]


def test_update_status_bumps_version_only_on_change(store):
    pod = store.create(pod_manifest("web"))
    status = running_status(pod)
    first = store.update_status("Pod", "default", "web", status)
    assert first["status"] == status
    assert int(first["metadata"]["resourceVersion"]) > int(pod["metadata"]["resourceVersion"])
    same = store.update_status("Pod", "default", "web", dict(status))
    assert same["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]


def test_update_changes_labels_but_a_pod_spec_is_immutable(store):
    store.create(pod_manifest("web"))
    relabelled = pod_manifest("web")
    relabelled["metadata"]["labels"] = {"app": "web", "tier": "front"}
    updated = store.update(relabelled)
    assert updated["metadata"]["labels"] == {"app": "web", "tier": "front"}
    unchanged = store.update(relabelled)
    assert unchanged["metadata"]["resourceVersion"] == updated["metadata"]["resourceVersion"]

    changed = pod_manifest("web")
    changed["spec"]["containers"][0]["command"] = ["sleep", "1"]
    with pytest.raises(APIError) as err:
        store.update(changed)
    assert err.value.code == 422
    assert err.value.message.startswith(
        'Pod "web" is invalid: spec: Forbidden: pod updates may not change fields other than '
        "`spec.containers[*].image`"
    )
    assert "(changed: spec.containers[0].command)" in err.value.message


def test_graceful_delete_marks_the_pod_until_the_kubelet_removes_it(store):
    store.create(pod_manifest("web", terminationGracePeriodSeconds=10))
    marked = store.request_delete("Pod", "default", "web")
    assert marked["metadata"]["deletionGracePeriodSeconds"] == 10
    assert marked["metadata"]["deletionTimestamp"].endswith("Z")
    assert store.get("Pod", "default", "web")["metadata"]["deletionTimestamp"]
    # asking again with a shorter grace shortens it; a longer one changes nothing
    assert (
        store.request_delete("Pod", "default", "web", 3)["metadata"]["deletionGracePeriodSeconds"]
        == 3
    )
    assert (
        store.request_delete("Pod", "default", "web", 20)["metadata"]["deletionGracePeriodSeconds"]
        == 3
    )
    removed = store.remove("Pod", "default", "web")
    assert removed["metadata"]["name"] == "web"
    with pytest.raises(APIError):
        store.get("Pod", "default", "web")


def test_delete_with_grace_zero_unscheduled_or_finished_removes_at_once(tmp_path, store):
    store.create(pod_manifest("force"))
    store.request_delete("Pod", "default", "force", 0)
    done = store.create(pod_manifest("done"))
    store.update_status("Pod", "default", "done", {**running_status(done), "phase": "Succeeded"})
    store.request_delete("Pod", "default", "done")
    assert store.list("Pod")[0] == []
    unscheduled = ObjectStore(str(tmp_path / "other"))  # no node: nothing will ever run it
    unscheduled.create(pod_manifest("web"))
    unscheduled.request_delete("Pod", "default", "web")
    assert unscheduled.list("Pod")[0] == []


def test_rc_delete_is_immediate(store):
    rc = store.create(rc_manifest())
    assert rc["spec"]["selector"] == {"app": "front"}
    store.request_delete("ReplicationController", "default", "front")
    assert store.list("ReplicationController")[0] == []


def test_remove_with_stale_uid_is_not_found(store):
    store.create(pod_manifest("web"))
    with pytest.raises(APIError):
        store.remove("Pod", "default", "web", uid="someone-else")


def test_events_are_counted_by_object_reason_and_message(store):
    pod = store.create(pod_manifest("web"))
    event = {
        "type": "Warning",
        "reason": "BackOff",
        "message": "Back-off restarting failed container",
        "involvedObject": {
            "kind": "Pod",
            "name": "web",
            "namespace": "default",
            "uid": pod["metadata"]["uid"],
        },
        "source": {"component": "kubelet"},
    }
    first = store.record_event(event)
    second = store.record_event(event)
    assert first["metadata"]["name"] == second["metadata"]["name"]
    assert second["count"] == 2
    assert second["lastTimestamp"] >= first["firstTimestamp"]
    store.record_event({**event, "reason": "Killing", "message": "Stopping container app"})
    items, _ = store.list("Event", "default", field_selector="involvedObject.name=web")
    assert sorted(e["reason"] for e in items) == ["BackOff", "Killing"]


def test_events_are_bounded(tmp_path):
    store = ObjectStore(str(tmp_path), max_events=5)
    for i in range(8):
        store.record_event({"reason": "R", "message": str(i), "involvedObject": {"uid": "u"}})
    items, _ = store.list("Event")
    assert sorted(e["message"] for e in items) == ["3", "4", "5", "6", "7"]


# ------------------------------------------------------------------------------ watch


def take(watch, n):
    out = []
    for _ in range(n):
        item = watch.get(timeout=2)
        assert item is not None, f"only {out} arrived"
        out.append((item[0], item[1]["metadata"]["name"]))
    return out


def test_watch_without_version_starts_with_current_objects(store):
    store.create(pod_manifest("a"))
    with store.watch("Pod") as w:
        store.create(pod_manifest("b"))
        store.update_status("Pod", "default", "b", {"phase": "Running"})
        store.request_delete("Pod", "default", "b", 0)
        assert take(w, 4) == [("ADDED", "a"), ("ADDED", "b"), ("MODIFIED", "b"), ("DELETED", "b")]
        assert w.get(timeout=0.05) is None


def test_watch_resumes_after_a_resource_version(store):
    a = store.create(pod_manifest("a"))
    store.create(pod_manifest("b"))
    store.update_status("Pod", "default", "a", {"phase": "Running"})
    with store.watch("Pod", None, resource_version=a["metadata"]["resourceVersion"]) as w:
        assert take(w, 2) == [("ADDED", "b"), ("MODIFIED", "a")]


def test_watch_from_a_version_older_than_the_history_is_gone(tmp_path):
    store = ObjectStore(str(tmp_path), history_size=3)
    first = store.create(pod_manifest("a"))
    for i in range(5):
        store.update_status("Pod", "default", "a", {"phase": "Pending", "message": str(i)})
    with pytest.raises(APIError) as err:
        store.watch("Pod", None, resource_version=first["metadata"]["resourceVersion"])
    assert err.value.code == 410
    assert err.value.message.startswith("too old resource version: ")


def test_watch_selectors_turn_leaving_into_deleted(store):
    store.create(pod_manifest("web"))
    with store.watch("Pod", "default", field_selector="status.phase=Running") as w:
        store.update_status("Pod", "default", "web", {"phase": "Running"})
        store.update_status("Pod", "default", "web", {"phase": "Succeeded"})
        assert take(w, 2) == [("ADDED", "web"), ("DELETED", "web")]


def test_watch_filters_namespace_and_labels(store):
    with store.watch("Pod", "team", label_selector="app=b") as w:
        store.create(pod_manifest("a"))
        other = pod_manifest("b")
        other["metadata"]["namespace"] = "team"
        store.create(other)
        assert take(w, 1) == [("ADDED", "b")]
        assert w.get(timeout=0.05) is None


def test_closing_a_watch_ends_its_iteration(store):
    w = store.watch("Pod")
    seen = []
    t = threading.Thread(target=lambda: seen.extend(w))
    t.start()
    store.create(pod_manifest("a"))
    w.close()
    t.join(2)
    assert not t.is_alive()
    assert [typ for typ, _ in seen] in (["ADDED"], [])


def test_watchers_see_changes_from_many_threads_in_version_order(store):
    with store.watch("Pod") as w:
        threads = [
            threading.Thread(target=store.create, args=(pod_manifest(f"p{i}"),)) for i in range(20)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        versions = []
        for _ in range(20):
            _, obj = w.get(timeout=2)
            versions.append(int(obj["metadata"]["resourceVersion"]))
        assert versions == sorted(versions)


# ------------------------------------------------------------------------------ persistence


def test_objects_survive_a_restart_with_uids_and_versions(tmp_path):
    root = str(tmp_path / "root")
    store = ObjectStore(root, node_name="node1")
    pod = store.create(pod_manifest("web"))
    pod = store.update_status("Pod", "default", "web", running_status(pod))
    store.request_delete("Pod", "default", "web", 30)
    rc = store.create(rc_manifest())
    gone = store.create(pod_manifest("gone"))
    store.request_delete("Pod", "default", "gone", 0)
    last_rv = int(store.resource_version)

    path = os.path.join(root, "pods", pod["metadata"]["uid"], "pod.json")
    assert os.stat(path).st_mode & 0o777 == 0o600
    with open(path) as f:
        assert json.load(f)["status"]["podIP"] == "10.244.0.5"
    assert os.path.exists(os.path.join(root, "controllers", rc["metadata"]["uid"] + ".json"))
    assert not os.path.exists(os.path.join(root, "pods", gone["metadata"]["uid"]))

    again = ObjectStore(root, node_name="node1")
    reloaded = again.get("Pod", "default", "web")
    assert reloaded["metadata"]["uid"] == pod["metadata"]["uid"]
    assert reloaded["metadata"]["creationTimestamp"] == pod["metadata"]["creationTimestamp"]
    assert reloaded["metadata"]["deletionTimestamp"]
    assert reloaded["status"] == pod["status"]
    assert (
        again.get("ReplicationController", "default", "front")["metadata"]["uid"]
        == (rc["metadata"]["uid"])
    )
    assert [p["metadata"]["name"] for p in again.list("Pod")[0]] == ["web"]
    # resourceVersions never go backwards, even past versions no file holds any more
    assert int(again.resource_version) >= last_rv
    newer = again.update_status("Pod", "default", "web", {"phase": "Failed"})
    assert int(newer["metadata"]["resourceVersion"]) > last_rv


def test_a_watch_from_before_a_restart_is_gone(tmp_path):
    store = ObjectStore(str(tmp_path))
    pod = store.create(pod_manifest("web"))
    store.update_status("Pod", "default", "web", {"phase": "Running"})
    again = ObjectStore(str(tmp_path))
    with pytest.raises(APIError) as err:
        again.watch("Pod", None, resource_version=pod["metadata"]["resourceVersion"])
    assert err.value.code == 410
    with again.watch("Pod", None, resource_version=again.resource_version) as w:
        assert w.get(timeout=0.05) is None


def test_an_unreadable_stored_object_is_skipped(tmp_path):
    root = tmp_path / "root"
    store = ObjectStore(str(root))
    store.create(pod_manifest("web"))
    (root / "pods" / "broken").mkdir()
    (root / "pods" / "broken" / "pod.json").write_text("{not json")
    assert [p["metadata"]["name"] for p in ObjectStore(str(root)).list("Pod")[0]] == ["web"]


def test_a_remote_watcher_too_far_behind_is_expired_but_in_process_ones_never(store):
    slow = store.watch("Pod", max_pending=3)
    patient = store.watch("Pod")
    for i in range(5):
        store.create(pod_manifest(f"p{i}"))
    with pytest.raises(APIError) as err:
        while slow.get(timeout=0.1) is not None:
            pass
    assert err.value.code == 410
    assert len(take(patient, 5)) == 5
    patient.close()


def test_a_burst_of_events_does_not_expire_pod_watches(tmp_path):
    store = ObjectStore(str(tmp_path), history_size=5)
    pod = store.create(pod_manifest("web"))
    for i in range(20):
        store.record_event({"reason": "R", "message": str(i), "involvedObject": {"uid": "u"}})
    with store.watch("Pod", None, resource_version=pod["metadata"]["resourceVersion"]) as w:
        store.update_status("Pod", "default", "web", {"phase": "Running"})
        assert take(w, 1) == [("MODIFIED", "web")]
    with pytest.raises(APIError) as err:
        store.watch("Event", None, resource_version=pod["metadata"]["resourceVersion"])
    assert err.value.code == 410


def test_status_updates_reach_the_disk_coalesced_and_flush_waits_for_them(tmp_path):
    root = str(tmp_path / "root")
    store = ObjectStore(root, node_name="node1")
    pod = store.create(pod_manifest("web"))
    path = os.path.join(root, "pods", pod["metadata"]["uid"], "pod.json")
    for restarts in range(20):
        status = running_status(pod)
        status["containerStatuses"][0]["restartCount"] = restarts
        pod = store.update_status("Pod", "default", "web", status)
    assert store.flush(10)
    with open(path) as f:
        on_disk = json.load(f)
    assert on_disk["status"]["containerStatuses"][0]["restartCount"] == 19
    assert on_disk["metadata"]["resourceVersion"] == pod["metadata"]["resourceVersion"]
    again = ObjectStore(root, node_name="node1")
    assert again.get("Pod", "default", "web")["status"] == pod["status"]


def test_a_pending_status_write_does_not_bring_a_removed_pod_back(tmp_path):
    root = str(tmp_path / "root")
    store = ObjectStore(root, node_name="node1")
    pod = store.create(pod_manifest("web"))
    store.update_status("Pod", "default", "web", running_status(pod))
    store.remove("Pod", "default", "web")
    assert store.flush(10)
    assert not os.path.exists(os.path.join(root, "pods", pod["metadata"]["uid"]))
    assert ObjectStore(root, node_name="node1").list("Pod")[0] == []

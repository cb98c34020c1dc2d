"""Static pods: the manifests dir is the desired state; rescans change nothing by themselves."""

from __future__ import annotations

from minikube_py.apiserver.store import ObjectStore
from minikube_py.kubelet.static import HASH, StaticPods

POD = """\
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  containers: [{name: c, image: busybox:1.36}]
"""


def make(tmp_path):
    manifests = tmp_path / "manifests"
    manifests.mkdir()
    store = ObjectStore(str(tmp_path / "state"), node_name="node1")
    return manifests, store, StaticPods(str(manifests), store, "node1")


def pods(store):
    return store.list("Pod", None)[0]


def test_a_file_becomes_a_pod_named_after_the_node(tmp_path):
    manifests, store, static = make(tmp_path)
    (manifests / "web.yaml").write_text(POD)
    (manifests / ".hidden.yaml").write_text(POD.replace("web", "hidden"))
    static.sync()
    [pod] = pods(store)
    assert pod["metadata"]["name"] == "web-node1"
    assert pod["spec"]["nodeName"] == "node1"
    assert pod["metadata"]["annotations"]["kubernetes.io/config.source"] == "file"


def test_rescanning_an_unchanged_dir_keeps_the_same_pod(tmp_path):
    manifests, store, static = make(tmp_path)
    (manifests / "web.yaml").write_text(POD)
    static.sync()
    [first] = pods(store)
    for _ in range(3):
        assert static.sync() is False
    [again] = pods(store)
    assert again["metadata"]["uid"] == first["metadata"]["uid"]
    assert not again["metadata"].get("deletionTimestamp")
    assert again["metadata"]["annotations"][HASH] == first["metadata"]["annotations"][HASH]


def test_a_changed_file_replaces_its_pod_and_a_removed_file_deletes_it(tmp_path):
    manifests, store, static = make(tmp_path)
    (manifests / "web.yaml").write_text(POD)
    static.sync()
    (manifests / "web.yaml").write_text(POD.replace("busybox:1.36", "busybox:1.37"))
    assert static.sync() is True  # the old one is being deleted first
    [old] = pods(store)
    assert old["metadata"]["deletionTimestamp"]
    store.remove("Pod", "default", "web-node1")  # what the kubelet does once it is stopped
    static.sync()
    [new] = pods(store)
    assert new["spec"]["containers"][0]["image"] == "busybox:1.37"
    (manifests / "web.yaml").unlink()
    static.sync()
    assert pods(store)[0]["metadata"]["deletionTimestamp"]


def test_an_invalid_file_is_skipped_with_one_message(tmp_path, capsys):
    manifests, store, static = make(tmp_path)
    (manifests / "bad.yaml").write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: x}\n")
    static.sync()
    static.sync()
    assert pods(store) == []
    err = capsys.readouterr().err
    assert err.count("static pods: skipping") == 1 and "bad.yaml" in err

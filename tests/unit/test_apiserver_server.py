"""The HTTP API over a real Unix socket: Kubernetes paths, shapes, Status errors, watch
streams, logs, the kubelet's own endpoints, the socket's permissions."""

import json
import os
import socket
import stat
import threading
import time

import pytest

from minikube_py.apiserver.client import Client
from minikube_py.apiserver.errors import APIError
from tests.unit.fake_agent import pod_manifest, running_agent, running_status

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def agent(tmp_path):
    with running_agent(tmp_path) as a:
        yield a


def raw(agent, method, path, body=b"", headers=None):
    """One request over a plain socket; (status, headers, body) with chunked bodies joined."""
    sock = socket.socket(socket.AF_UNIX)
    sock.connect(agent.server.socket_path)
    sock.settimeout(5)
    head = f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n"
    for k, v in (headers or {}).items():
        head += f"{k}: {v}\r\n"
    sock.sendall(head.encode() + b"\r\n" + body)
    from minikube_py.apiserver.client import _Response

    resp = _Response(sock.makefile("rb"))
    data = resp.read()
    sock.close()
    return resp.status, resp.headers, data


def test_socket_is_root_only(agent):
    mode = os.stat(agent.server.socket_path).st_mode
    assert stat.S_ISSOCK(mode)
    assert stat.S_IMODE(mode) == 0o600
    assert stat.S_IMODE(os.stat(agent.run_dir).st_mode) == 0o700
    assert [n for n in os.listdir(agent.run_dir) if n != "api.sock"] == []


def test_a_second_server_on_a_live_socket_is_refused(agent):
    from minikube_py.apiserver.server import serve
    from minikube_py.errors import MinikubeError

    with pytest.raises(MinikubeError, match="already serving"):
        serve(agent.store, agent.hooks, agent.server.socket_path)


def test_a_stale_socket_is_replaced(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(run / "api.sock"))
    stale.close()  # the file stays, nobody listens
    with running_agent(tmp_path) as agent:
        assert agent.client.get_text("/healthz") == b"ok"


def test_create_get_list_delete_in_kubernetes_shapes(agent):
    status, headers, body = raw(
        agent, "POST", "/api/v1/namespaces/default/pods", json.dumps(pod_manifest("web")).encode()
    )
    assert status == 201
    assert headers["content-type"] == "application/json"
    created = json.loads(body)
    assert created["kind"] == "Pod" and created["metadata"]["uid"]

    got = agent.client.get("pods", "default", "web")
    assert got == created
    listed = agent.client.list("pods", "default")
    assert listed["kind"] == "PodList" and listed["apiVersion"] == "v1"
    assert listed["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    assert [p["metadata"]["name"] for p in listed["items"]] == ["web"]
    assert agent.client.list("pods", None)["items"] == listed["items"]
    assert agent.client.list("pods", "other")["items"] == []

    deleted = agent.client.delete("pods", "default", "web", grace_period_seconds=5)
    assert deleted["metadata"]["deletionGracePeriodSeconds"] == 5
    assert deleted["metadata"]["deletionTimestamp"]


def test_the_kubelet_learns_when_a_pods_create_request_arrived(agent):
    before = time.monotonic()
    created = agent.client.create("pods", "default", pod_manifest("web"))
    after = time.monotonic()
    # the start of the pod start latency histogram: the request's arrival, not the watch's
    assert before <= agent.hooks.requested[created["metadata"]["uid"]] <= after
    agent.client.create("replicationcontrollers", "default", {
        "metadata": {"name": "rc"},
        "spec": {"template": {"metadata": {"labels": {"a": "b"}},
                              "spec": {"containers": [{"name": "c", "image": "i"}]}}},
    })  # fmt: skip
    assert len(agent.hooks.requested) == 1


def test_create_accepts_yaml_bodies(agent):
    body = (
        b"apiVersion: v1\nkind: Pod\nmetadata:\n  name: y\nspec:\n  containers:\n"
        b"  - name: c\n    image: busybox\n"
    )
    status, _, data = raw(
        agent,
        "POST",
        "/api/v1/namespaces/default/pods",
        body,
        {"Content-Type": "application/yaml"},
    )
    assert status == 201, data
    assert json.loads(data)["metadata"]["name"] == "y"


def test_delete_takes_grace_from_query_or_delete_options(agent):
    agent.store.create(pod_manifest("a"))
    agent.store.create(pod_manifest("b"))
    status, _, body = raw(agent, "DELETE", "/api/v1/namespaces/default/pods/a?gracePeriodSeconds=7")
    assert status == 200 and json.loads(body)["metadata"]["deletionGracePeriodSeconds"] == 7
    options = json.dumps({"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": 0})
    status, _, body = raw(agent, "DELETE", "/api/v1/namespaces/default/pods/b", options.encode())
    assert status == 200
    assert [p["metadata"]["name"] for p in agent.store.list("Pod")[0]] == ["a"]


def test_selectors_in_query(agent):
    agent.store.create(pod_manifest("a"))
    agent.store.create(pod_manifest("b"))
    names = lambda lst: [p["metadata"]["name"] for p in lst["items"]]  # noqa: E731
    assert names(agent.client.list("pods", "default", label_selector="app in (b)")) == ["b"]
    assert names(agent.client.list("pods", None, field_selector="metadata.name=a")) == ["a"]


@pytest.mark.parametrize(
    ("method", "path", "body", "code", "reason"),
    [
        ("GET", "/api/v1/namespaces/default/pods/nope", b"", 404, "NotFound"),
        ("GET", "/api/v1/namespaces/default/widgets", b"", 404, "NotFound"),
        ("GET", "/api/v1/namespaces/default/pods?labelSelector=a%20in", b"", 400, "BadRequest"),
        ("GET", "/api/v1/pods?fieldSelector=spec.image%3Dx", b"", 400, "BadRequest"),
        ("POST", "/api/v1/namespaces/default/pods", b"{not json: [", 400, "BadRequest"),
        ("POST", "/api/v1/namespaces/default/pods", b"[1, 2]", 400, "BadRequest"),
        ("PATCH", "/api/v1/namespaces/default/pods/x", b"{}", 405, "MethodNotAllowed"),
        ("POST", "/api/v1/pods", b"{}", 405, "MethodNotAllowed"),
    ],
)
def test_errors_are_status_objects(agent, method, path, body, code, reason):
    status, _, data = raw(agent, method, path, body)
    assert status == code
    doc = json.loads(data)
    assert doc["kind"] == "Status" and doc["apiVersion"] == "v1" and doc["status"] == "Failure"
    assert doc["code"] == code and doc["reason"] == reason and doc["message"]


def test_invalid_and_conflicting_creates(agent):
    bad = pod_manifest("Bad_Name")
    with pytest.raises(APIError) as err:
        agent.client.create("pods", "default", bad)
    assert err.value.code == 422
    assert err.value.details["causes"][0]["field"] == "metadata.name"
    agent.client.create("pods", "default", pod_manifest("web"))
    with pytest.raises(APIError) as err:
        agent.client.create("pods", "default", pod_manifest("web"))
    assert (err.value.code, err.value.reason) == (409, "AlreadyExists")
    elsewhere = pod_manifest("x")
    elsewhere["metadata"]["namespace"] = "other"
    with pytest.raises(APIError) as err:
        agent.client.create("pods", "default", elsewhere)
    assert err.value.code == 400
    assert "does not match the namespace" in err.value.message


def test_update_and_status_subresource(agent):
    pod = agent.client.create("pods", "default", pod_manifest("web"))
    pod["metadata"]["labels"]["tier"] = "front"
    updated = agent.client.update("pods", "default", "web", pod)
    assert updated["metadata"]["labels"]["tier"] == "front"
    status_doc = dict(updated, status=running_status(pod))
    after = agent.client.request(
        "PUT", "/api/v1/namespaces/default/pods/web/status", body=status_doc
    )
    assert after["status"]["podIP"] == "10.244.0.5"


def test_replication_controllers_and_events(agent):
    rc = {
        "apiVersion": "v1",
        "kind": "ReplicationController",
        "metadata": {"name": "front"},
        "spec": {
            "template": {
                "metadata": {"labels": {"app": "f"}},
                "spec": {"containers": [{"name": "c", "image": "busybox"}]},
            }
        },
    }
    created = agent.client.create("replicationcontrollers", "default", rc)
    assert created["spec"]["replicas"] == 1
    lst = agent.client.list("replicationcontrollers", None)
    assert lst["kind"] == "ReplicationControllerList" and len(lst["items"]) == 1
    agent.store.record_event(
        {
            "reason": "Started",
            "message": "Started container c",
            "involvedObject": {"kind": "Pod", "name": "p", "namespace": "default", "uid": "u"},
        }
    )
    events = agent.client.list("events", "default", field_selector="involvedObject.name=p")
    assert events["kind"] == "EventList"
    assert [e["reason"] for e in events["items"]] == ["Started"]
    agent.client.delete("replicationcontrollers", "default", "front")
    assert agent.client.list("replicationcontrollers", None)["items"] == []


def test_discovery_version_and_namespaces(agent):
    assert agent.client.request("GET", "/api")["versions"] == ["v1"]
    resources = agent.client.request("GET", "/api/v1")
    assert resources["kind"] == "APIResourceList" and resources["groupVersion"] == "v1"
    names = {r["name"] for r in resources["resources"]}
    assert {"pods", "pods/log", "replicationcontrollers", "events"} <= names
    version = agent.client.request("GET", "/version")
    assert version["major"] == "1" and version["gitVersion"].startswith("v1.")
    nss = agent.client.request("GET", "/api/v1/namespaces")
    assert nss["kind"] == "NamespaceList"
    assert "default" in [n["metadata"]["name"] for n in nss["items"]]
    assert agent.client.request("GET", "/api/v1/namespaces/default")["status"]["phase"] == "Active"


def test_kubelet_endpoints(agent):
    assert agent.client.get_text("/healthz") == b"ok"
    agent.hooks.healthy_flag = False
    status, _, _ = raw(agent, "GET", "/healthz")
    assert status == 500
    status, headers, body = raw(agent, "GET", "/metrics")
    assert status == 200 and headers["content-type"].startswith("text/plain; version=0.0.4")
    assert body == agent.hooks.metrics_text
    agent.store.create(pod_manifest("web"))
    pods = agent.client.request("GET", "/pods")
    assert pods["kind"] == "PodList" and [p["metadata"]["name"] for p in pods["items"]] == ["web"]


# ------------------------------------------------------------------------------ watch


def test_watch_streams_chunked_events_and_resumes(agent):
    first = agent.client.create("pods", "default", pod_manifest("a"))
    rv = first["metadata"]["resourceVersion"]
    events = []

    def consume():
        for type_, obj in Client(agent.server.socket_path).watch(
            "pods", "default", resource_version=rv
        ):
            events.append((type_, obj["metadata"]["name"]))
            if type_ == "DELETED":
                return

    t = threading.Thread(target=consume)
    t.start()
    agent.store.create(pod_manifest("b"))
    agent.store.update_status("Pod", "default", "a", {"phase": "Running"})
    agent.store.request_delete("Pod", "default", "b", 0)
    t.join(5)
    assert not t.is_alive()
    assert events == [("ADDED", "b"), ("MODIFIED", "a"), ("DELETED", "b")]


def test_watch_stream_format_is_newline_delimited_json(agent):
    agent.store.create(pod_manifest("a"))
    sock = socket.socket(socket.AF_UNIX)
    sock.connect(agent.server.socket_path)
    sock.settimeout(5)
    sock.sendall(b"GET /api/v1/pods?watch=true&timeoutSeconds=1 HTTP/1.1\r\nHost: x\r\n\r\n")
    data = b""
    while not data.endswith(b"0\r\n\r\n"):
        chunk = sock.recv(65536)
        assert chunk, data
        data += chunk
    sock.close()
    head, _, body = data.partition(b"\r\n\r\n")
    assert b"Transfer-Encoding: chunked" in head
    size, _, rest = body.partition(b"\r\n")
    line = rest[: int(size, 16)]
    assert line.endswith(b"\n")
    event = json.loads(line)
    assert event["type"] == "ADDED" and event["object"]["metadata"]["name"] == "a"


def test_watch_from_a_too_old_version_sends_an_error_event(tmp_path):
    with running_agent(tmp_path, history_size=2) as agent:
        first = agent.store.create(pod_manifest("a"))
        for phase in ("Running", "Succeeded", "Failed"):
            agent.store.update_status("Pod", "default", "a", {"phase": phase})
        with pytest.raises(APIError) as err:
            list(
                agent.client.watch(
                    "pods", None, resource_version=first["metadata"]["resourceVersion"]
                )
            )
    assert err.value.code == 410
    assert err.value.reason == "Expired"


def test_watch_with_field_selector_sees_only_that_pod(agent):
    rv = agent.client.list("pods", "default")["metadata"]["resourceVersion"]
    seen = []

    def consume():
        for type_, obj in Client(agent.server.socket_path).watch(
            "pods",
            "default",
            resource_version=rv,
            field_selector="metadata.name=b",
            timeout_seconds=3,
        ):
            seen.append((type_, obj["metadata"]["name"]))
            return

    t = threading.Thread(target=consume)
    t.start()
    agent.store.create(pod_manifest("a"))
    agent.store.create(pod_manifest("b"))
    t.join(5)
    assert seen == [("ADDED", "b")]


def test_shutdown_ends_watches_and_removes_the_socket(tmp_path):
    with running_agent(tmp_path) as agent:
        ended = threading.Event()

        def consume():
            for _ in Client(agent.server.socket_path).watch("pods", None):
                pass
            ended.set()

        t = threading.Thread(target=consume, daemon=True)
        t.start()
        time.sleep(0.2)
        path = agent.server.socket_path
    assert ended.wait(5)
    assert not os.path.exists(path)


# ------------------------------------------------------------------------------ logs


def running_pod(agent, name="web", *containers):
    pod = agent.store.create(pod_manifest(name, *containers))
    return agent.store.update_status("Pod", "default", name, running_status(pod))


def test_log_tail_and_timestamps(agent):
    running_pod(agent)
    agent.hooks.write_log("web", "app", ["one", "two", "three"])
    assert b"".join(agent.client.log("default", "web")) == b"one\ntwo\nthree\n"
    assert b"".join(agent.client.log("default", "web", tail_lines=1)) == b"three\n"
    stamped = b"".join(agent.client.log("default", "web", tail_lines=1, timestamps=True))
    assert stamped == b"1970-01-01T00:00:02.000000000Z three\n"


def test_log_follow_streams_new_lines_until_the_container_ends(agent):
    running_pod(agent)
    agent.hooks.write_log("web", "app", ["first"])
    chunks = []
    done = threading.Event()

    def follow():
        for chunk in Client(agent.server.socket_path).log("default", "web", follow=True):
            chunks.append(chunk)
        done.set()

    t = threading.Thread(target=follow)
    t.start()
    deadline = time.monotonic() + 5
    while b"".join(chunks) != b"first\n" and time.monotonic() < deadline:
        time.sleep(0.01)
    agent.hooks.write_log("web", "app", ["second"])
    while b"".join(chunks) != b"first\nsecond\n" and time.monotonic() < deadline:
        time.sleep(0.01)
    assert b"".join(chunks) == b"first\nsecond\n"
    assert not done.is_set()
    agent.hooks.finished["web/app"].set()
    assert done.wait(5)


def test_log_of_a_pod_with_several_containers_needs_a_container(agent):
    running_pod(agent, "two", "a", "b")
    with pytest.raises(APIError) as err:
        b"".join(agent.client.log("default", "two"))
    assert err.value.code == 400
    assert (
        err.value.message == "a container name must be specified for pod two, choose one of: [a b]"
    )
    with pytest.raises(APIError) as err:
        b"".join(agent.client.log("default", "two", container="zz"))
    assert err.value.message == "container zz is not valid for pod two"
    agent.hooks.write_log("two", "b", ["from b"])
    assert b"".join(agent.client.log("default", "two", container="b")) == b"from b\n"


def test_log_previous_and_waiting_containers(agent):
    agent.store.create(pod_manifest("new"))
    with pytest.raises(APIError) as err:
        b"".join(agent.client.log("default", "new"))
    assert (
        err.value.message == 'container "app" in pod "new" is waiting to start: ContainerCreating'
    )
    running_pod(agent)
    with pytest.raises(APIError) as err:
        b"".join(agent.client.log("default", "web", previous=True))
    assert err.value.message == 'previous terminated container "app" in pod "web" not found'
    pod = agent.store.get("Pod", "default", "web")
    status = pod["status"]
    status["containerStatuses"][0]["lastState"] = {
        "terminated": {"exitCode": 1, "reason": "Error", "finishedAt": "2024-01-01T00:00:00Z"}
    }
    agent.store.update_status("Pod", "default", "web", status)
    agent.hooks.write_log("web", "app", ["crashed"], previous=True)
    assert b"".join(agent.client.log("default", "web", previous=True)) == b"crashed\n"


def test_an_oversized_body_is_refused(agent):
    sock = socket.socket(socket.AF_UNIX)
    sock.connect(agent.server.socket_path)
    sock.settimeout(5)
    sock.sendall(
        b"POST /api/v1/namespaces/default/pods HTTP/1.1\r\nHost: x\r\n"
        b"Content-Length: 104857600\r\n\r\n{"
    )
    from minikube_py.apiserver.client import _Response

    resp = _Response(sock.makefile("rb"))
    doc = json.loads(resp.read())
    sock.close()
    assert resp.status == 413 and doc["reason"] == "RequestEntityTooLarge"

"""The kubectl verbs end to end: the CLI against a real API server (ObjectStore, fake kubelet
hooks) over its Unix socket.  Output, messages and exit codes as kubectl's."""

import contextlib
import io
import json
import os
import subprocess
import sys
import threading
import time

import pytest
import yaml

from minikube_py.cli import main
from tests.unit.fake_agent import pod_manifest, running_agent, running_status

pytestmark = pytest.mark.timeout(60)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def agent(tmp_path):
    with running_agent(tmp_path / "agent") as a:
        yield a


@pytest.fixture
def kubelet(agent):
    """A stand-in kubelet: finishes graceful deletions (removes pods marked for deletion)."""
    stop = threading.Event()
    watch = agent.store.watch("Pod")

    def loop():
        while not stop.is_set():
            try:
                item = watch.get(timeout=0.1)
            except StopIteration:
                return
            if item and item[0] == "MODIFIED" and item[1]["metadata"].get("deletionTimestamp"):
                meta = item[1]["metadata"]
                time.sleep(0.05)
                with contextlib.suppress(Exception):
                    agent.store.remove("Pod", meta["namespace"], meta["name"], uid=meta["uid"])

    t = threading.Thread(target=loop, daemon=True)
    t.start()
    yield
    stop.set()
    watch.close()
    t.join(2)


def kubectl(capsys, agent, *args, stdin=None, monkeypatch=None):
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    with pytest.raises(SystemExit) as exited:
        main(["--run-dir", agent.run_dir, *args])
    out, err = capsys.readouterr()
    return exited.value.code, out, err


def write(path, obj):
    path.write_text(yaml.safe_dump(obj))
    return str(path)


# ------------------------------------------------------------------------------ apply


@pytest.fixture(params=["quick", "click"])
def cli_path(request, monkeypatch):
    """apply runs through the quick path (no click) and through click: the same results."""
    if request.param == "click":
        from minikube_py.cli import quick

        monkeypatch.setattr(quick, "run", lambda args: None)
    return request.param


def test_apply_creates_then_is_unchanged_then_configured(cli_path, capsys, agent, tmp_path):
    f = write(tmp_path / "pod.yaml", pod_manifest("web"))
    assert kubectl(capsys, agent, "apply", "-f", f) == (0, "pod/web created\n", "")
    assert agent.store.get("Pod", "default", "web")["status"]["phase"] == "Pending"
    assert kubectl(capsys, agent, "apply", "-f", f) == (0, "pod/web unchanged\n", "")
    relabelled = pod_manifest("web")
    relabelled["metadata"]["labels"]["tier"] = "front"
    f = write(tmp_path / "pod.yaml", relabelled)
    assert kubectl(capsys, agent, "apply", "-f", f) == (0, "pod/web configured\n", "")


def test_reapplying_is_unchanged_while_the_kubelet_updates_the_status(
    cli_path, capsys, agent, tmp_path
):
    f = write(tmp_path / "pod.yaml", pod_manifest("web"))
    assert kubectl(capsys, agent, "apply", "-f", f)[0] == 0
    pod = agent.store.get("Pod", "default", "web")
    stop = threading.Event()

    def kubelet():  # status updates between apply's GET and its PUT
        n = 0
        while not stop.is_set():
            n += 1
            agent.store.update_status("Pod", "default", "web", running_status(pod, restarts=n))

    t = threading.Thread(target=kubelet, daemon=True)
    t.start()
    try:
        for _ in range(5):
            assert kubectl(capsys, agent, "apply", "-f", f) == (0, "pod/web unchanged\n", "")
    finally:
        stop.set()
        t.join(5)


def test_apply_changed_pod_spec_is_kubernetes_immutable_error(cli_path, capsys, agent, tmp_path):
    kubectl(capsys, agent, "apply", "-f", write(tmp_path / "pod.yaml", pod_manifest("web")))
    changed = pod_manifest("web")
    changed["spec"]["containers"][0]["command"] = ["sleep", "10"]
    code, out, err = kubectl(capsys, agent, "apply", "-f", write(tmp_path / "pod.yaml", changed))
    assert code == 1 and out == ""
    assert err.startswith(
        'The Pod "web" is invalid: spec: Forbidden: pod updates may not change fields other '
        "than `spec.containers[*].image`"
    )
    assert "spec.containers[0].command" in err


def test_apply_directory_and_stdin(cli_path, capsys, agent, tmp_path, monkeypatch):
    d = tmp_path / "manifests"
    d.mkdir()
    write(d / "a.yaml", pod_manifest("a"))
    rc = {
        "apiVersion": "v1",
        "kind": "ReplicationController",
        "metadata": {"name": "front"},
        "spec": {
            "replicas": 2,
            "template": {
                "metadata": {"labels": {"app": "f"}},
                "spec": {"containers": [{"name": "c", "image": "busybox"}]},
            },
        },
    }
    (d / "b.json").write_text(json.dumps(rc))
    (d / ".hidden.yaml").write_text("not: [a manifest")
    (d / "notes.txt").write_text("ignored")
    code, out, err = kubectl(capsys, agent, "apply", "-f", str(d))
    assert (code, err) == (0, "")
    assert out == "pod/a created\nreplicationcontroller/front created\n"
    code, out, _ = kubectl(
        capsys,
        agent,
        "apply",
        "-f",
        "-",
        stdin=yaml.safe_dump(pod_manifest("s")),
        monkeypatch=monkeypatch,
    )
    assert (code, out) == (0, "pod/s created\n")


def test_apply_invalid_document_is_reported_the_valid_ones_are_created(
    cli_path, capsys, agent, tmp_path
):
    # as kubectl: the server validates each object; the valid ones are created, exit 1
    good = pod_manifest("good")
    bad = pod_manifest("bad")
    bad["spec"]["containers"][0]["image"] = ""
    f = tmp_path / "both.yaml"
    f.write_text(yaml.safe_dump(bad) + "---\n" + yaml.safe_dump(good))
    code, out, err = kubectl(capsys, agent, "apply", "-f", str(f))
    assert (code, out) == (1, "pod/good created\n")
    assert err == 'The Pod "bad" is invalid: spec.containers[0].image: Required value\n'
    assert [p["metadata"]["name"] for p in agent.store.list("Pod")[0]] == ["good"]


def test_apply_list_with_an_invalid_item(cli_path, capsys, agent, tmp_path):
    bad = pod_manifest("bad")
    bad["spec"]["containers"][0]["name"] = "Bad_Name"
    other = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}}
    items = [pod_manifest("a"), bad, other, pod_manifest("b")]
    f = tmp_path / "list.json"
    f.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
    code, out, err = kubectl(capsys, agent, "apply", "-f", str(f))
    assert (code, out) == (1, "pod/a created\npod/b created\n")
    lines = err.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith('The Pod "bad" is invalid: spec.containers[0].name: Invalid value')
    assert lines[1] == (
        f'error: {f} (items[2]): no matches for kind "Deployment" in version "apps/v1" '
        "(minikube-py knows v1 Pod, v1 ReplicationController, and v1 List)"
    )
    assert sorted(p["metadata"]["name"] for p in agent.store.list("Pod")[0]) == ["a", "b"]


def test_apply_unparsable_file_sends_nothing(cli_path, capsys, agent, tmp_path):
    good = write(tmp_path / "good.yaml", pod_manifest("good"))
    broken = tmp_path / "broken.yaml"
    broken.write_text("apiVersion: v1\nkind: Pod\nmetadata: [a\n")
    dup = tmp_path / "dup.json"
    dup.write_text('{"apiVersion": "v1", "kind": "Pod", "kind": "Pod"}')
    code, out, err = kubectl(
        capsys, agent, "apply", "-f", good, "-f", str(broken), "-f", str(dup), "-f", "nope.yaml"
    )
    assert (code, out) == (1, "")
    assert err.startswith(f"error: {broken}: error parsing YAML at line ")
    assert f'{dup}: error parsing JSON: duplicate field "kind"' in err
    assert 'nope.yaml: the path "nope.yaml" does not exist' in err
    assert agent.store.list("Pod")[0] == []


def test_apply_json_imports_no_yaml_click_typed_model_json_re_or_typing(agent, tmp_path):
    # what Python's start-up has not loaded already, the quick apply of a JSON file must not
    # load either: each of these costs milliseconds on every apply
    f = tmp_path / "pod.json"
    f.write_text(json.dumps(pod_manifest("lean")))
    code = (
        "import sys\n"
        "before = set(sys.modules)\n"
        "from minikube_py.cli import main\n"
        "try:\n"
        f"    main(['--run-dir', {agent.run_dir!r}, 'apply', '-f', {str(f)!r}])\n"
        "except SystemExit as e:\n"
        "    assert not e.code, e.code\n"
        "print('LOADED', ' '.join(sorted(set(sys.modules) - before)))\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=30
    )
    assert r.returncode == 0, r.stderr
    out = r.stdout.splitlines()
    assert out[0] == "pod/lean created"
    loaded = out[1].split()[1:]
    heavy = ("yaml", "click", "minikube_py.api", "http", "requests", "oci", "runtime", "json",
             "re", "typing", "socket", "enum", "urllib", "dataclasses")  # fmt: skip
    assert [m for m in loaded if any(m == h or m.startswith(h + ".") for h in heavy)] == []


def test_apply_into_a_namespace(cli_path, capsys, agent, tmp_path):
    f = write(tmp_path / "pod.yaml", pod_manifest("web"))
    assert kubectl(capsys, agent, "apply", "-f", f, "-n", "team")[0] == 0
    assert agent.store.get("Pod", "team", "web")["metadata"]["namespace"] == "team"


# ------------------------------------------------------------------------------ get


def make_running(agent, name, *containers, namespace="default"):
    manifest = pod_manifest(name, *containers)
    manifest["metadata"]["namespace"] = namespace
    pod = agent.store.create(manifest)
    return agent.store.update_status("Pod", namespace, name, running_status(pod))


def test_get_pods_table(capsys, agent):
    make_running(agent, "web")
    agent.store.create(pod_manifest("pending-one"))
    code, out, err = kubectl(capsys, agent, "get", "pods")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert lines[0].startswith("NAME          READY   STATUS    RESTARTS   AGE")
    assert lines[1].split()[:4] == ["pending-one", "0/1", "Pending", "0"]
    assert lines[2].split()[:4] == ["web", "1/1", "Running", "0"]
    assert lines[2].split()[4].endswith("s")


def test_get_wide_all_namespaces_and_selector(capsys, agent):
    make_running(agent, "web")
    make_running(agent, "db", namespace="team")
    code, out, _ = kubectl(capsys, agent, "get", "po", "-A", "-o", "wide")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:6] == ["NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert "IP" in lines[0] and "NODE" in lines[0]
    assert [line.split()[0:2] for line in lines[1:]] == [["default", "web"], ["team", "db"]]
    assert "10.244.0.5" in lines[1] and "node1" in lines[1]
    code, out, _ = kubectl(capsys, agent, "get", "pods", "-A", "-l", "app=db", "-o", "name")
    assert (code, out) == (0, "pod/db\n")


def test_get_output_json_and_yaml_are_the_objects(capsys, agent):
    pod = make_running(agent, "web")
    make_running(agent, "web2")
    code, out, _ = kubectl(capsys, agent, "get", "pod", "web", "-o", "json")
    assert code == 0 and json.loads(out) == pod
    code, out, _ = kubectl(capsys, agent, "get", "pod", "web", "-o", "yaml")
    assert yaml.safe_load(out) == pod
    assert 'resourceVersion: "' in out  # quoted like kubectl's
    code, out, _ = kubectl(capsys, agent, "get", "pods", "-o", "yaml")
    doc = yaml.safe_load(out)
    assert doc["kind"] == "List" and doc["apiVersion"] == "v1"
    assert [i["metadata"]["name"] for i in doc["items"]] == ["web", "web2"]


def test_get_missing_pod_is_kubectl_not_found(capsys, agent):
    make_running(agent, "web")
    code, out, err = kubectl(capsys, agent, "get", "pods", "web", "nope")
    assert code == 1
    assert out.splitlines()[1].startswith("web ")
    assert err == 'Error from server (NotFound): pods "nope" not found\n'


def test_get_nothing_says_no_resources(capsys, agent):
    assert kubectl(capsys, agent, "get", "pods") == (
        0,
        "",
        "No resources found in default namespace.\n",
    )
    assert kubectl(capsys, agent, "get", "pods", "-A") == (0, "", "No resources found.\n")


def test_get_all_prefixes_kinds(capsys, agent, tmp_path):
    make_running(agent, "web")
    rc = {
        "apiVersion": "v1",
        "kind": "ReplicationController",
        "metadata": {"name": "front"},
        "spec": {
            "replicas": 3,
            "template": {
                "metadata": {"labels": {"app": "f"}},
                "spec": {"containers": [{"name": "c", "image": "busybox"}]},
            },
        },
    }
    agent.store.create(rc)
    code, out, _ = kubectl(capsys, agent, "get", "all")
    blocks = out.split("\n\n")
    assert code == 0 and len(blocks) == 2
    assert blocks[0].splitlines()[1].startswith("pod/web ")
    assert blocks[1].splitlines()[0].split() == ["NAME", "DESIRED", "CURRENT", "READY", "AGE"]
    assert blocks[1].splitlines()[1].split()[:2] == ["replicationcontroller/front", "3"]


def test_get_unknown_resource_type(capsys, agent):
    code, _, err = kubectl(capsys, agent, "get", "widgets")
    assert (code, err) == (1, 'error: the server doesn\'t have a resource type "widgets"\n')


def cli_process(agent, *args):
    env = {**os.environ, "PYTHONPATH": REPO}
    return subprocess.Popen(
        [sys.executable, "-m", "minikube_py", "--run-dir", agent.run_dir, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO,
    )


def read_line(stream, timeout=10):
    box = []
    t = threading.Thread(target=lambda: box.append(stream.readline()), daemon=True)
    t.start()
    t.join(timeout)
    assert box, "no line in time"
    return box[0]


def test_get_watch_streams_changes(agent):
    agent.store.create(pod_manifest("web"))
    proc = cli_process(agent, "get", "pods", "-w")
    try:
        assert read_line(proc.stdout).split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
        assert read_line(proc.stdout).split()[:3] == ["web", "0/1", "Pending"]
        pod = agent.store.get("Pod", "default", "web")
        agent.store.update_status("Pod", "default", "web", running_status(pod))
        assert read_line(proc.stdout).split()[:3] == ["web", "1/1", "Running"]
        agent.store.request_delete("Pod", "default", "web", 30)
        assert read_line(proc.stdout).split()[:3] == ["web", "1/1", "Terminating"]
    finally:
        proc.kill()
        proc.wait()


# ------------------------------------------------------------------------------ describe


def test_describe_pod_with_events(capsys, agent):
    pod = make_running(agent, "web")
    agent.store.record_event(
        {
            "type": "Normal",
            "reason": "Started",
            "message": "Started container app",
            "involvedObject": {
                "kind": "Pod",
                "name": "web",
                "namespace": "default",
                "uid": pod["metadata"]["uid"],
            },
            "source": {"component": "kubelet", "host": "node1"},
        }
    )
    agent.store.record_event(
        {
            "type": "Normal",
            "reason": "Started",
            "message": "an older pod of the same name",
            "involvedObject": {"kind": "Pod", "name": "web", "namespace": "default", "uid": "old"},
        }
    )
    code, out, err = kubectl(capsys, agent, "describe", "pod", "web")
    assert (code, err) == (0, "")
    assert out.startswith("Name:             web\nNamespace:        default\n")
    assert "IP:               10.244.0.5\n" in out
    assert "    State:          Running\n" in out
    events = out.split("Events:\n")[1].splitlines()
    assert events[0].split() == ["Type", "Reason", "Age", "From", "Message"]
    assert len(events) == 3
    assert events[2].split()[:2] == ["Normal", "Started"]
    assert events[2].endswith("kubelet  Started container app")


def test_describe_shows_probes_as_kubectl_does(capsys, agent):
    manifest = pod_manifest("probed")
    c = manifest["spec"]["containers"][0]
    c["ports"] = [{"name": "http", "containerPort": 8080}]
    c["livenessProbe"] = {"exec": {"command": ["cat", "/tmp/ok"]}, "initialDelaySeconds": 5}
    c["readinessProbe"] = {"httpGet": {"port": "http", "path": "/ready"}, "periodSeconds": 2}
    c["startupProbe"] = {"tcpSocket": {"port": 8080}, "failureThreshold": 30}
    agent.store.create(manifest)
    out = kubectl(capsys, agent, "describe", "pod", "probed")[1]
    assert (
        "    Liveness:       exec [cat /tmp/ok] delay=5s timeout=1s period=10s #success=1 "
        "#failure=3\n" in out
    )
    assert "    Readiness:      http-get http://:http/ready delay=0s timeout=1s period=2s" in out
    assert "    Startup:        tcp-socket :8080 delay=0s timeout=1s period=10s #success=1 " in out


def test_describe_missing_pod(capsys, agent):
    code, _, err = kubectl(capsys, agent, "describe", "pod", "nope")
    assert (code, err) == (1, 'Error from server (NotFound): pods "nope" not found\n')


# ------------------------------------------------------------------------------ logs


def test_logs_tail_timestamps_and_container(capsys, agent):
    make_running(agent, "web")
    agent.hooks.write_log("web", "app", ["one", "two", "three"])
    assert kubectl(capsys, agent, "logs", "web") == (0, "one\ntwo\nthree\n", "")
    assert kubectl(capsys, agent, "logs", "pod/web", "--tail", "2") == (0, "two\nthree\n", "")
    _code, out, _ = kubectl(capsys, agent, "logs", "web", "--tail=1", "--timestamps")
    assert out == "1970-01-01T00:00:02.000000000Z three\n"
    make_running(agent, "two", "a", "b")
    agent.hooks.write_log("two", "a", ["from a"])
    agent.hooks.write_log("two", "b", ["from b"])
    assert kubectl(capsys, agent, "logs", "two") == (
        0,
        "from a\n",
        'Defaulted container "a" out of: a, b\n',
    )
    assert kubectl(capsys, agent, "logs", "two", "-c", "b") == (0, "from b\n", "")


def test_logs_errors_are_kubectls(capsys, agent):
    agent.store.create(pod_manifest("new"))
    assert kubectl(capsys, agent, "logs", "new") == (
        1,
        "",
        'Error from server (BadRequest): container "app" in pod "new" is waiting to start: '
        "ContainerCreating\n",
    )
    make_running(agent, "web")
    code, _, err = kubectl(capsys, agent, "logs", "web", "--previous")
    assert code == 1
    assert err == (
        'Error from server (BadRequest): previous terminated container "app" in pod "web" '
        "not found\n"
    )


def test_logs_follow_streams_until_the_container_ends(agent):
    make_running(agent, "web")
    agent.hooks.write_log("web", "app", ["first"])
    proc = cli_process(agent, "logs", "-f", "web")
    try:
        assert read_line(proc.stdout) == "first\n"
        agent.hooks.write_log("web", "app", ["second"])
        assert read_line(proc.stdout) == "second\n"
        agent.hooks.finished["web/app"].set()
        assert proc.wait(10) == 0
    finally:
        proc.kill()
        proc.wait()


# ------------------------------------------------------------------------------ delete


def test_delete_waits_until_the_kubelet_removed_the_pod(capsys, agent, kubelet):
    make_running(agent, "web")
    code, out, err = kubectl(capsys, agent, "delete", "pod", "web")
    assert (code, out, err) == (0, 'pod "web" deleted\n', "")
    assert agent.store.list("Pod")[0] == []


def test_delete_without_wait_leaves_the_pod_terminating(capsys, agent):
    make_running(agent, "web")
    code, out, _ = kubectl(
        capsys, agent, "delete", "pod", "web", "--wait=false", "--grace-period", "12"
    )
    assert (code, out) == (0, 'pod "web" deleted\n')
    pod = agent.store.get("Pod", "default", "web")
    assert pod["metadata"]["deletionGracePeriodSeconds"] == 12
    code, out, _ = kubectl(capsys, agent, "get", "pods")
    assert out.splitlines()[1].split()[2] == "Terminating"


def test_delete_force_removes_at_once(capsys, agent):
    make_running(agent, "web")
    code, out, err = kubectl(capsys, agent, "delete", "pod", "web", "--force")
    assert (code, out) == (0, 'pod "web" force deleted\n')
    assert err.startswith("Warning: Immediate deletion does not wait for confirmation")
    assert agent.store.list("Pod")[0] == []


def test_delete_grace_zero_without_force_means_one_second(capsys, agent):
    make_running(agent, "web")
    kubectl(capsys, agent, "delete", "pod", "web", "--grace-period=0", "--wait=false")
    assert agent.store.get("Pod", "default", "web")["metadata"]["deletionGracePeriodSeconds"] == 1


def test_delete_missing_and_all_and_file(capsys, agent, kubelet, tmp_path):
    code, _, err = kubectl(capsys, agent, "delete", "pod", "nope")
    assert (code, err) == (1, 'Error from server (NotFound): pods "nope" not found\n')
    make_running(agent, "a")
    make_running(agent, "b")
    code, out, _ = kubectl(capsys, agent, "delete", "pods", "--all")
    assert (code, out) == (0, 'pod "a" deleted\npod "b" deleted\n')
    assert agent.store.list("Pod")[0] == []
    f = write(tmp_path / "pod.yaml", pod_manifest("c"))
    kubectl(capsys, agent, "apply", "-f", f)
    code, out, _ = kubectl(capsys, agent, "delete", "-f", f)
    # never scheduled to a running kubelet's worker? it is: node1 is set, so graceful
    assert (code, out) == (0, 'pod "c" deleted\n')
    assert agent.store.list("Pod")[0] == []


def test_delete_rc(capsys, agent):
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
    agent.store.create(rc)
    code, out, _ = kubectl(capsys, agent, "delete", "rc", "front")
    assert (code, out) == (0, 'replicationcontroller "front" deleted\n')


# ------------------------------------------------------------------------------ no agent


def test_no_agent_gives_a_clear_message(capsys, tmp_path):
    run_dir = str(tmp_path / "nothing")
    with pytest.raises(SystemExit) as exited:
        main(["--run-dir", run_dir, "get", "pods"])
    _, err = capsys.readouterr()
    assert exited.value.code == 1
    assert err == (
        f"error: cannot reach the agent at {run_dir}/api.sock: is `minikube-py agent` running?\n"
    )


def test_describe_rc_counts_its_pods(capsys, agent):
    rc = {
        "apiVersion": "v1",
        "kind": "ReplicationController",
        "metadata": {"name": "front"},
        "spec": {
            "replicas": 2,
            "template": {
                "metadata": {"labels": {"app": "front"}},
                "spec": {"containers": [{"name": "c", "image": "busybox"}]},
            },
        },
    }
    agent.store.create(rc)
    agent.store.update_status("ReplicationController", "default", "front", {"replicas": 1})
    make_running(agent, "front-abcde")  # pod_manifest labels it app=front-abcde
    pod = pod_manifest("front-x")
    pod["metadata"]["labels"] = {"app": "front"}
    agent.store.create(pod)
    code, out, err = kubectl(capsys, agent, "describe", "rc", "front")
    assert (code, err) == (0, "")
    assert out.startswith("Name:         front\nNamespace:    default\nSelector:     app=front\n")
    assert "Replicas:     1 current / 2 desired\n" in out
    assert "Pods Status:  0 Running / 1 Waiting / 0 Succeeded / 0 Failed\n" in out
    assert "    Image:        busybox\n" in out
    assert out.endswith("Events:           <none>\n")


def test_get_show_labels(capsys, agent):
    make_running(agent, "web")
    code, out, _ = kubectl(capsys, agent, "get", "pods", "--show-labels")
    lines = out.splitlines()
    assert code == 0
    assert lines[0].split()[-1] == "LABELS" and lines[1].split()[-1] == "app=web"


def test_get_type_slash_name_form(capsys, agent):
    make_running(agent, "a")
    make_running(agent, "b")
    code, out, _ = kubectl(capsys, agent, "get", "pod/a", "pod/b")
    lines = out.splitlines()
    assert code == 0 and len(lines) == 3
    assert [line.split()[0] for line in lines[1:]] == ["pod/a", "pod/b"]


def test_apply_warns_about_unknown_fields_as_kubectl(capsys, agent, tmp_path):
    pod = pod_manifest("typo")
    pod["spec"]["containers"][0]["imagePullPolcy"] = "Always"
    f = tmp_path / "typo.json"
    f.write_text(json.dumps(pod))
    code, out, err = kubectl(capsys, agent, "apply", "-f", str(f))
    assert (code, out) == (0, "pod/typo created\n")
    assert err == 'Warning: unknown field "spec.containers[0].imagePullPolcy"\n'

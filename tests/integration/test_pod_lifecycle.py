"""The pod lifecycle Kubernetes defines: phases, restart policy, backoff, reasons, events."""

from __future__ import annotations

import copy
import dataclasses
import itertools
import re
import subprocess
import textwrap
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from minikube_py.api.manifest import load_string
from minikube_py.kubelet.config import NodeConfig
from minikube_py.kubelet.images import ImageManager
from minikube_py.kubelet.runtime_service import ExitRouter, LocalRuntimeService
from minikube_py.kubelet.sandbox import remove_pod_dir
from minikube_py.kubelet.worker import PodWorker

BACKOFF = 0.2


class Harness:
    def __init__(self, node: NodeConfig):
        from oci.image import ImageService

        self.node = node
        self.service = ImageService(node.root)
        self.images = ImageManager(self.service)
        self.runtime = LocalRuntimeService(node.run_dir)
        self.router = ExitRouter(self.runtime)
        # as the agent and `run -f` have it: network wiring and creates overlap
        self.helpers = ThreadPoolExecutor(max_workers=4)
        self.workers: list[PodWorker] = []
        self.history: dict[str, list[tuple[float, dict]]] = {}
        self._cond = threading.Condition()

    def start(self, manifest: str) -> PodWorker:
        pod = load_string(textwrap.dedent(manifest)).pods[0]
        self.history[pod.name] = []
        worker = PodWorker(
            pod,
            self.node,
            self.images,
            self.runtime,
            self.router,
            self._record,
            executor=self.helpers,
        )
        self.workers.append(worker)
        worker.start()
        return worker

    def _record(self, worker: PodWorker) -> None:
        with self._cond:
            self.history[worker.pod.name].append(
                (time.monotonic(), copy.deepcopy(worker.status.to_dict()))
            )
            self._cond.notify_all()

    def wait_for(self, worker: PodWorker, predicate, timeout: float = 60) -> dict:
        """Wait until predicate(status dict) holds; the status that satisfied it."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                status = worker.status.to_dict()
                if predicate(status):
                    return status
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out; last status: {status}")
                self._cond.wait(left)

    def close(self) -> None:
        for w in self.workers:
            w.stop(0)
        for w in self.workers:
            assert w.join(60), f"pod {w.pod.name} did not stop"
            remove_pod_dir(self.node, w.pod.metadata.uid)
        self.helpers.shutdown()
        self.service.close()


@pytest.fixture
def harness(pod_node):
    from minikube_py.network import ensure_bridge

    node = NodeConfig(
        root=pod_node.root,
        run_dir=pod_node.run_dir,
        log_dir=pod_node.log_dir,
        cgroup_parent=pod_node.cgroup_parent,
        bridge=pod_node.bridge,
        pod_cidr=pod_node.cidr,
        backoff_initial=BACKOFF,
        backoff_max=8 * BACKOFF,
    )
    ensure_bridge(node.bridge, node.pod_cidr)
    h = Harness(node)
    yield h
    h.close()


def container(status: dict, index: int = 0) -> dict:
    return status["containerStatuses"][index]


# exits 1 the first time, 0 the second, then runs forever (state kept in an emptyDir)
FLAKY = """\
    apiVersion: v1
    kind: Pod
    metadata: {{name: flaky}}
    spec:
      restartPolicy: {policy}
      terminationGracePeriodSeconds: 1
      volumes: [{{name: state, emptyDir: {{}}}}]
      containers:
      - name: c
        image: {image}
        volumeMounts: [{{name: state, mountPath: /state}}]
        command: ["sh", "-c"]
        args:
        - |
          n=$(($(cat /state/n 2>/dev/null || echo 0) + 1)); echo $n > /state/n
          case $n in 1) exit 1;; 2) exit 0;; esac
          trap 'exit 0' TERM; while :; do sleep 0.1; done
    """


def test_restart_policy_always_keeps_restarting_and_stays_running(harness, images):
    w = harness.start(FLAKY.format(policy="Always", image=images.busybox.ref))
    status = harness.wait_for(
        w, lambda s: container(s)["restartCount"] == 2 and "running" in container(s)["state"]
    )
    assert status["phase"] == "Running"
    last = container(status)["lastState"]["terminated"]
    assert (last["exitCode"], last["reason"]) == (0, "Completed")
    time.sleep(4 * BACKOFF)
    assert (
        w.status.to_dict()["phase"] == "Running"
        and container(w.status.to_dict())["restartCount"] == 2
    )


def test_restart_policy_on_failure_restarts_once_then_succeeds(harness, images):
    w = harness.start(FLAKY.format(policy="OnFailure", image=images.busybox.ref))
    assert w.join(60)
    status = w.status.to_dict()
    assert status["phase"] == "Succeeded"
    assert container(status)["restartCount"] == 1
    assert container(status)["state"]["terminated"]["reason"] == "Completed"
    assert container(status)["lastState"]["terminated"]["exitCode"] == 1


def test_restart_policy_never_fails_without_restart(harness, images):
    w = harness.start(FLAKY.format(policy="Never", image=images.busybox.ref))
    assert w.join(60)
    status = w.status.to_dict()
    assert status["phase"] == "Failed"
    assert container(status)["restartCount"] == 0
    term = container(status)["state"]["terminated"]
    assert (term["exitCode"], term["reason"]) == (1, "Error")


def test_crash_loop_backoff_doubles_up_to_the_cap(harness, images):
    w = harness.start(f"""\
        apiVersion: v1
        kind: Pod
        metadata: {{name: crasher}}
        spec:
          containers:
          - name: c
            image: {images.busybox.ref}
            command: ["sh", "-c", "exit 3"]
        """)
    harness.wait_for(w, lambda s: container(s)["restartCount"] >= 6, timeout=60)
    starts = [t for t, s in harness.history["crasher"] if "running" in container(s)["state"]]
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    # 0.2, 0.4, 0.8, 1.6 (cap), 1.6 ...: each gap at least its backoff, never beyond the cap
    for gap, expected in zip(gaps, [0.2, 0.4, 0.8, 1.6, 1.6], strict=False):
        assert expected <= gap < expected + 1.0, gaps
    waiting = [container(s)["state"].get("waiting", {}) for _, s in harness.history["crasher"]]
    assert any(ws.get("reason") == "CrashLoopBackOff" for ws in waiting)
    reasons = {e.reason for e in w.events.list()}
    assert "BackOff" in reasons


def test_memory_hog_is_oom_killed(harness, images):
    w = harness.start(f"""\
        apiVersion: v1
        kind: Pod
        metadata: {{name: hog}}
        spec:
          restartPolicy: Never
          containers:
          - name: hog
            image: {images.busybox.ref}
            command: ["dd", "if=/dev/zero", "of=/dev/null", "bs=128M", "count=1"]
            resources: {{limits: {{memory: 16Mi}}}}
        """)
    assert w.join(60)
    term = container(w.status.to_dict())["state"]["terminated"]
    assert (term["reason"], term["exitCode"]) == ("OOMKilled", 137)
    assert w.status.phase == "Failed"


def test_missing_image_goes_err_image_pull_then_backs_off(harness, images, registry):
    w = harness.start(f"""\
        apiVersion: v1
        kind: Pod
        metadata: {{name: noimage}}
        spec:
          containers:
          - name: c
            image: {registry.host}/fixtures/does-not-exist:1.0
        """)
    harness.wait_for(
        w,
        lambda s: (
            sum(
                1
                for _, h in harness.history["noimage"]
                if container(h)["state"].get("waiting", {}).get("reason") == "ErrImagePull"
            )
            >= 4
        ),
        timeout=60,
    )
    history = harness.history["noimage"]
    pulls = [
        t
        for t, s in history
        if container(s)["state"].get("waiting", {}).get("reason") == "ErrImagePull"
    ]
    gaps = [b - a for a, b in itertools.pairwise(pulls)]
    assert gaps[1] > gaps[0] * 1.5 and gaps[2] > gaps[1] * 1.5, gaps  # growing intervals
    reasons = [container(s)["state"].get("waiting", {}).get("reason") for _, s in history]
    assert "ImagePullBackOff" in reasons
    message = next(
        container(s)["state"]["waiting"]["message"]
        for _, s in history
        if container(s)["state"].get("waiting", {}).get("reason") == "ErrImagePull"
    )
    assert "image not found" in message
    assert w.status.phase == "Pending"


def test_missing_command_is_a_start_error_with_the_runtime_message(harness, images):
    w = harness.start(f"""\
        apiVersion: v1
        kind: Pod
        metadata: {{name: nocmd}}
        spec:
          restartPolicy: Never
          containers:
          - name: c
            image: {images.busybox.ref}
            command: ["/bin/nope"]
        """)
    assert w.join(60)
    term = container(w.status.to_dict())["state"]["terminated"]
    assert (term["reason"], term["exitCode"]) == ("StartError", 128)
    assert 'exec "/bin/nope": no such file or directory' in term["message"]
    assert w.status.phase == "Failed"


def test_missing_command_under_always_waits_in_run_container_error(harness, images):
    w = harness.start(f"""\
        apiVersion: v1
        kind: Pod
        metadata: {{name: nocmd2}}
        spec:
          containers:
          - name: c
            image: {images.busybox.ref}
            command: ["/bin/nope"]
        """)
    status = harness.wait_for(w, lambda s: container(s)["restartCount"] >= 1)
    c = container(status)
    assert c["lastState"]["terminated"]["reason"] == "StartError"
    assert c["state"]["waiting"]["reason"] in ("RunContainerError", "CrashLoopBackOff")


def test_container_ignoring_sigterm_is_killed_after_the_grace_period(harness, images):
    w = harness.start(f"""\
        apiVersion: v1
        kind: Pod
        metadata: {{name: stubborn}}
        spec:
          terminationGracePeriodSeconds: 2
          containers:
          - name: c
            image: {images.busybox.ref}
            command: ["sh", "-c", "trap '' TERM; while :; do sleep 0.1; done"]
        """)
    harness.wait_for(w, lambda s: "running" in container(s)["state"])
    started = time.monotonic()
    w.stop()
    assert w.join(30)
    took = time.monotonic() - started
    assert 2.0 <= took < 5.0, took
    term = container(w.status.to_dict())["state"]["terminated"]
    assert term["exitCode"] == 137
    assert "Killing" in {e.reason for e in w.events.list()}


def test_delete_grace_override_and_stop_signal_from_the_image(harness, images, pod_node):
    w = harness.start(f"""\
        apiVersion: v1
        kind: Pod
        metadata: {{name: usr1}}
        spec:
          containers:
          - name: c
            image: {images.config.ref}
            command: ["sh", "-c", "trap 'echo got-usr1; exit 0' USR1; while :; do sleep 0.1; done"]
        """)
    harness.wait_for(w, lambda s: "running" in container(s)["state"])
    time.sleep(0.3)  # let the shell install its trap
    w.stop(grace_seconds=10)
    assert w.join(30)
    term = container(w.status.to_dict())["state"]["terminated"]
    assert (term["exitCode"], term["reason"]) == (0, "Completed")
    assert "got-usr1" in pod_node.logs("usr1", "c")


def test_status_has_the_kubernetes_v1_shape(harness, images):
    w = harness.start(f"""\
        apiVersion: v1
        kind: Pod
        metadata: {{name: shape}}
        spec:
          containers:
          - name: c
            image: {images.busybox.ref}
            command: ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 0.1; done"]
            resources:
              limits: {{cpu: 100m, memory: 64Mi}}
        """)
    status = harness.wait_for(w, lambda s: s["phase"] == "Running")
    conditions = {c["type"]: c["status"] for c in status["conditions"]}
    assert conditions == {
        "PodScheduled": "True",
        "Initialized": "True",
        "ContainersReady": "True",
        "Ready": "True",
    }
    assert all(c["lastTransitionTime"].endswith("Z") for c in status["conditions"])
    assert status["qosClass"] == "Guaranteed"
    assert status["podIPs"] == [{"ip": status["podIP"]}]
    assert re.fullmatch(r"\d+\.\d+\.\d+\.\d+", status["hostIP"])
    assert status["startTime"].endswith("Z")
    c = container(status)
    assert c["containerID"].startswith("minikube-py://")
    assert re.fullmatch(r"127\.0\.0\.1:\d+/fixtures/busybox@sha256:[0-9a-f]{64}", c["imageID"])
    assert (c["ready"], c["started"], c["restartCount"]) == (True, True, 0)
    assert "startedAt" in c["state"]["running"]
    assert [e.reason for e in w.events.list()][:4] == ["Pulling", "Pulled", "Created", "Started"]
    obj = w.pod_object()
    assert obj["kind"] == "Pod" and obj["metadata"]["uid"] and obj["status"]["phase"] == "Running"


def test_init_containers_run_first_and_in_order(harness, images, pod_node):
    w = harness.start(f"""\
        apiVersion: v1
        kind: Pod
        metadata: {{name: inits}}
        spec:
          restartPolicy: Never
          volumes: [{{name: v, emptyDir: {{}}}}]
          initContainers:
          - name: one
            image: {images.busybox.ref}
            command: ["sh", "-c", "echo one >> /v/order"]
            volumeMounts: [{{name: v, mountPath: /v}}]
          - name: two
            image: {images.busybox.ref}
            command: ["sh", "-c", "echo two >> /v/order"]
            volumeMounts: [{{name: v, mountPath: /v}}]
          containers:
          - name: main
            image: {images.busybox.ref}
            command: ["cat", "/v/order"]
            volumeMounts: [{{name: v, mountPath: /v}}]
        """)
    assert w.join(60)
    assert w.status.phase == "Succeeded"
    assert pod_node.logs("inits", "main") == "one\ntwo\n"
    phases = [s["phase"] for _, s in harness.history["inits"]]
    assert phases[0] == "Pending"


def test_failing_init_container_under_never_fails_the_pod(harness, images):
    w = harness.start(f"""\
        apiVersion: v1
        kind: Pod
        metadata: {{name: badinit}}
        spec:
          restartPolicy: Never
          initContainers:
          - {{name: init, image: {images.busybox.ref}, command: ["false"]}}
          containers:
          - {{name: main, image: {images.busybox.ref}, command: ["true"]}}
        """)
    assert w.join(60)
    status = w.status.to_dict()
    assert status["phase"] == "Failed"
    assert status["initContainerStatuses"][0]["state"]["terminated"]["exitCode"] == 1
    assert "running" not in container(status)["state"]
    assert "terminated" not in container(status)["state"]


def pull_events(worker: PodWorker) -> list[str]:
    return [
        f"{e.reason}: {e.message}"
        for e in worker.events.list()
        if e.reason in ("Pulling", "Pulled")
    ]


def test_image_pull_policy_never_without_the_image_waits_in_err_image_never_pull(harness, images):
    w = harness.start(f"""\
        apiVersion: v1
        kind: Pod
        metadata: {{name: never}}
        spec:
          containers:
          - {{name: c, image: {images.config.ref}, imagePullPolicy: Never}}
        """)
    status = harness.wait_for(
        w, lambda s: container(s)["state"].get("waiting", {}).get("reason") == "ErrImageNeverPull"
    )
    assert (
        "is not present with pull policy of Never"
        in container(status)["state"]["waiting"]["message"]
    )
    assert not any(e.startswith("Pulling") for e in pull_events(w))


def test_image_pull_policies_if_not_present_never_and_always(harness, images):
    manifest = """\
        apiVersion: v1
        kind: Pod
        metadata: {{name: {name}}}
        spec:
          restartPolicy: Never
          containers:
          - {{name: c, image: {image}, imagePullPolicy: {policy}, command: ["true"]}}
        """
    first = harness.start(
        manifest.format(name="first", image=images.busybox.ref, policy="IfNotPresent")
    )
    assert first.join(60) and first.status.phase == "Succeeded"
    assert any(e.startswith("Pulling") for e in pull_events(first))  # not present yet

    present = harness.start(
        manifest.format(name="present", image=images.busybox.ref, policy="IfNotPresent")
    )
    never = harness.start(manifest.format(name="never2", image=images.busybox.ref, policy="Never"))
    for w in (present, never):
        assert w.join(60) and w.status.phase == "Succeeded"
        assert pull_events(w) == [
            f'Pulled: Container image "{images.busybox.ref}" already present on machine'
        ]

    always = harness.start(
        manifest.format(name="always", image=images.busybox.ref, policy="Always")
    )
    assert always.join(60) and always.status.phase == "Succeeded"
    events = pull_events(always)
    assert events[0] == f'Pulling: Pulling image "{images.busybox.ref}"'
    assert events[1].startswith(f'Pulled: Successfully pulled image "{images.busybox.ref}"')


def test_a_network_that_cannot_be_wired_fails_the_pod_and_leaves_nothing(harness, images, pod_node):
    # the node's "bridge" is a veth: the IP is allocated and the pause starts, then wiring
    # the pod's veth to it fails while the containers are being created
    dummy = f"{pod_node.bridge[:11]}nb"
    peer = f"{pod_node.bridge[:11]}np"
    subprocess.run(["ip", "link", "add", dummy, "type", "veth", "peer", "name", peer], check=True)
    try:
        harness.node = dataclasses.replace(harness.node, bridge=dummy)
        w = harness.start(
            f"""\
            apiVersion: v1
            kind: Pod
            metadata: {{name: nonet}}
            spec:
              containers:
              - {{name: a, image: {images.busybox.ref}, command: [sleep, "60"]}}
              - {{name: b, image: {images.busybox.ref}, command: [sleep, "60"]}}
            """
        )
        assert w.join(60)
        status = w.status.to_dict()
        assert (status["phase"], status["reason"]) == ("Failed", "FailedCreatePodSandBox")
        assert f"interface {dummy} exists but is a veth, not a bridge" in status["message"]
        assert all("running" not in c["state"] for c in status["containerStatuses"])
        reasons = [e.reason for e in w.events.list()]
        assert "FailedCreatePodSandBox" in reasons and "Started" not in reasons
        assert w.runtime.list() == {}  # the created containers and the pause are gone
    finally:
        subprocess.run(["ip", "link", "del", dummy], check=True)


def test_a_failing_liveness_probe_kills_and_restarts_the_container(harness, images):
    w = harness.start(
        f"""\
        apiVersion: v1
        kind: Pod
        metadata: {{name: sick}}
        spec:
          terminationGracePeriodSeconds: 5
          containers:
          - name: c
            image: {images.busybox.ref}
            command: ["sh", "-c"]
            args:
            - |
              touch /tmp/healthy; sleep 1; rm /tmp/healthy
              trap 'exit 0' TERM; while :; do sleep 0.1; done
            livenessProbe:
              exec: {{command: [cat, /tmp/healthy]}}
              periodSeconds: 1
              failureThreshold: 2
        """
    )
    status = harness.wait_for(
        w, lambda s: container(s)["restartCount"] >= 1 and "running" in container(s)["state"]
    )
    last = container(status)["lastState"]["terminated"]
    assert (last["exitCode"], last["reason"]) == (0, "Completed")  # it exits on TERM
    events = [(e.reason, e.message) for e in w.events.list()]
    assert any(
        r == "Unhealthy" and m.startswith("Liveness probe failed: cat: can't open '/tmp/healthy'")
        for r, m in events
    ), events
    assert ("Killing", "Container c failed liveness probe, will be restarted") in events


def test_readiness_and_startup_probes_gate_ready_and_started(harness, images):
    w = harness.start(
        f"""\
        apiVersion: v1
        kind: Pod
        metadata: {{name: slow}}
        spec:
          terminationGracePeriodSeconds: 1
          containers:
          - name: web
            image: {images.busybox.ref}
            command: ["sh", "-c"]
            args:
            - |
              sleep 1.5; mkdir /www; echo ok > /www/index.html
              exec httpd -f -p 8080 -h /www
            ports: [{{name: http, containerPort: 8080}}]
            startupProbe: {{tcpSocket: {{port: 8080}}, periodSeconds: 1, failureThreshold: 10}}
            readinessProbe: {{httpGet: {{port: http, path: /index.html}}, periodSeconds: 1}}
        """
    )
    first = harness.wait_for(w, lambda s: "running" in container(s)["state"])
    assert (container(first)["started"], container(first)["ready"]) == (False, False)
    ready = {c["type"]: c["status"] for c in first["conditions"]}["Ready"]
    assert ready == "False"
    status = harness.wait_for(w, lambda s: container(s)["ready"], timeout=30)
    assert container(status)["started"] is True
    assert {c["type"]: c["status"] for c in status["conditions"]}["Ready"] == "True"
    assert container(status)["restartCount"] == 0
    reasons = [e.reason for e in w.events.list()]
    assert "Unhealthy" in reasons  # the startup probe failed while httpd was not up


def test_post_start_and_pre_stop_hooks_run_in_the_container_in_kubelets_order(
    harness, images, pod_node
):
    w = harness.start(
        f"""\
        apiVersion: v1
        kind: Pod
        metadata: {{name: hooked}}
        spec:
          terminationGracePeriodSeconds: 10
          containers:
          - name: c
            image: {images.busybox.ref}
            command: ["sh", "-c"]
            args: ["trap 'echo got TERM; exit 0' TERM; echo main; while :; do sleep 0.1; done"]
            lifecycle:
              postStart: {{exec: {{command: [sh, -c, "echo post-start > /proc/1/fd/1"]}}}}
              preStop: {{exec: {{command: [sh, -c, "echo pre-stop > /proc/1/fd/1; sleep 1"]}}}}
        """
    )
    harness.wait_for(w, lambda s: "running" in container(s)["state"])
    deadline = time.monotonic() + 10  # the log writer writes what the hook echoed
    while "post-start" not in pod_node.logs("hooked", "c") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "post-start" in pod_node.logs("hooked", "c")
    w.stop()
    assert w.join(30)
    lines = pod_node.logs("hooked", "c").split()
    assert lines.index("pre-stop") < lines.index("TERM"), lines  # the hook, then the signal
    assert container(w.status.to_dict())["state"]["terminated"]["exitCode"] == 0


def test_a_failing_post_start_hook_kills_the_container(harness, images):
    w = harness.start(
        f"""\
        apiVersion: v1
        kind: Pod
        metadata: {{name: badhook}}
        spec:
          terminationGracePeriodSeconds: 1
          containers:
          - name: c
            image: {images.busybox.ref}
            command: ["sleep", "60"]
            lifecycle:
              postStart: {{exec: {{command: [sh, -c, "echo no luck; exit 3"]}}}}
        """
    )
    status = harness.wait_for(w, lambda s: container(s)["restartCount"] >= 1)
    assert container(status)["lastState"]["terminated"]["exitCode"] == 137
    events = [(e.reason, e.message) for e in w.events.list()]
    assert ("FailedPostStartHook", "PostStartHook failed: no luck") in events, events

"""An API server with a real ObjectStore and fake kubelet hooks, for tests without root.

with running_agent(tmp_path) as agent:
    agent.store.create(...)
    agent.client.get("pods", "default", "web")
    agent.run_dir   # pass as --run-dir to the CLI
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from minikube_py.apiserver.client import Client
from minikube_py.apiserver.server import ApiServer, serve
from minikube_py.apiserver.store import ObjectStore
from minikube_py.logs.cri import format_timestamp


@dataclass
class FakeHooks:
    """Logs come from files the test writes under ``log_root/<pod>/<container>/<n>.log``."""

    log_root: str
    healthy_flag: bool = True
    metrics_text: bytes = b"# HELP kubelet_running_pods Pods running\nkubelet_running_pods 1\n"
    finished: dict[str, threading.Event] = field(default_factory=dict)
    requested: dict[str, float] = field(default_factory=dict)  # pod uid -> request arrival

    def log_path(self, pod: str, container: str, previous: bool = False) -> str:
        return os.path.join(self.log_root, pod, container, "0.log" if previous else "1.log")

    def container_log(
        self, pod: dict[str, Any], container: str, previous: bool
    ) -> tuple[str, Callable[[], bool]]:
        name = pod["metadata"]["name"]
        done = self.finished.setdefault(f"{name}/{container}", threading.Event())
        return self.log_path(name, container, previous), done.is_set

    def metrics(self) -> bytes:
        return self.metrics_text

    def healthy(self) -> bool:
        return self.healthy_flag

    def pod_requested(self, uid: str, at: float) -> None:
        self.requested[uid] = at

    def write_log(
        self, pod: str, container: str, lines: list[str], *, previous: bool = False, ts: int = 0
    ) -> str:
        """Append CRI records (one F record per line) to the container's log."""
        path = self.log_path(pod, container, previous)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "ab") as f:
            for i, line in enumerate(lines):
                stamp = format_timestamp(ts + i * 1_000_000_000)
                f.write(stamp + b" stdout F " + line.encode() + b"\n")
        return path


@dataclass
class Agent:
    store: ObjectStore
    hooks: FakeHooks
    server: ApiServer
    run_dir: str
    client: Client


@contextlib.contextmanager
def running_agent(tmp_path: Any, node_name: str = "node1", **store_options: Any) -> Iterator[Agent]:
    root = os.path.join(str(tmp_path), "root")
    run_dir = os.path.join(str(tmp_path), "run")
    store = ObjectStore(root, node_name=node_name, **store_options)
    hooks = FakeHooks(os.path.join(str(tmp_path), "logs"))
    server = serve(store, hooks, os.path.join(run_dir, "api.sock"))
    client = Client(server.socket_path, timeout=10)
    try:
        yield Agent(store, hooks, server, run_dir, client)
    finally:
        client.close()
        for done in hooks.finished.values():
            done.set()
        server.shutdown()


def pod_manifest(name: str, *containers: str, **spec: Any) -> dict[str, Any]:
    names = containers or ("app",)
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "containers": [{"name": c, "image": "busybox:1.36", "command": ["sh"]} for c in names],
            **spec,
        },
    }


def running_status(pod: dict[str, Any], ip: str = "10.244.0.5", restarts: int = 0) -> dict:
    """A status as the kubelet reports a pod whose containers all run."""
    names = [c["name"] for c in pod["spec"]["containers"]]
    return {
        "phase": "Running",
        "conditions": [
            {
                "type": t,
                "status": "True",
                "lastProbeTime": None,
                "lastTransitionTime": "2024-01-01T00:00:00Z",
            }
            for t in ("Initialized", "Ready", "ContainersReady", "PodScheduled")
        ],
        "hostIP": "192.168.1.10",
        "podIP": ip,
        "podIPs": [{"ip": ip}],
        "startTime": "2024-01-01T00:00:00Z",
        "containerStatuses": [
            {
                "name": n,
                "state": {"running": {"startedAt": "2024-01-01T00:00:01Z"}},
                "lastState": {},
                "ready": True,
                "restartCount": restarts,
                "image": "busybox:1.36",
                "imageID": "sha256:abc",
                "containerID": f"minikube-py://{n}0",
                "started": True,
            }
            for n in names
        ],
        "qosClass": "BestEffort",
    }

"""The pod manager: turns the API's pods into pod workers and their status back into the API.

It watches the object store (in-process): a pod ADDED gets a worker (taking over the
pod when a previous agent left it running), a deletionTimestamp stops the worker with
the pod's grace period, and when the worker is done the object is removed for good.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from minikube_py.api.objects import Pod
from minikube_py.apiserver.errors import APIError
from minikube_py.apiserver.store import ObjectStore
from minikube_py.kubelet import status as st
from minikube_py.kubelet.config import NodeConfig
from minikube_py.kubelet.events import Event
from minikube_py.kubelet.images import ImageManager
from minikube_py.kubelet.metrics import KubeletMetrics
from minikube_py.kubelet.runtime_service import ExitRouter, RuntimeService
from minikube_py.kubelet.sandbox import remove_pod_dir
from minikube_py.kubelet.worker import PodWorker

POD = "Pod"


class PodManager:
    def __init__(
        self,
        store: ObjectStore,
        node: NodeConfig,
        runtime: RuntimeService,
        images: ImageManager,
    ):
        self.store = store
        self.node = node
        self.runtime = runtime
        self.images = images
        self.router = ExitRouter(runtime)
        self.metrics = KubeletMetrics(self._pod_objects)
        images.on_pull = self.metrics.image_pull_seconds.observe
        self.workers: dict[str, PodWorker] = {}
        self._deleting: set[str] = set()
        self._received: dict[str, float] = {}  # uid -> monotonic time the pod arrived
        self._requested: dict[str, float] = {}  # uid -> when its create request arrived
        self._lock = threading.Lock()
        self._watch = None
        self._thread: threading.Thread | None = None
        # Shared by the workers for what overlaps within a pod start (a pod's network wiring,
        # its containers' creates); long-lived threads keep their shim connections.
        self._helpers = ThreadPoolExecutor(max_workers=4, thread_name_prefix="pod-helper")

    def collect_garbage(self) -> list[str]:
        """Before any worker runs: remove what no pod refers to any more (an agent that
        died between making a thing and recording it): shim containers, IPs and veths,
        pod cgroups and pod dirs.  Returns what was removed, for the log."""
        from minikube_py.kubelet.sandbox import pause_id
        from minikube_py.kubelet.worker import CONTAINER_ID_PREFIX
        from minikube_py.network import NetworkConfig, collect_garbage
        from runtime import cgroups
        from runtime.errors import RuntimeErr

        pods, _ = self.store.list(POD, None)
        uids = {p["metadata"]["uid"] for p in pods}
        referenced = {pause_id(uid) for uid in uids}
        for p in pods:
            status = p.get("status") or {}
            for cs in status.get("containerStatuses", []) + status.get("initContainerStatuses", []):
                referenced.add(cs.get("containerID", "").removeprefix(CONTAINER_ID_PREFIX))
        removed = []
        for cid in self.runtime.list():
            # a run whose pod is known, even unrecorded: its worker decides (container_id)
            if cid not in referenced and cid[:36] not in uids:
                with contextlib.suppress(RuntimeErr, OSError):
                    self.runtime.delete(cid)
                    removed.append(f"container {cid}")
        net = NetworkConfig(
            state_root=self.node.root, bridge=self.node.bridge, cidr=self.node.pod_cidr
        )
        removed += [f"network of pod {u}" for u in collect_garbage(uids, net)]
        pods_dir = os.path.join(self.node.root, "pods")
        for uid in os.listdir(pods_dir) if os.path.isdir(pods_dir) else []:
            if uid not in uids:
                with contextlib.suppress(RuntimeErr, OSError):
                    cgroups.open_cgroup(self.node.pod_cgroup(uid)).destroy()
                remove_pod_dir(self.node, uid)
                removed.append(f"pod dir {uid}")
        return removed

    def start(self) -> None:
        self._watch = self.store.watch(POD, None, copy_objects=True)
        self._thread = threading.Thread(target=self._loop, name="pod-manager", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop watching. Workers and containers are left as they are (agent stop)."""
        if self._watch is not None:
            self._watch.close()

    def _loop(self) -> None:
        for type_, obj in self._watch:
            uid = obj["metadata"]["uid"]
            if type_ == "ADDED":
                self._add(obj)
            elif type_ == "MODIFIED" and obj["metadata"].get("deletionTimestamp"):
                self._delete(uid, obj["metadata"].get("deletionGracePeriodSeconds"))
            elif type_ == "DELETED":
                self._delete(uid, 0)  # gone from the API at once (grace 0, or not ours)

    # ---- pods in ----------------------------------------------------------------------

    def _add(self, obj: dict) -> None:
        uid = obj["metadata"]["uid"]
        with self._lock:
            if uid in self.workers:
                return
            if len(self.workers) >= self.node.max_pods:
                self._reject(obj, f"Node has reached its pod limit ({self.node.max_pods})")
                return
            pod = Pod.from_dict(obj)
            status = obj.get("status") or {}
            adopt = status if (status.get("podIP") or status.get("containerStatuses")) else None
            requested = self._requested.pop(uid, None)
            if adopt is None:  # pod start latency: only for pods started, not adopted
                self._received[uid] = requested or time.monotonic()
            worker = PodWorker(
                pod,
                self.node,
                self.images,
                self.runtime,
                self.router,
                self._on_change,
                adopt=adopt,
                event_sink=lambda e, p=pod: self._event(p, e),
                executor=self._helpers,
            )
            self.workers[uid] = worker
        worker.start()
        if obj["metadata"].get("deletionTimestamp"):
            self._delete(uid, obj["metadata"].get("deletionGracePeriodSeconds"))

    def _reject(self, obj: dict, message: str) -> None:
        meta = obj["metadata"]
        with contextlib.suppress(APIError):
            self.store.update_status(
                POD,
                meta["namespace"],
                meta["name"],
                {"phase": st.FAILED, "reason": "OutOfpods", "message": message},
            )

    def _delete(self, uid: str, grace: float | None) -> None:
        with self._lock:
            worker = self.workers.get(uid)
            if worker is None:
                return
            self._deleting.add(uid)
        worker.stop(grace)
        if worker.finished.is_set():
            self._finish(worker)

    def pod_requested(self, uid: str, at: float) -> None:
        """The API server says when the request creating pod `uid` arrived: the start of
        its pod start latency (the watch may have brought the pod here first, or not yet)."""
        with self._lock:
            if uid in self._received:
                self._received[uid] = min(self._received[uid], at)
            elif uid not in self.workers:
                self._requested[uid] = at

    # ---- status out -------------------------------------------------------------------

    def _on_change(self, worker: PodWorker) -> None:
        pod = worker.pod
        uid = pod.metadata.uid
        status = worker.status.to_dict()
        received = self._received.get(uid)
        if received is not None and _all_running(status):
            self.metrics.pod_start_seconds.observe(time.monotonic() - received)
            self._received.pop(uid, None)
        with contextlib.suppress(APIError):
            self.store.update_status(POD, pod.namespace, pod.name, status)
        if worker.finished.is_set() and uid in self._deleting:
            self._finish(worker)

    def _finish(self, worker: PodWorker) -> None:
        """A deleted pod's worker is done: the object goes, and its directory."""
        uid = worker.pod.metadata.uid
        with self._lock:
            if self.workers.get(uid) is not worker:
                return
            del self.workers[uid]
            self._deleting.discard(uid)
        # the directory first: once the object is DELETED nothing of the pod is left (a
        # drain waits for DELETED, then exits); pod.json goes with the object
        remove_pod_dir(self.node, uid)
        with contextlib.suppress(APIError):
            self.store.remove(POD, worker.pod.namespace, worker.pod.name, uid=uid)

    def _event(self, pod: Pod, event: Event) -> None:
        meta = {"name": pod.name, "namespace": pod.namespace, "uid": pod.metadata.uid}
        with contextlib.suppress(APIError):
            self.store.record_event(event.to_dict(meta, self.node.node_name))

    # ---- for the API server -------------------------------------------------------------

    def _pod_objects(self) -> list[dict]:
        items, _ = self.store.list(POD, None)
        return items

    def container_log(self, pod: dict, container: str, previous: bool):
        meta = pod["metadata"]
        statuses = (pod.get("status") or {}).get("containerStatuses", []) + (
            pod.get("status") or {}
        ).get("initContainerStatuses", [])
        cs = next((c for c in statuses if c["name"] == container), None)
        restart = (cs or {}).get("restartCount", 0)
        if previous:
            restart -= 1
        path = os.path.join(
            self.node.pod_log_dir(meta["namespace"], meta["name"], meta["uid"]),
            container,
            f"{max(restart, 0)}.log",
        )

        def finished() -> bool:
            from minikube_py.logs.writer import log_writer_active

            return previous or not log_writer_active(path)

        return path, finished

    def metrics_text(self) -> bytes:
        return self.metrics.text()


def _all_running(status: dict) -> bool:
    cs = status.get("containerStatuses") or []
    return bool(cs) and all("running" in c.get("state", {}) for c in cs)


class AgentHooks:
    """What the API server asks of the kubelet."""

    def __init__(self, manager: PodManager):
        self.manager = manager

    def pod_requested(self, uid: str, at: float) -> None:
        self.manager.pod_requested(uid, at)

    def container_log(self, pod: dict, container: str, previous: bool):
        return self.manager.container_log(pod, container, previous)

    def metrics(self) -> bytes:
        return self.manager.metrics_text()

    def healthy(self) -> bool:
        return self.manager._thread is not None and self.manager._thread.is_alive()

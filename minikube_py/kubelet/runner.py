"""`minikube-py run -f`: run pods in the foreground until they finish or we are told to stop."""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from minikube_py.api.objects import Pod
from minikube_py.kubelet import status as st
from minikube_py.kubelet.config import NodeConfig
from minikube_py.kubelet.images import ImageManager
from minikube_py.kubelet.runtime_service import ExitRouter, LocalRuntimeService
from minikube_py.kubelet.sandbox import remove_pod_dir
from minikube_py.kubelet.worker import PodWorker


class Runner:
    def __init__(self, node: NodeConfig, out: Callable[[str], None] | None = None):
        self.node = node
        self.out = out or (lambda line: print(line, flush=True))
        self._printed: dict[tuple[str, ...], str] = {}
        self._print_lock = threading.Lock()
        self._all_done = threading.Event()
        self._workers: list[PodWorker] = []
        self.stopped_by: int | None = None

    def run(self, pods: list[Pod]) -> int:
        """Exit code: 0 if every pod Succeeded, 128+signal if stopped, else 1."""
        from minikube_py.network import ensure_bridge
        from oci.image import ImageService

        ensure_bridge(self.node.bridge, self.node.pod_cidr)
        service = ImageService(
            self.node.root,
            insecure_registries=self.node.insecure_registries,
            registry_config=self.node.registry_config,
        )
        images = ImageManager(service)
        runtime = LocalRuntimeService(self.node.run_dir)
        router = ExitRouter(runtime)
        helpers = ThreadPoolExecutor(max_workers=4, thread_name_prefix="pod-helper")
        self._workers = [
            PodWorker(p, self.node, images, runtime, router, self._on_change, executor=helpers)
            for p in pods
        ]
        previous = {s: signal.signal(s, self._on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            for w in self._workers:
                w.start()
            if not self._workers:
                self._all_done.set()
            self._all_done.wait()
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
            for w in self._workers:  # a second signal or an error: make sure all is torn down
                w.stop(0)
            for w in self._workers:
                w.join()
                remove_pod_dir(self.node, w.pod.metadata.uid)
            helpers.shutdown()
            service.close()
            self._remove_cgroup_parent()
        if self.stopped_by is not None:
            return 128 + self.stopped_by
        return 0 if all(w.phase == st.SUCCEEDED for w in self._workers) else 1

    def _on_signal(self, signum: int, frame) -> None:
        if self.stopped_by is not None:
            return
        self.stopped_by = signum
        print(f"\n{signal.Signals(signum).name}: stopping all pods", file=sys.stderr, flush=True)
        for w in self._workers:
            w.stop()

    def _on_change(self, worker: PodWorker) -> None:
        pod = worker.pod
        lines: list[tuple[tuple[str, ...], str]] = []
        for cs in worker.status.init_container_statuses + worker.status.container_statuses:
            key = (pod.metadata.uid, cs.name)
            restarts = f" (restarts: {cs.restart_count})" if cs.restart_count else ""
            lines.append(
                (key, f"pod/{pod.name} container/{cs.name}: {cs.state.summary()}{restarts}")
            )
        phase = worker.status.phase
        detail = f" (IP {worker.status.pod_ip})" if worker.status.pod_ip else ""
        if worker.status.message:
            detail += f": {worker.status.message}"
        lines.append(((pod.metadata.uid,), f"pod/{pod.name}: {phase}{detail}"))
        with self._print_lock:
            for key, line in lines:
                if self._printed.get(key) != line:
                    self._printed[key] = line
                    self.out(line)
            if all(w.finished.is_set() for w in self._workers):
                self._all_done.set()

    def _remove_cgroup_parent(self) -> None:
        from runtime import cgroups
        from runtime.errors import RuntimeErr

        with contextlib.suppress(RuntimeErr, OSError):
            cgroups.open_cgroup(self.node.cgroup_parent).destroy()

"""The agent's Prometheus metrics (GET /metrics), through prometheus_client."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300)


class KubeletMetrics:
    def __init__(self, pods: Callable[[], Iterable[dict]]):
        """`pods` gives the pod objects (with status) at scrape time."""
        self.registry = CollectorRegistry()
        self.image_pull_seconds = Histogram(
            "minikube_py_image_pull_duration_seconds",
            "Time to pull and unpack an image",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.pod_start_seconds = Histogram(
            "minikube_py_pod_start_duration_seconds",
            "Time from the request creating a pod reaching the agent (or the pod reaching "
            "the kubelet, for a static or controller-made pod) to all of its containers running",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._pods = pods
        self.registry.register(self)

    def collect(self):
        phases = GaugeMetricFamily(
            "minikube_py_pods", "Pods on this node by phase", labels=["phase"]
        )
        restarts = GaugeMetricFamily(
            "minikube_py_container_restarts",
            "Restarts of each container (restartCount)",
            labels=["namespace", "pod", "container"],
        )
        counts = dict.fromkeys(("Pending", "Running", "Succeeded", "Failed", "Unknown"), 0)
        for pod in self._pods():
            meta, status = pod["metadata"], pod.get("status") or {}
            phase = status.get("phase", "Pending")
            counts[phase] = counts.get(phase, 0) + 1
            for c in status.get("containerStatuses", []):
                restarts.add_metric(
                    [meta["namespace"], meta["name"], c["name"]], c.get("restartCount", 0)
                )
        for phase, n in counts.items():
            phases.add_metric([phase], n)
        yield phases
        yield restarts

    def describe(self):
        return []

    def text(self) -> bytes:
        return generate_latest(self.registry)

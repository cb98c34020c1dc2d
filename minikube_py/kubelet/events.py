"""Kubernetes-style events of a pod (Pulling, Pulled, Created, Started, Killing, BackOff,
Failed), with counts and first/last times, for `describe`."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from minikube_py.kubelet.status import now

NORMAL, WARNING = "Normal", "Warning"


@dataclass
class Event:
    type: str
    reason: str
    message: str
    field_path: str
    count: int
    first_timestamp: str
    last_timestamp: str

    def to_dict(self, pod_meta: dict[str, str], node_name: str) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "Event",
            "type": self.type,
            "reason": self.reason,
            "message": self.message,
            "count": self.count,
            "firstTimestamp": self.first_timestamp,
            "lastTimestamp": self.last_timestamp,
            "source": {"component": "kubelet", "host": node_name},
            "involvedObject": {
                "kind": "Pod",
                "apiVersion": "v1",
                **pod_meta,
                **({"fieldPath": self.field_path} if self.field_path else {}),
            },
        }


class EventRecorder:
    """Events of one pod; a repeat of the same event bumps its count and last time."""

    def __init__(self, sink: Callable[[Event], None] | None = None) -> None:
        self._events: list[Event] = []
        self._lock = threading.Lock()
        self._sink = sink  # e.g. the API's event store

    def record(self, type_: str, reason: str, message: str, container: str = "") -> None:
        field_path = f"spec.containers{{{container}}}" if container else ""
        at = now()
        with self._lock:
            for e in self._events:
                if (e.type, e.reason, e.message, e.field_path) == (
                    type_,
                    reason,
                    message,
                    field_path,
                ):
                    e.count += 1
                    e.last_timestamp = at
                    event = e
                    break
            else:
                event = Event(type_, reason, message, field_path, 1, at, at)
                self._events.append(event)
        if self._sink is not None:
            self._sink(event)

    def list(self) -> list[Event]:
        with self._lock:
            return list(self._events)

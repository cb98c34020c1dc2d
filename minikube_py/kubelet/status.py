"""Pod and container status in the Kubernetes v1 shape.

The one place phases are computed (kubelet's getPhase): nothing else decides
whether a pod is Pending, Running, Succeeded or Failed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

WAITING, RUNNING, TERMINATED = "waiting", "running", "terminated"
PENDING, POD_RUNNING, SUCCEEDED, FAILED = "Pending", "Running", "Succeeded", "Failed"


def now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def rfc3339(unix_time: float) -> str:
    return dt.datetime.fromtimestamp(unix_time, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class ContainerState:
    kind: str = WAITING  # waiting | running | terminated
    reason: str = ""
    message: str = ""
    started_at: str | None = None
    finished_at: str | None = None
    exit_code: int | None = None
    signal: int | None = None
    container_id: str = ""

    def to_dict(self) -> dict[str, Any]:
        if self.kind == WAITING:
            body = {"reason": self.reason, "message": self.message}
        elif self.kind == RUNNING:
            body = {"startedAt": self.started_at}
        else:
            body = {
                "exitCode": self.exit_code,
                "signal": self.signal,
                "reason": self.reason,
                "message": self.message,
                "startedAt": self.started_at,
                "finishedAt": self.finished_at,
                "containerID": self.container_id,
            }
        return {self.kind: {k: v for k, v in body.items() if v not in (None, "")}}

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> ContainerState | None:
        """The inverse of to_dict (None for an empty state)."""
        if not d:
            return None
        kind, body = next(iter(d.items()))
        return cls(
            kind,
            body.get("reason", ""),
            body.get("message", ""),
            body.get("startedAt"),
            body.get("finishedAt"),
            body.get("exitCode"),
            body.get("signal"),
            body.get("containerID", ""),
        )

    def summary(self) -> str:
        """One phrase for a person: `Waiting (ContainerCreating)`, `Terminated (Error, exit 1)`."""
        if self.kind == WAITING:
            return f"Waiting ({self.reason})" + (f": {self.message}" if self.message else "")
        if self.kind == RUNNING:
            return "Running"
        detail = f"exit code {self.exit_code}" if self.signal is None else f"signal {self.signal}"
        tail = f": {self.message}" if self.message else ""
        return f"Terminated ({self.reason}, {detail}){tail}"


@dataclass
class ContainerStatus:
    name: str
    image: str
    state: ContainerState = field(
        default_factory=lambda: ContainerState(WAITING, "ContainerCreating")
    )
    last_state: ContainerState | None = None
    restart_count: int = 0
    image_id: str = ""
    container_id: str = ""
    ready: bool = False
    # running and past its startup probe (if any): what `started` reports
    started: bool = False
    # decided by the worker: this container will not run again (restartPolicy)
    done: bool = False

    def restore(self, d: dict[str, Any]) -> None:
        """Take back what a previous agent reported (its persisted containerStatuses[i])."""
        self.state = ContainerState.from_dict(d.get("state")) or self.state
        self.last_state = ContainerState.from_dict(d.get("lastState"))
        self.restart_count = int(d.get("restartCount") or 0)
        self.image_id = d.get("imageID", "")
        self.container_id = d.get("containerID", "")
        self.ready = bool(d.get("ready"))
        self.started = bool(d.get("started"))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "state": self.state.to_dict(),
            "lastState": self.last_state.to_dict() if self.last_state else {},
            "ready": self.ready,
            "restartCount": self.restart_count,
            "image": self.image,
            "imageID": self.image_id,
            "started": self.started and self.state.kind == RUNNING,
        }
        if self.container_id:
            out["containerID"] = self.container_id
        return out


@dataclass
class Condition:
    type: str
    status: str  # "True" | "False"
    last_transition_time: str
    reason: str = ""
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        out = {
            "type": self.type,
            "status": self.status,
            "lastProbeTime": None,
            "lastTransitionTime": self.last_transition_time,
        }
        if self.reason:
            out["reason"] = self.reason
        if self.message:
            out["message"] = self.message
        return out


@dataclass
class PodStatus:
    phase: str = PENDING
    pod_ip: str = ""
    host_ip: str = ""
    start_time: str | None = None
    message: str = ""
    reason: str = ""
    qos_class: str = ""
    conditions: list[Condition] = field(default_factory=list)
    init_container_statuses: list[ContainerStatus] = field(default_factory=list)
    container_statuses: list[ContainerStatus] = field(default_factory=list)

    def condition(self, type_: str) -> Condition | None:
        return next((c for c in self.conditions if c.type == type_), None)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"phase": self.phase}
        if self.conditions:
            out["conditions"] = [c.to_dict() for c in self.conditions]
        for key, value in (
            ("hostIP", self.host_ip),
            ("podIP", self.pod_ip),
            ("startTime", self.start_time),
            ("message", self.message),
            ("reason", self.reason),
        ):
            if value:
                out[key] = value
        if self.pod_ip:
            out["podIPs"] = [{"ip": self.pod_ip}]
        if self.init_container_statuses:
            out["initContainerStatuses"] = [c.to_dict() for c in self.init_container_statuses]
        out["containerStatuses"] = [c.to_dict() for c in self.container_statuses]
        if self.qos_class:
            out["qosClass"] = self.qos_class
        return out


def compute_phase(restart_policy: str, status: PodStatus) -> str:
    """Kubernetes' pod phase from container states (kubelet getPhase)."""
    for init in status.init_container_statuses:
        if init.state.kind == TERMINATED and init.state.exit_code == 0:
            continue
        if init.state.kind == TERMINATED and init.done:
            return FAILED  # failed and will not be retried (restartPolicy Never)
        return PENDING
    running = waiting = stopped = succeeded = 0
    for c in status.container_statuses:
        if c.state.kind == RUNNING:
            running += 1
        elif c.state.kind == TERMINATED:
            stopped += 1
            succeeded += c.state.exit_code == 0
        elif c.last_state is not None and c.last_state.kind == TERMINATED:
            stopped += 1  # waiting to restart: it has run
        else:
            waiting += 1
    if waiting:
        return PENDING
    if running:
        return POD_RUNNING
    if stopped:
        if restart_policy == "Always":
            return POD_RUNNING
        if stopped == succeeded:
            return SUCCEEDED
        if restart_policy == "Never":
            return FAILED
        return POD_RUNNING  # OnFailure: the failed ones restart
    return PENDING


def update_conditions(status: PodStatus, *, scheduled_at: str) -> None:
    """PodScheduled, Initialized, ContainersReady, Ready, as kubelet reports them; a
    condition's lastTransitionTime changes only when its status does."""
    inits_done = all(
        c.state.kind == TERMINATED and c.state.exit_code == 0
        for c in status.init_container_statuses
    )
    not_ready = [c.name for c in status.container_statuses if not c.ready]
    finished = status.phase in (SUCCEEDED, FAILED)
    wanted: list[tuple[str, bool, str, str]] = [
        ("PodScheduled", True, "", ""),
        (
            "Initialized",
            inits_done,
            "" if inits_done else "ContainersNotInitialized",
            ""
            if inits_done
            else "containers with incomplete status: "
            + str(
                [
                    c.name
                    for c in status.init_container_statuses
                    if not (c.state.kind == TERMINATED and c.state.exit_code == 0)
                ]
            ),
        ),
    ]
    if finished:
        ready, reason, message = False, "PodCompleted", ""
    else:
        ready = not not_ready
        reason = "" if ready else "ContainersNotReady"
        message = "" if ready else f"containers with unready status: [{' '.join(not_ready)}]"
    wanted += [("ContainersReady", ready, reason, message), ("Ready", ready, reason, message)]
    at = now()
    new = []
    for type_, ok, reason, message in wanted:
        value = "True" if ok else "False"
        old = status.condition(type_)
        when = scheduled_at if type_ == "PodScheduled" else at
        if old is not None and old.status == value:
            when = old.last_transition_time
        new.append(Condition(type_, value, when, reason, message))
    status.conditions = new


def qos_class(containers: list) -> str:
    """Guaranteed, Burstable or BestEffort, from the containers' requests and limits."""
    any_set = False
    guaranteed = True
    for c in containers:
        limits, requests = c.resources.limits, c.resources.requests
        if limits or requests:
            any_set = True
        for resource in ("cpu", "memory"):
            limit, request = limits.get(resource), requests.get(resource)
            if limit is None or (request is not None and request.value != limit.value):
                guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"

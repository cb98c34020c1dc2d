"""The kubelet's view of the container runtime (CRI's RuntimeService, in small).

`LocalRuntimeService` runs containers in this process: this process is their
parent and learns their exits (`run -f`).  The shim (minikube_py.shim) serves
the same interface from a process of its own, so that the agent can die and
restart while containers keep running and their exits are still recorded.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Protocol

from runtime.container import Container
from runtime.errors import RuntimeErr
from runtime.spec import Spec
from runtime.state import STOPPED


@dataclass
class ExitEvent:
    id: str
    code: int | None  # None when killed by a signal
    signal: int | None
    oom_killed: bool
    finished: float  # unix time

    @property
    def exit_code(self) -> int:
        """As Kubernetes reports it: 128 + signal for a signalled process."""
        return self.code if self.code is not None else 128 + (self.signal or 0)

    @property
    def reason(self) -> str:
        if self.oom_killed:
            return "OOMKilled"
        return "Completed" if self.exit_code == 0 else "Error"


@dataclass
class ContainerInfo:
    id: str
    pid: int
    status: str  # created | running | stopped
    started: float | None
    exit: ExitEvent | None

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ContainerInfo:
        exit = d.get("exit")
        return cls(
            d["id"], d["pid"], d["status"], d.get("started"), ExitEvent(**exit) if exit else None
        )


ExitCallback = Callable[[ExitEvent], None]


def container_state_dir(run_dir: str, cid: str) -> str:
    """Where the node's runtime (the shim, or run -f) keeps container `cid`'s state."""
    return os.path.join(run_dir, "containers", cid)


LOG_DRAIN_SECONDS = 5.0


class RuntimeService(Protocol):
    def create(self, cid: str, spec: Spec, log_path: str | None) -> int: ...
    def start(self, cid: str) -> None: ...
    def kill(self, cid: str, sig: int, all_processes: bool = False) -> None: ...
    def delete(self, cid: str) -> None: ...
    def list(self) -> dict[str, ContainerInfo]: ...
    def subscribe(self, callback: ExitCallback) -> None: ...
    def close(self) -> None: ...


class LocalRuntimeService:
    """Containers as children of this process; one waiter thread per started container."""

    def __init__(self, run_dir: str):
        self.run_dir = run_dir
        self._containers: dict[str, Container] = {}
        self._exits: dict[str, ExitEvent] = {}
        self._reaped: dict[str, threading.Event] = {}
        self._writers: dict = {}  # cid -> LogWriter
        self._callbacks: list[ExitCallback] = []
        self._lock = threading.Lock()

    def state_dir(self, cid: str) -> str:
        return container_state_dir(self.run_dir, cid)

    def subscribe(self, callback: ExitCallback) -> None:
        with self._lock:
            self._callbacks.append(callback)

    def create(self, cid: str, spec: Spec, log_path: str | None) -> int:
        """Set the container up (it waits for start); stdout/stderr to a CRI log writer."""
        from minikube_py.logs.writer import LogWriterError, start_log_writer

        writer = None
        try:
            if log_path is not None:
                # not waited for: the writer's start-up overlaps the container's
                owner = (spec.process.uid, spec.process.gid)
                writer = start_log_writer(log_path, owner=owner, wait=False)
            try:
                ctr = Container.create(
                    cid,
                    spec,
                    self.state_dir(cid),
                    stdout=writer.stdout_fd if writer else None,
                    stderr=writer.stderr_fd if writer else None,
                )
            finally:
                if writer is not None:
                    writer.close_pipes()  # the container holds its own copies (or failed)
            if writer is not None:
                try:
                    writer.wait_ready()
                except LogWriterError:
                    ctr.delete()
                    raise
        except LogWriterError as e:
            if writer is not None:
                with contextlib.suppress(LogWriterError):
                    writer.wait_ready()
                writer.wait(LOG_DRAIN_SECONDS)
            raise RuntimeErr(f"container {cid}: {e}") from e
        except BaseException:
            if writer is not None:  # its pipes are closed: it ends by itself
                with contextlib.suppress(LogWriterError):
                    writer.wait_ready()
                writer.wait(LOG_DRAIN_SECONDS)
            raise
        with self._lock:
            self._containers[cid] = ctr
            if writer is not None:
                self._writers[cid] = writer
        return ctr.pid

    def start(self, cid: str) -> None:
        ctr = self._get(cid)
        ctr.start()  # StartError: the runtime has already cleaned up
        reaped = threading.Event()
        with self._lock:
            self._reaped[cid] = reaped
        threading.Thread(
            target=self._wait, args=(ctr, reaped), name=f"wait-{cid[:12]}", daemon=True
        ).start()

    def _wait(self, ctr: Container, reaped: threading.Event) -> None:
        status = ctr.wait()
        event = ExitEvent(ctr.id, status.code, status.signal, status.oom_killed, time.time())
        with self._lock:
            writer = self._writers.pop(ctr.id, None)
        if writer is not None:
            # the writer ends when the last holder of the pipes is gone: then the log is
            # complete when the exit is reported (and the writer is reaped)
            writer.wait(LOG_DRAIN_SECONDS)
        with self._lock:
            self._exits[ctr.id] = event
            callbacks = list(self._callbacks)
        reaped.set()
        for callback in callbacks:
            callback(event)

    def kill(self, cid: str, sig: int, all_processes: bool = False) -> None:
        self._get(cid).kill(sig, all_processes=all_processes)

    def delete(self, cid: str) -> None:
        """Kill what is left, wait for the reaper, remove cgroup and state.  Idempotent."""
        with self._lock:
            ctr = self._containers.get(cid)
            reaped = self._reaped.get(cid)
        if ctr is None:
            return
        if reaped is not None and not reaped.is_set():
            # the waiter thread owns waitpid(): kill, then let it reap
            with contextlib.suppress(RuntimeErr, OSError):
                ctr.kill(9, all_processes=True)
            reaped.wait(30)
        ctr.delete()
        with self._lock:
            writer = self._writers.pop(cid, None)  # created, never started
        if writer is not None:
            writer.wait(LOG_DRAIN_SECONDS)
        with self._lock:
            self._containers.pop(cid, None)
            self._reaped.pop(cid, None)
            self._exits.pop(cid, None)

    def list(self) -> dict[str, ContainerInfo]:
        with self._lock:
            items = list(self._containers.items())
            exits = dict(self._exits)
        out = {}
        for cid, ctr in items:
            exit = exits.get(cid)
            status = STOPPED if exit else ctr.state.status
            out[cid] = ContainerInfo(cid, ctr.pid, status, ctr.state.started, exit)
        return out

    def close(self) -> None:
        pass

    def _get(self, cid: str) -> Container:
        with self._lock:
            ctr = self._containers.get(cid)
        if ctr is None:
            raise RuntimeErr(f"container {cid}: not found")
        return ctr


class ExitRouter:
    """Delivers each container's exit to whoever routed its id (a pod worker).

    Route before create: an exit that arrives before its route is kept until routed."""

    def __init__(self, runtime: RuntimeService):
        self._routes: dict[str, ExitCallback] = {}
        self._unrouted: dict[str, ExitEvent] = {}
        self._lock = threading.Lock()
        runtime.subscribe(self._on_exit)

    def route(self, cid: str, callback: ExitCallback) -> None:
        with self._lock:
            self._routes[cid] = callback
            early = self._unrouted.pop(cid, None)
        if early is not None:
            callback(early)

    def unroute(self, cid: str) -> None:
        with self._lock:
            self._routes.pop(cid, None)
            self._unrouted.pop(cid, None)

    def _on_exit(self, event: ExitEvent) -> None:
        with self._lock:
            callback = self._routes.get(event.id)
            if callback is None:
                self._unrouted[event.id] = event
                return
        callback(event)

"""The pod worker: one thread per pod, all of that pod's work serialised on it.

It makes the sandbox, runs init containers in order, starts the app containers,
learns of their exits, applies restartPolicy with crash-loop backoff, and on
stop (or when the pod is finished) kills the containers with their grace
period and tears the sandbox down.  Status changes go to `on_change`.
"""

from __future__ import annotations

import contextlib
import math
import os
import queue
import signal
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass

from minikube_py.api.objects import Container, LifecycleHandler, Pod
from minikube_py.errors import MinikubeError
from minikube_py.kubelet import status as st
from minikube_py.kubelet.config import NodeConfig
from minikube_py.kubelet.containers import container_spec
from minikube_py.kubelet.events import NORMAL, WARNING, EventRecorder
from minikube_py.kubelet.images import ImageManager, ImagePullError
from minikube_py.kubelet.probes import ContainerProber, run_handler
from minikube_py.kubelet.runtime_service import (
    ExitEvent,
    ExitRouter,
    RuntimeService,
    container_state_dir,
)
from minikube_py.kubelet.sandbox import (
    Sandbox,
    allocated_ip,
    create_sandbox,
    pause_id,
    pod_hostname,
    teardown_sandbox,
)
from oci.reference import Reference
from runtime.errors import RuntimeErr, StartError
from runtime.spec import Spec

CONTAINER_ID_PREFIX = "minikube-py://"


def container_id(pod_uid: str, name: str, restart: int) -> str:
    """A container run's runtime id names its pod, container and run, so that an agent
    killed before it recorded the run still finds it: <pod uid>-<name>-<restart>-<random>."""
    return f"{pod_uid}-{name}-{restart}-{uuid.uuid4().hex[:8]}"


def parse_container_id(pod_uid: str, cid: str) -> tuple[str, int] | None:
    """(container name, restart) of a run of pod `pod_uid`, else None."""
    if not cid.startswith(pod_uid + "-"):
        return None
    parts = cid[len(pod_uid) + 1 :].rsplit("-", 2)
    if len(parts) != 3 or not parts[1].isdigit():
        return None
    return parts[0], int(parts[1])


MIN_GRACE_AFTER_HOOK = 2.0  # kubelet's minimum grace for the stop signal after a preStop hook


@dataclass
class _Job:
    """One run of a container, made ready: its id, runtime spec and log file."""

    cid: str
    spec: Spec
    log_path: str


class _Abandoned(Exception):
    """The pod is being stopped: a created container is not started."""


@dataclass
class _Instance:
    """One container of the pod across its restarts."""

    spec: Container
    status: st.ContainerStatus
    init: bool = False
    cid: str | None = None  # the running (or created) container's id
    started: float = 0.0  # monotonic
    next_start: float | None = None  # monotonic; None: not scheduled
    backoff: float = 0.0  # next crash-loop delay
    pull_backoff: float = 0.0  # next image pull retry delay
    stop_signal: int = signal.SIGTERM


class PodWorker:
    def __init__(
        self,
        pod: Pod,
        node: NodeConfig,
        images: ImageManager,
        runtime: RuntimeService,
        router: ExitRouter,
        on_change: Callable[[PodWorker], None] = lambda w: None,
        *,
        adopt: dict | None = None,
        event_sink: Callable | None = None,
        executor: Executor | None = None,
    ):
        self.pod = pod
        self.node = node
        self.images = images
        self.runtime = runtime
        self.router = router
        self.on_change = on_change
        self.executor = executor  # helper threads for work that overlaps (see _start_due)
        self.status = st.PodStatus(
            host_ip=node.host_ip(),
            qos_class=st.qos_class(pod.spec.init_containers + pod.spec.containers),
        )
        self.events = EventRecorder(event_sink)
        self._adopt = adopt  # the status a previous agent persisted: take the pod over
        self.sandbox: Sandbox | None = None
        self._events: queue.Queue = queue.Queue()
        self._stopping = threading.Event()
        self._grace: float | None = None
        self.finished = threading.Event()
        self._lock = threading.Lock()
        self._publishing = threading.Lock()  # one status publication at a time, in order
        self._probers: dict[str, ContainerProber] = {}  # cid -> its running prober
        self._inits = [self._instance(c, init=True) for c in pod.spec.init_containers]
        self._apps = [self._instance(c) for c in pod.spec.containers]
        self.status.init_container_statuses = [i.status for i in self._inits]
        self.status.container_statuses = [i.status for i in self._apps]
        self._thread = threading.Thread(target=self._run, name=f"pod-{pod.name}", daemon=True)

    def _instance(self, c: Container, init: bool = False) -> _Instance:
        reason = "PodInitializing" if self.pod.spec.init_containers else "ContainerCreating"
        status = st.ContainerStatus(c.name, c.image, state=st.ContainerState(st.WAITING, reason))
        initial = self.node.backoff_initial
        return _Instance(c, status, init=init, backoff=initial, pull_backoff=initial)

    # ---- control ------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def stop(self, grace_seconds: float | None = None) -> None:
        """Ask the pod to terminate (delete): stop signal, grace period, then SIGKILL."""
        self._grace = grace_seconds
        self._stopping.set()
        self._events.put(None)

    def join(self, timeout: float | None = None) -> bool:
        return self.finished.wait(timeout)

    @property
    def phase(self) -> str:
        return self.status.phase

    # ---- the loop -------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._changed()
            adopted = self._adopt is not None and self._take_over(self._adopt)
            if not adopted and not self._make_sandbox():
                return
            for inst in self._inits:
                if _succeeded(inst.status):
                    continue
                if adopted and inst.status.done:
                    return  # a failed init container under Never: the pod is finished
                if not self._run_init(inst):
                    return
            for inst in self._apps:
                if inst.cid is None and not inst.status.done and inst.next_start is None:
                    if not adopted:
                        inst.status.state = st.ContainerState(st.WAITING, "ContainerCreating")
                    inst.next_start = time.monotonic()
            self._changed()
            self._app_loop()
        except Exception as e:  # a bug must not leave containers behind
            self.status.message = f"internal error: {e}"
            raise
        finally:
            self._terminate()
            self.finished.set()
            self._changed()

    def _make_sandbox(self) -> bool:
        self.router.route(pause_id(self.pod.metadata.uid), lambda event: None)
        try:
            self.sandbox = create_sandbox(self.pod, self.node, self.runtime, self.executor)
        except MinikubeError as e:
            self._sandbox_failed(e)
            return False
        self.status.pod_ip = self.sandbox.ip
        self.status.start_time = st.now()
        return True

    def _sandbox_failed(self, e: MinikubeError) -> None:
        """FailedCreatePodSandBox: the pod fails (and is torn down)."""
        self.status.phase = st.FAILED
        self.status.reason = "FailedCreatePodSandBox"
        self.status.message = str(e)
        self.events.record(WARNING, "FailedCreatePodSandBox", f"Failed to create pod sandbox: {e}")
        self._stopping.set()
        self._events.put(None)  # the loops wake up and end

    def _take_over(self, status: dict) -> bool:
        """Adopt the pod a previous agent ran: True if its sandbox lives on (or it is
        finished), False to start it afresh (its restart counts kept)."""
        by_name = {c["name"]: c for c in status.get("initContainerStatuses", [])}
        by_name.update({c["name"]: c for c in status.get("containerStatuses", [])})
        for inst in self._inits + self._apps:
            if inst.spec.name in by_name:
                inst.status.restore(by_name[inst.spec.name])
        if status.get("phase") in (st.SUCCEEDED, st.FAILED):
            for inst in self._inits + self._apps:
                inst.status.done = inst.status.state.kind != st.RUNNING
            self.status.pod_ip = status.get("podIP", "")
            self.status.start_time = status.get("startTime")
            return True
        infos = self.runtime.list()
        uid = self.pod.metadata.uid
        pause = infos.get(pause_id(uid))
        # the IP from the status, or (that write lost with the agent) from the IPAM
        pod_ip = status.get("podIP") or (pause is not None and allocated_ip(self.node, uid))
        if pause is None or pause.exit is not None or not pod_ip:
            # The sandbox is gone: clean up what is left, then start over, as kubelet does.
            recorded = {
                i.status.container_id.removeprefix(CONTAINER_ID_PREFIX)
                for i in self._inits + self._apps
            }
            for cid in infos:
                if cid in recorded or parse_container_id(uid, cid) is not None:
                    with contextlib.suppress(RuntimeErr, OSError):
                        self.runtime.delete(cid)
            for inst in self._inits + self._apps:
                if inst.status.state.kind == st.RUNNING:
                    inst.status.state = st.ContainerState(st.WAITING, "ContainerCreating")
            teardown_sandbox(self.pod, self.node, self.runtime)
            return False
        self.router.route(pause.id, lambda event: None)
        self.sandbox = Sandbox(
            uid, self.node.pod_dir(uid), pause.id, pause.pid, pod_ip, pod_hostname(self.pod)
        )
        self.status.pod_ip = pod_ip
        self.status.start_time = status.get("startTime") or st.rfc3339(pause.started or time.time())
        for inst in self._inits + self._apps:
            self._find_unrecorded_run(inst, infos)
        for inst in self._inits + self._apps:
            cs = inst.status
            if cs.state.kind == st.TERMINATED:
                succeeded_init = inst.init and _succeeded(cs)
                cs.done = not succeeded_init and not self._restarts(inst, cs.state.exit_code != 0)
                continue
            if cs.state.kind != st.RUNNING:
                continue  # waiting: started again by the loop
            cid = cs.container_id.removeprefix(CONTAINER_ID_PREFIX)
            info = infos.get(cid)
            if info is None:  # lost while we were away
                lost = st.ContainerState(
                    st.TERMINATED,
                    "ContainerStatusUnknown",
                    "The container could not be located when the pod was adopted",
                    cs.state.started_at,
                    st.now(),
                    137,
                    None,
                    cs.container_id,
                )
                self._terminated(inst, lost, ran_for=0.0)
                continue
            inst.cid = cid
            inst.started = time.monotonic() - max(0.0, time.time() - (info.started or 0))
            self._route(inst, cid)
            if info.exit is None:  # probes go on where the previous agent left them
                self._start_prober(inst, cid, started=cs.started)
            if info.exit is not None:  # exited while no agent was listening
                self._events.put((inst, info.exit))
        return True

    def _find_unrecorded_run(self, inst: _Instance, infos: dict) -> None:
        """The runtime knows best: a run of this container newer than the status the previous
        agent persisted (it was killed before writing it) becomes the current one; older
        runs left behind are deleted."""
        runs = []
        for cid in infos:
            parsed = parse_container_id(self.pod.metadata.uid, cid)
            if parsed is not None and parsed[0] == inst.spec.name:
                runs.append((parsed[1], infos[cid].started or 0.0, cid))
        if not runs:
            return
        restart, _, newest = max(runs)
        cs = inst.status
        recorded = cs.container_id.removeprefix(CONTAINER_ID_PREFIX)
        for _, _, cid in runs:
            if cid not in (newest, recorded):
                with contextlib.suppress(RuntimeErr, OSError):
                    self.runtime.delete(cid)
        if (
            newest == recorded
            or restart < cs.restart_count
            or (restart == cs.restart_count and cs.state.kind == st.TERMINATED)
        ):
            return
        if recorded in infos:
            with contextlib.suppress(RuntimeErr, OSError):
                self.runtime.delete(recorded)
        info = infos[newest]
        cs.restart_count = restart
        cs.container_id = CONTAINER_ID_PREFIX + newest
        cs.state = st.ContainerState(st.RUNNING, started_at=st.rfc3339(info.started or time.time()))
        _run_begins(inst)

    def _restarts(self, inst: _Instance, failed: bool) -> bool:
        """restartPolicy: will this container run again after exiting (failed or not)?"""
        policy = self.pod.spec.restart_policy
        return (policy == "Always" and not inst.init) or (
            policy in ("Always", "OnFailure") and failed
        )

    def _run_init(self, inst: _Instance) -> bool:
        """Run one init container to success; False if the pod is finished or stopping."""
        if inst.cid is None:
            inst.next_start = time.monotonic()
        while not self._stopping.is_set():
            self._start_due([inst])
            if inst.status.done:
                return False  # failed under restartPolicy Never
            if inst.status.state.kind == st.TERMINATED and inst.status.state.exit_code == 0:
                return True
            self._wait_event([inst])
        return False

    def _app_loop(self) -> None:
        while not self._stopping.is_set():
            self._start_due(self._apps)
            if all(i.status.done for i in self._apps):
                return
            self._wait_event(self._apps)

    def _wait_event(self, instances: list[_Instance]) -> None:
        due = [i.next_start for i in instances if i.next_start is not None]
        timeout = max(0.0, min(due) - time.monotonic()) if due else None
        try:
            event = self._events.get(timeout=timeout)
        except queue.Empty:
            return
        if event is not None:
            self._on_exit(*event)

    def _route(self, inst: _Instance, cid: str) -> None:
        self.router.route(cid, lambda event: self._events.put((inst, event)))

    # ---- starting ---------------------------------------------------------------

    def _start_due(self, instances: list[_Instance]) -> None:
        """Start the containers whose time has come.  Their images are made sure of one by
        one (kubelet's serialized pulls); with an executor they are then created at once
        (each create waits ~10-20 ms for its init to set up), and started at once when the
        pod's network is up."""
        now = time.monotonic()
        due = [i for i in instances if i.next_start is not None and i.next_start <= now]
        if not due or self._stopping.is_set():
            return
        for inst in due:
            inst.next_start = None
        ready = [(inst, job) for inst in due if (job := self._prepare(inst)) is not None]
        if len(ready) > 1 and self.executor is not None:
            later = [self.executor.submit(self._create, inst, job) for inst, job in ready[1:]]
            created = [self._create(*ready[0]), *(f.result() for f in later)]
        else:
            created = [self._create(inst, job) for inst, job in ready]
        made = [(inst, job) for (inst, job), ok in zip(ready, created, strict=True) if ok]
        if len(made) > 1 and self.executor is not None:  # started at once, too
            later = [self.executor.submit(self._begin, inst, job) for inst, job in made[1:]]
            began = [self._begin(*made[0]), *(f.result() for f in later)]
        else:
            began = [self._begin(inst, job) for inst, job in made]
        if any(began):
            self._changed()

    def _prepare(self, inst: _Instance) -> _Job | None:
        """The image and the runtime spec of the container's next run; None if that failed
        (reported, retried later)."""
        assert self.sandbox is not None
        c, cs = inst.spec, inst.status
        pull_started = time.monotonic()

        def pulling() -> None:
            self.events.record(NORMAL, "Pulling", f'Pulling image "{c.image}"', c.name)

        try:
            image, pulled = self.images.ensure(c.image, c.image_pull_policy, pulling)
        except ImagePullError as e:
            self._pull_failed(inst, e)
            return None
        inst.pull_backoff = self.node.backoff_initial
        if pulled:
            took = time.monotonic() - pull_started
            message = f'Successfully pulled image "{c.image}" in {took:.3f}s'
        else:
            message = f'Container image "{c.image}" already present on machine'
        self.events.record(NORMAL, "Pulled", message, c.name)
        cs.image_id = f"{Reference.parse(image.ref).name}@{image.manifest_digest}"
        if image.config.stop_signal:
            inst.stop_signal = _signal_number(image.config.stop_signal)
        cid = container_id(self.pod.metadata.uid, c.name, cs.restart_count)
        cdir = os.path.join(self.sandbox.pod_dir, "containers", c.name, str(cs.restart_count))
        log_path = os.path.join(
            self.node.pod_log_dir(self.pod.namespace, self.pod.name, self.pod.metadata.uid),
            c.name,
            f"{cs.restart_count}.log",
        )
        try:
            spec = container_spec(self.pod, c, image, self.sandbox, self.node, cid, cdir)
        except MinikubeError as e:
            cs.state = st.ContainerState(st.WAITING, "CreateContainerConfigError", str(e))
            self.events.record(WARNING, "Failed", f"Error: {e}", c.name)
            self._retry_later(inst)
            return None
        return _Job(cid, spec, log_path)

    def _create(self, inst: _Instance, job: _Job) -> bool:
        """Create the container (set up, waiting for start); False if that failed (reported,
        and retried or terminated per restartPolicy).  May run on an executor's thread."""
        c, cs = inst.spec, inst.status
        self._route(inst, job.cid)
        try:
            self.runtime.create(job.cid, job.spec, job.log_path)
        except StartError as e:
            self.router.unroute(job.cid)
            self._start_failed(inst, job.cid, str(e))
            return False
        except (RuntimeErr, OSError) as e:
            self.router.unroute(job.cid)
            cs.state = st.ContainerState(st.WAITING, "CreateContainerError", str(e))
            self.events.record(WARNING, "Failed", f"Error: {e}", c.name)
            self._retry_later(inst)
            return False
        self.events.record(NORMAL, "Created", f"Created container {c.name}", c.name)
        return True

    def _begin(self, inst: _Instance, job: _Job) -> bool:
        """Start a created container once the pod's network is up; True if it runs."""
        assert self.sandbox is not None
        c, cs = inst.spec, inst.status
        try:
            if self._stopping.is_set():
                raise _Abandoned
            self.sandbox.wait_network()
            self.runtime.start(job.cid)
        except StartError as e:
            self.router.unroute(job.cid)
            self._start_failed(inst, job.cid, str(e))
            return False
        except (_Abandoned, MinikubeError) as e:
            self.router.unroute(job.cid)
            with contextlib.suppress(RuntimeErr, OSError):
                self.runtime.delete(job.cid)
            if isinstance(e, MinikubeError):  # no network: the sandbox failed
                self._sandbox_failed(e)
            return False
        self.events.record(NORMAL, "Started", f"Started container {c.name}", c.name)
        inst.cid = job.cid
        inst.started = time.monotonic()
        cs.container_id = CONTAINER_ID_PREFIX + job.cid
        started_at = st.now()
        hook = c.lifecycle.post_start if c.lifecycle is not None else None
        if hook is not None and not self._post_start(inst, job.cid, hook):
            return False  # killed: its exit comes as any other
        cs.state = st.ContainerState(st.RUNNING, started_at=started_at)
        _run_begins(inst)
        self._start_prober(inst, job.cid, started=cs.started)
        return True

    # ---- lifecycle hooks ----------------------------------------------------------------

    def _post_start(self, inst: _Instance, cid: str, hook: LifecycleHandler) -> bool:
        """Run postStart before the container counts as running (kubelet's order); a
        failure kills the container (FailedPostStartHook).  True if it succeeded."""
        assert self.sandbox is not None
        state_dir = container_state_dir(self.node.run_dir, cid)
        c = inst.spec
        result = run_handler(hook, c, self.sandbox.ip, state_dir, math.inf, self._stopping)
        if result.ok:
            return True
        message = f"PostStartHook failed: {result.output}".rstrip(": ")
        self.events.record(WARNING, "FailedPostStartHook", message, c.name)
        with contextlib.suppress(RuntimeErr, OSError):
            self.runtime.kill(cid, signal.SIGKILL, all_processes=True)
        return False

    def _pre_stop(self, inst: _Instance, cid: str, timeout: float) -> None:
        """Run preStop before the stop signal, within the grace period (FailedPreStopHook)."""
        hook = inst.spec.lifecycle.pre_stop if inst.spec.lifecycle is not None else None
        if hook is None or self.sandbox is None:
            return
        state_dir = container_state_dir(self.node.run_dir, cid)
        result = run_handler(hook, inst.spec, self.sandbox.ip, state_dir, timeout)
        if not result.ok:
            message = f"PreStopHook failed: {result.output}".rstrip(": ")
            self.events.record(WARNING, "FailedPreStopHook", message, inst.spec.name)

    def _pre_stop_all(self, instances: list[_Instance], timeout: float) -> float:
        """preStop hooks of the running containers, at once; the time they took."""
        began = time.monotonic()
        threads = [
            threading.Thread(target=self._pre_stop, args=(i, i.cid, timeout), daemon=True)
            for i in instances
            if i.cid is not None and i.spec.lifecycle is not None and i.spec.lifecycle.pre_stop
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(max(0.0, began + timeout - time.monotonic()))
        return time.monotonic() - began

    # ---- probes -------------------------------------------------------------------------

    def _start_prober(self, inst: _Instance, cid: str, *, started: bool) -> None:
        c = inst.spec
        if inst.init or not (c.liveness_probe or c.readiness_probe or c.startup_probe):
            return
        assert self.sandbox is not None
        prober = ContainerProber(
            c,
            self.sandbox.ip,
            container_state_dir(self.node.run_dir, cid),
            on_ready=lambda ok: self._probe_ready(inst, cid, ok),
            on_started=lambda: self._probe_started(inst, cid),
            on_unhealthy=lambda kind, output: self.events.record(
                WARNING, "Unhealthy", f"{kind} probe failed: {output}", c.name
            ),
            on_kill=lambda kind, grace: self._probe_kill(inst, cid, kind, grace),
            started=started,
        )
        with self._lock:
            self._probers[cid] = prober
        prober.start()

    def _stop_prober(self, cid: str) -> None:
        with self._lock:
            prober = self._probers.pop(cid, None)
        if prober is not None:
            prober.stop()

    def _probe_ready(self, inst: _Instance, cid: str, ok: bool) -> None:
        if inst.cid == cid:
            inst.status.ready = ok and inst.status.started
            self._changed()

    def _probe_started(self, inst: _Instance, cid: str) -> None:
        if inst.cid == cid:
            inst.status.started = True
            inst.status.ready = inst.spec.readiness_probe is None
            self._changed()

    def _probe_kill(self, inst: _Instance, cid: str, kind: str, grace: int | None) -> None:
        """A failed liveness or startup probe: stop signal, the grace period, SIGKILL; the
        exit then goes the usual way (restartPolicy, backoff)."""
        if inst.cid != cid or self._stopping.is_set():
            return
        name = inst.spec.name
        message = f"Container {name} failed {kind.lower()} probe, will be restarted"
        self.events.record(NORMAL, "Killing", message, name)
        if grace is None:
            grace = self.pod.spec.termination_grace_period_seconds or 0
        grace = max(float(grace) - self._pre_stop_all([inst], float(grace)), MIN_GRACE_AFTER_HOOK)
        with contextlib.suppress(RuntimeErr, OSError):
            self.runtime.kill(cid, inst.stop_signal)
        with self._lock:
            prober = self._probers.get(cid)
        exited = prober is not None and prober.stopped.wait(grace)  # set when the exit comes
        if not exited and inst.cid == cid:
            with contextlib.suppress(RuntimeErr, OSError):
                self.runtime.kill(cid, signal.SIGKILL, all_processes=True)

    def _start_failed(self, inst: _Instance, cid: str, message: str) -> None:
        """exec failed: Terminated/StartError, exit code 128, then restartPolicy decides."""
        started = st.now()
        self.events.record(WARNING, "Failed", f"Error: {message}", inst.spec.name)
        state = st.ContainerState(
            st.TERMINATED,
            "StartError",
            message,
            started,
            st.now(),
            128,
            None,
            CONTAINER_ID_PREFIX + cid,
        )
        self._terminated(inst, state, ran_for=0.0)

    def _pull_failed(self, inst: _Instance, e: ImagePullError) -> None:
        """ErrImagePull, then ImagePullBackOff while the retry waits (10 s doubling)."""
        c, cs = inst.spec, inst.status
        if e.reason == "ErrImagePull":
            self.events.record(WARNING, "Failed", f'Failed to pull image "{c.image}": {e}', c.name)
        self.events.record(WARNING, "Failed", f"Error: {e.reason}", c.name)
        cs.state = st.ContainerState(st.WAITING, e.reason, str(e))
        self._changed()
        if e.reason != "ErrImagePull":
            self._retry_later(inst)  # InvalidImageName, ErrImageNeverPull: as kubelet, retried
            return
        delay = inst.pull_backoff
        inst.pull_backoff = min(delay * 2, self.node.backoff_max)
        inst.next_start = time.monotonic() + delay
        cs.state = st.ContainerState(
            st.WAITING, "ImagePullBackOff", f'Back-off pulling image "{c.image}"'
        )
        self.events.record(NORMAL, "BackOff", f'Back-off pulling image "{c.image}"', c.name)
        self._changed()

    def _retry_later(self, inst: _Instance) -> None:
        inst.next_start = time.monotonic() + inst.backoff
        inst.backoff = min(inst.backoff * 2, self.node.backoff_max)
        self._changed()

    # ---- exits --------------------------------------------------------------------

    def _on_exit(self, inst: _Instance, event: ExitEvent) -> None:
        self._stop_prober(event.id)
        if inst.cid != event.id:
            return  # an old instance's late news
        inst.cid = None
        self.router.unroute(event.id)
        with contextlib.suppress(RuntimeErr, OSError):
            self.runtime.delete(event.id)
        state = st.ContainerState(
            st.TERMINATED,
            event.reason,
            "",
            inst.status.state.started_at,
            st.now(),
            event.exit_code,
            event.signal,
            inst.status.container_id,
        )
        self._terminated(inst, state, ran_for=time.monotonic() - inst.started)

    def _terminated(self, inst: _Instance, state: st.ContainerState, ran_for: float) -> None:
        cs = inst.status
        cs.ready = cs.started = False
        failed = state.exit_code != 0
        restart = not self._stopping.is_set() and self._restarts(inst, failed)
        if not restart:
            cs.state = state
            cs.done = failed or not inst.init
            self._changed()
            return
        if ran_for >= self.node.backoff_reset:
            inst.backoff = self.node.backoff_initial
        delay = inst.backoff
        inst.backoff = min(inst.backoff * 2, self.node.backoff_max)
        cs.last_state = state
        cs.restart_count += 1
        # exec failed: RunContainerError (the StartError is in lastState), else crash loop
        reason = "RunContainerError" if state.reason == "StartError" else "CrashLoopBackOff"
        message = (
            state.message
            if reason == "RunContainerError"
            else f"back-off {_seconds(delay)} restarting failed container={cs.name} "
            f"pod={self.pod.name}_{self.pod.namespace}({self.pod.metadata.uid})"
        )
        cs.state = st.ContainerState(st.WAITING, reason, message)
        self.events.record(
            WARNING,
            "BackOff",
            f"Back-off restarting failed container {cs.name} in pod "
            f"{self.pod.name}_{self.pod.namespace}({self.pod.metadata.uid})",
            cs.name,
        )
        inst.next_start = time.monotonic() + delay
        self._changed()

    # ---- termination ------------------------------------------------------------

    def _terminate(self) -> None:
        """Kill what runs (stop signal, grace period, SIGKILL); then the sandbox."""
        with self._lock:
            probers, self._probers = list(self._probers.values()), {}
        for prober in probers:
            prober.stop()
        everyone = self._inits + self._apps
        grace = self._grace
        if grace is None:
            grace = float(self.pod.spec.termination_grace_period_seconds or 0)
        if grace > 0:  # a forced delete (grace 0) skips the hooks, as kubelet does
            took = self._pre_stop_all(everyone, grace)
            if took > 0.01:
                grace = max(grace - took, MIN_GRACE_AFTER_HOOK)
        for inst in everyone:
            if inst.cid is None:
                continue
            self.events.record(
                NORMAL, "Killing", f"Stopping container {inst.spec.name}", inst.spec.name
            )
            with contextlib.suppress(RuntimeErr, OSError):
                self.runtime.kill(inst.cid, inst.stop_signal)
        self._await_exits(everyone, time.monotonic() + grace)
        for inst in everyone:
            if inst.cid is not None:
                with contextlib.suppress(RuntimeErr, OSError):
                    self.runtime.kill(inst.cid, signal.SIGKILL, all_processes=True)
        self._await_exits(everyone, time.monotonic() + 10)
        for inst in everyone:
            if inst.cid is not None:  # no exit reported: force it away
                with contextlib.suppress(RuntimeErr, OSError):
                    self.runtime.delete(inst.cid)
                self.router.unroute(inst.cid)
                inst.cid = None
        if self.sandbox is not None:  # the network may still be being wired: not under it
            with contextlib.suppress(Exception):
                self.sandbox.wait_network()
        teardown_sandbox(self.pod, self.node, self.runtime)
        self.router.unroute(pause_id(self.pod.metadata.uid))
        self.sandbox = None

    def _await_exits(self, instances: list[_Instance], deadline: float) -> None:
        while any(i.cid is not None for i in instances):
            left = deadline - time.monotonic()
            if left <= 0:
                return
            try:
                event = self._events.get(timeout=left)
            except queue.Empty:
                return
            if event is not None:
                self._on_exit(*event)

    def _changed(self) -> None:
        # Serialised (containers may be created on an executor's threads): each publication
        # sees the status at its turn, so the last one published is the newest.
        with self._publishing:
            with self._lock:
                if self.status.reason != "FailedCreatePodSandBox":
                    self.status.phase = st.compute_phase(self.pod.spec.restart_policy, self.status)
                st.update_conditions(
                    self.status, scheduled_at=self.pod.metadata.creation_timestamp or st.now()
                )
            self.on_change(self)

    def pod_object(self) -> dict:
        """The pod as Kubernetes serves it: metadata, spec and this status."""
        with self._lock:
            obj = self.pod.to_dict()
            obj["status"] = self.status.to_dict()
        return obj


def _run_begins(inst: _Instance) -> None:
    """A run is running: a startup probe holds `started`, a readiness probe `ready`, until
    they succeed (an init container is never ready)."""
    c, cs = inst.spec, inst.status
    cs.started = c.startup_probe is None
    cs.ready = not inst.init and cs.started and c.readiness_probe is None


def _succeeded(cs: st.ContainerStatus) -> bool:
    return cs.state.kind == st.TERMINATED and cs.state.exit_code == 0


def _signal_number(name: str) -> int:
    name = name.upper()
    if name.isdigit():
        return int(name)
    if not name.startswith("SIG"):
        name = "SIG" + name
    return int(getattr(signal, name, signal.SIGTERM))


def _seconds(delay: float) -> str:
    return f"{delay:g}s" if delay < 60 else f"{int(delay // 60)}m{int(delay % 60)}s"

"""Container probes, as kubelet's prober runs them: startup, liveness, readiness; and the
lifecycle hooks postStart and preStop, which run the same handlers (`run_handler`).

One `ContainerProber` thread per running container that has probes.  Each probe waits
`initialDelaySeconds`, then runs every `periodSeconds` with `timeoutSeconds`:

- exec: the command inside the container (all its namespaces, its user; runtime.exec),
  success is exit code 0;
- httpGet: GET scheme://host:port/path (host: the pod IP), success is a status 200-399
  (HTTPS certificates are not checked, as kubelet does not);
- tcpSocket: a TCP connection to host:port opens.

`failureThreshold` failures in a row make a result Failure, `successThreshold` successes
Success.  Until the startup probe has succeeded the others do not run; when it or the
liveness probe fails, the container is killed (its stop signal, then SIGKILL after the
probe's or the pod's grace period) and restartPolicy decides the rest.  Readiness sets the
container's `ready` (and so the pod's Ready condition).  Failures are Warning events
`Unhealthy` with the probe's output, as `kubectl describe` shows them.
"""

from __future__ import annotations

import contextlib
import heapq
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from minikube_py.api.objects import Container, HTTPGetAction, LifecycleHandler, Probe

LIVENESS, READINESS, STARTUP = "Liveness", "Readiness", "Startup"
_OUTPUT_MAX = 10 * 1024  # of an exec probe's output kept for the event (kubelet: 10 KiB)


@dataclass
class Result:
    ok: bool
    output: str = ""


def run_probe(probe: Probe, container: Container, pod_ip: str, state_dir: str) -> Result:
    """One try of `probe` against the container (its runtime state in `state_dir`)."""
    timeout = float(probe.timeout_seconds or 1)
    if probe.exec_command is not None:
        return _exec(probe.exec_command, state_dir, timeout)
    action = probe.http_get or probe.tcp_socket
    if action is None:
        return Result(False, "no handler")
    port = _port(action.port, container)
    host = action.host or pod_ip
    if probe.http_get is not None:
        return _http(probe, host, port, timeout)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return Result(True)
    except OSError as e:
        return Result(False, f"dial tcp {host}:{port}: {e.strerror or e}")


def run_handler(
    handler: LifecycleHandler,
    container: Container,
    pod_ip: str,
    state_dir: str,
    timeout: float,
    cancel: threading.Event | None = None,
) -> Result:
    """A postStart or preStop hook: exec, httpGet or sleep, for at most `timeout` s (and no
    longer than `cancel` stays clear)."""
    if handler.exec_command is not None:
        return _exec(handler.exec_command, state_dir, timeout, cancel)
    if "sleep" in handler.extra:
        seconds = float((handler.extra["sleep"] or {}).get("seconds") or 0)
        (cancel or threading.Event()).wait(min(seconds, timeout))
        return Result(True)
    if "httpGet" in handler.extra:
        d = handler.extra["httpGet"] or {}
        headers = d.get("httpHeaders") or []
        action = HTTPGetAction(
            port=d.get("port") or 0,
            path=d.get("path") or "/",
            host=d.get("host") or "",
            scheme=d.get("scheme") or "HTTP",
            http_headers=[(h.get("name", ""), h.get("value", "")) for h in headers],
        )
        port = _port(action.port, container)
        return _http_get(action, action.host or pod_ip, port, min(timeout, 10.0))
    return Result(False, f"{', '.join(handler.extra) or 'no'} handler: not supported")


def _port(port: int | str, container: Container) -> int:
    if isinstance(port, int):
        return port
    for p in container.ports:
        if p.name == port:
            return p.container_port
    return 0  # validation refuses this


def _exec(
    command: list[str], state_dir: str, timeout: float, cancel: threading.Event | None = None
) -> Result:
    from runtime.errors import RuntimeErr
    from runtime.exec import exec_process

    r, w = os.pipe2(os.O_CLOEXEC)
    try:
        try:
            p = exec_process(state_dir, command, stdout=w, stderr=w)
        except (RuntimeErr, OSError) as e:
            return Result(False, str(e))
        finally:
            os.close(w)
        with p:
            output = bytearray()
            deadline = time.monotonic() + timeout
            os.set_blocking(r, False)
            code = None
            while code is None:
                code = p.wait(0.05)
                with contextlib.suppress(BlockingIOError):
                    while len(output) < _OUTPUT_MAX and (chunk := os.read(r, 4096)):
                        output += chunk
                if code is None and (
                    time.monotonic() > deadline or (cancel is not None and cancel.is_set())
                ):
                    p.kill()
                    p.wait(5)
                    return Result(False, f"command {command!r} timed out")
        text = output[:_OUTPUT_MAX].decode(errors="replace").strip()
        return Result(code == 0, text)
    finally:
        os.close(r)


def _http(probe: Probe, host: str, port: int, timeout: float) -> Result:
    assert probe.http_get is not None
    return _http_get(probe.http_get, host, port, timeout)


def _http_get(action: HTTPGetAction, host: str, port: int, timeout: float) -> Result:
    import http.client
    import ssl

    url = f"{action.scheme.lower()}://{host}:{port}{action.path}"
    if action.scheme == "HTTPS":
        context = ssl._create_unverified_context()
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(
            host, port, timeout=timeout, context=context
        )
    else:
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
    headers = {"User-Agent": "kube-probe/1.29", "Accept": "*/*"}
    headers.update(dict(action.http_headers))
    try:
        conn.request("GET", action.path or "/", headers=headers)
        response = conn.getresponse()
        response.read(_OUTPUT_MAX)  # drained: the connection ends cleanly
    except (OSError, http.client.HTTPException) as e:
        return Result(False, f'Get "{url}": {getattr(e, "strerror", None) or e}')
    finally:
        conn.close()
    if 200 <= response.status < 400:
        return Result(True)
    return Result(False, f"HTTP probe failed with statuscode: {response.status}")


class ContainerProber:
    """Runs a container's probes until `stop()`; reports through the callbacks:
    `on_ready(bool)`, `on_started()`, `on_unhealthy(kind, output)` (one failed try),
    `on_kill(kind, grace)` (the container is to be killed)."""

    def __init__(
        self,
        container: Container,
        pod_ip: str,
        state_dir: str,
        *,
        on_ready: Callable[[bool], None],
        on_started: Callable[[], None],
        on_unhealthy: Callable[[str, str], None],
        on_kill: Callable[[str, int | None], None],
        started: bool = False,
    ) -> None:
        self.container = container
        self.pod_ip = pod_ip
        self.state_dir = state_dir
        self.on_ready, self.on_started = on_ready, on_started
        self.on_unhealthy, self.on_kill = on_unhealthy, on_kill
        self.stopped = threading.Event()
        self._stop = self.stopped
        self._started = started or container.startup_probe is None
        self._thread = threading.Thread(
            target=self._run, name=f"probe-{container.name}", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        c = self.container
        probes = {
            STARTUP: c.startup_probe,
            LIVENESS: c.liveness_probe,
            READINESS: c.readiness_probe,
        }
        now = time.monotonic()
        due = [
            (now + float(p.initial_delay_seconds or 0), kind)
            for kind, p in probes.items()
            if p is not None and (kind == STARTUP) != self._started
        ]
        heapq.heapify(due)
        successes = dict.fromkeys(probes, 0)
        failures = dict.fromkeys(probes, 0)
        ready: bool | None = None
        while due and not self._stop.is_set():
            at, kind = heapq.heappop(due)
            if self._stop.wait(max(0.0, at - time.monotonic())):
                return
            probe = probes[kind]
            assert probe is not None
            result = run_probe(probe, c, self.pod_ip, self.state_dir)
            if self._stop.is_set():
                return
            period = float(probe.period_seconds or 10)
            if result.ok:
                successes[kind] += 1
                failures[kind] = 0
            else:
                failures[kind] += 1
                successes[kind] = 0
                self.on_unhealthy(kind, result.output)
            if kind == READINESS:
                if successes[kind] >= (probe.success_threshold or 1) and ready is not True:
                    ready = True
                    self.on_ready(True)
                elif failures[kind] >= (probe.failure_threshold or 3) and ready is not False:
                    ready = False
                    self.on_ready(False)
            elif not result.ok and failures[kind] >= (probe.failure_threshold or 3):
                self.on_kill(kind, probe.termination_grace_period_seconds)
                return
            elif kind == STARTUP and result.ok:
                self._started = True
                self.on_started()
                now = time.monotonic()
                for other in (LIVENESS, READINESS):
                    p = probes[other]
                    if p is not None:
                        heapq.heappush(due, (now + float(p.initial_delay_seconds or 0), other))
                continue
            heapq.heappush(due, (time.monotonic() + period, kind))

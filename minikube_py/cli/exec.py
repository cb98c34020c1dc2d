"""`minikube-py exec POD [-c C] [-i] [-t] -- CMD...`: kubectl exec, on this node.

The pod and its container's ID come from the agent's API; the process is
then started right here by the runtime (runtime.exec) in every namespace and
cgroup of that container, as its user with its capabilities.  Being on the
node, nothing streams over the API: the process gets our stdin/stdout/stderr
fds directly, or with -t a pty of the container's own whose master we copy
to and from the local terminal (minikube_py.cli.terminal).  Flags, default
container, messages and exit codes follow kubectl.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

import click

DEFAULT_CONTAINER_ANNOTATION = "kubectl.kubernetes.io/default-container"
CONTAINER_ID_PREFIX = "minikube-py://"


@click.command("exec")
@click.argument("pod")
@click.argument("command", nargs=-1, required=True)
@click.option("-c", "--container", default=None, help="Container name (default: kubectl's).")
@click.option("-i", "--stdin", "stdin", is_flag=True, help="Pass stdin to the container.")
@click.option("-t", "--tty", "tty", is_flag=True, help="Stdin is a TTY (with -i).")
@click.option("-n", "--namespace", default="default", show_default=True)
@click.option("-q", "--quiet", is_flag=True, help="Only print output from the remote session.")
@click.pass_context
def exec_(
    ctx: click.Context,
    pod: str,
    command: tuple[str, ...],
    container: str | None,
    stdin: bool,
    tty: bool,
    namespace: str,
    quiet: bool,
) -> None:
    """Run COMMAND in a container of POD: exec POD [-c C] [-i] [-t] -- COMMAND [ARGS...]."""
    from minikube_py.apiserver.client import Client
    from minikube_py.errors import MinikubeError

    if os.geteuid() != 0:
        raise MinikubeError(
            "exec needs root: it enters the container's namespaces and cgroups "
            "(run as root: sudo minikube-py exec ...)"
        )
    kind, _, name = pod.rpartition("/")
    if kind not in ("", "pod", "pods", "po"):
        raise MinikubeError(f"exec: {pod}: only pods can be exec'd into (pod/NAME or NAME)")
    from runtime import forker

    forker.default_forker()  # boots (~70 ms) while we ask the agent for the pod
    g = ctx.obj
    with Client(os.path.join(g.run_dir, "api.sock")) as client:
        obj = client.get("pods", namespace, name)
    warn: Callable[[str], None] = (lambda _m: None) if quiet else _warn
    container = pick_container(obj, container, warn)
    cid = running_container_id(obj, container)
    if tty and stdin and not os.isatty(0):
        warn("Unable to use a TTY - input is not a terminal or the right kind of file")
    from minikube_py.kubelet.runtime_service import container_state_dir

    code = run_in_container(
        container_state_dir(g.run_dir, cid),
        container,
        list(command),
        stdin=stdin,
        tty=tty and stdin and os.isatty(0),
    )
    if code:  # kubectl says so even with -q
        _warn(f"command terminated with exit code {code}")
    sys.exit(code)  # (ctx.exit's code is lost under main's standalone_mode=False)


def _warn(message: str) -> None:
    click.echo(message, err=True)


def pick_container(pod: dict[str, Any], name: str | None, warn: Callable[[str], None]) -> str:
    """The container to exec into: -c, else the default-container annotation, else the first."""
    spec = pod.get("spec") or {}
    containers = [c["name"] for c in spec.get("containers") or []]
    ephemeral = [c["name"] for c in spec.get("ephemeralContainers") or []]
    inits = [c["name"] for c in spec.get("initContainers") or []]
    pod_name = (pod.get("metadata") or {}).get("name", "")
    _check_phase(pod)
    if name:
        if name not in (*containers, *ephemeral, *inits):
            raise _error(f"container {name} is not valid for pod {pod_name}")
        return name
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    wanted = annotations.get(DEFAULT_CONTAINER_ANNOTATION)
    if wanted in (*containers, *ephemeral, *inits):
        return wanted  # (one that names no container is ignored, silently, as kubectl does)
    if not containers:
        raise _error(f"pod {pod_name} does not have any containers")
    if len(containers) > 1 or inits or ephemeral:
        names = [*containers, *(f"{n} (ephem)" for n in ephemeral), *(f"{n} (init)" for n in inits)]
        warn(f'Defaulted container "{containers[0]}" out of: {", ".join(names)}')
    return containers[0]


def running_container_id(pod: dict[str, Any], name: str) -> str:
    """The runtime ID of container `name` if it runs (kubelet's "container not found" else)."""
    status = pod.get("status") or {}
    for cs in [
        *(status.get("containerStatuses") or []),
        *(status.get("initContainerStatuses") or []),
    ]:
        if cs.get("name") != name:
            continue
        cid = cs.get("containerID") or ""
        if "running" in (cs.get("state") or {}) and cid.startswith(CONTAINER_ID_PREFIX):
            return cid[len(CONTAINER_ID_PREFIX) :]
    raise _not_found(name)


def run_in_container(
    state_dir: str, name: str, command: list[str], *, stdin: bool, tty: bool
) -> int:
    """exec `command` in the container whose runtime state is `state_dir`; its exit code."""
    from minikube_py.cli import terminal
    from runtime import forker
    from runtime.errors import ContainerNotFound, ContainerStateError
    from runtime.exec import exec_process

    forker.default_forker()  # (already running when called from exec_)
    signals = terminal.SignalForwarder()
    try:
        try:
            if tty:
                size = terminal.window_size(0)
                p = exec_process(state_dir, command, tty=True, tty_size=size)
            else:
                p = exec_process(state_dir, command, stdin=0 if stdin else None, stdout=1, stderr=2)
        except (ContainerNotFound, ContainerStateError):
            raise _not_found(name) from None
        with p:  # an error on our side kills the process: nothing is left running
            signals.attach(p)
            if tty:
                return terminal.attach(p)
            code = p.wait()
            assert code is not None
            return code
    finally:
        signals.restore()


def _check_phase(pod: dict[str, Any]) -> None:
    phase = (pod.get("status") or {}).get("phase")
    if phase in ("Succeeded", "Failed"):
        raise _error(f"cannot exec into a container in a completed pod; current phase is {phase}")


def _not_found(name: str) -> Exception:
    return _error(f'unable to upgrade connection: container not found ("{name}")')


def _error(message: str) -> Exception:
    from minikube_py.errors import MinikubeError

    return MinikubeError(message)

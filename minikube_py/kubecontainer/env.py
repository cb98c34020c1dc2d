"""A container's process as Kubernetes builds it: argv, environment, cwd and user.

Two parties do this in a real node, and this module does both parts:

- kubelet (``makeEnvironmentVariables``, ``ExpandContainerCommandAndArgs``): the
  container's ``env`` in declaration order, each ``value`` ``$(VAR)``-expanded against the
  variables declared before it, ``valueFrom.fieldRef`` resolved from the pod; then
  ``command`` and ``args`` expanded against the whole container env.  The image's Env is
  never visible to ``$(VAR)``.
- the runtime (containerd's CRI plugin): ``command`` replaces the image's Entrypoint and
  drops its Cmd, ``args`` replaces Cmd; the environment is PATH (a default if the image has
  none), HOSTNAME, the image Env, then the container env, a later name replacing an earlier
  one in place; ``workingDir`` wins over the image's WorkingDir.

The user is returned as a string (``uid[:gid]`` or ``name[:group]``) because names can only
be resolved against the container's own /etc/passwd: see ``user.resolve_user``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from minikube_py.api.objects import Container, Pod
from minikube_py.api.validation import split_subscripted_field_path
from minikube_py.errors import CreateContainerConfigError
from minikube_py.kubecontainer.expansion import expand, mapping_for
from minikube_py.kubecontainer.user import resolve_user

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

__all__ = [
    "DEFAULT_PATH",
    "ContainerProcess",
    "ImageConfig",
    "build_process",
    "effective_user",
    "expand_command_and_args",
    "field_ref_value",
    "make_environment_variables",
    "merge_env",
    "resolve_user",
]


@dataclass(frozen=True)
class ImageConfig:
    """The parts of an OCI image config a container's process comes from."""

    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    env: tuple[str, ...] = ()
    working_dir: str = ""
    user: str = ""

    @classmethod
    def from_any(cls, source: Any) -> ImageConfig:
        """From an ImageConfig, an object with entrypoint/cmd/env/working_dir/user attributes,
        an OCI config JSON (``{"config": {"Entrypoint": ...}}`` or its inner object), or a
        dict with the snake_case names.  None means an empty config."""
        if source is None:
            return cls()
        if isinstance(source, cls):
            return source
        if isinstance(source, Mapping):
            data = source.get("config", source) if "config" in source else source
            data = data or {}

            def get(*names: str) -> Any:
                return next((data[n] for n in names if data.get(n) is not None), None)

        else:

            def get(*names: str) -> Any:
                return next(
                    (getattr(source, n) for n in names if getattr(source, n, None) is not None),
                    None,
                )

        return cls(
            entrypoint=tuple(get("entrypoint", "Entrypoint") or ()),
            cmd=tuple(get("cmd", "Cmd") or ()),
            env=tuple(get("env", "Env") or ()),
            working_dir=get("working_dir", "workingDir", "WorkingDir") or "",
            user=get("user", "User") or "",
        )


@dataclass(frozen=True)
class ContainerProcess:
    """What the runtime needs to exec a container's first process."""

    args: list[str]
    env: list[str]
    cwd: str
    user: str  # "uid[:gid]" or "name[:group]": resolve with resolve_user(rootfs, user)
    supplemental_groups: list[int] = field(default_factory=list)

    def resolve_user(self, rootfs_dir: str) -> tuple[int, int, list[int]]:
        return resolve_user(rootfs_dir, self.user, self.supplemental_groups)


def _format_map(values: Mapping[str, str]) -> str:
    """Kubernetes' downward-API rendering of a whole map: sorted ``key="value"`` lines."""
    import json

    return "\n".join(f"{k}={json.dumps(values[k], ensure_ascii=False)}" for k in sorted(values))


def field_ref_value(
    pod: Pod, field_path: str, *, pod_ip: str = "", host_ip: str = "", pod_ips: Sequence[str] = ()
) -> str:
    """The runtime value of a ``valueFrom.fieldRef.fieldPath`` for ``pod``."""
    ips = list(pod_ips) or ([pod_ip] if pod_ip else [])
    base, subscript = split_subscripted_field_path(field_path)
    meta = pod.metadata
    if subscript is not None:
        source = meta.labels if base == "metadata.labels" else meta.annotations
        return source.get(subscript, "")
    values = {
        "metadata.name": lambda: meta.name,
        "metadata.namespace": lambda: meta.namespace,
        "metadata.uid": lambda: meta.uid,
        "metadata.labels": lambda: _format_map(meta.labels),
        "metadata.annotations": lambda: _format_map(meta.annotations),
        "spec.nodeName": lambda: pod.spec.node_name,
        "spec.serviceAccountName": lambda: pod.spec.service_account_name,
        "status.hostIP": lambda: host_ip,
        "status.hostIPs": lambda: host_ip,
        "status.podIP": lambda: ips[0] if ips else "",
        "status.podIPs": lambda: ",".join(ips),
    }
    getter = values.get(base)
    if getter is None:
        raise CreateContainerConfigError(f'unsupported fieldRef fieldPath "{field_path}"')
    return getter()


def make_environment_variables(
    pod: Pod,
    container: Container,
    *,
    pod_ip: str = "",
    host_ip: str = "",
    pod_ips: Sequence[str] = (),
) -> dict[str, str]:
    """The container's own env (kubelet's part), in declaration order, expanded."""
    where = f'container "{container.name}" of pod {pod.namespace}/{pod.name}'
    env: dict[str, str] = {}
    lookup = mapping_for(env)  # sees each variable declared so far, as kubelet's does
    for var in container.env:
        if var.value:
            value = expand(var.value, lookup)
        elif var.value_from is not None and var.value_from.field_ref is not None:
            value = field_ref_value(
                pod,
                var.value_from.field_ref.field_path,
                pod_ip=pod_ip,
                host_ip=host_ip,
                pod_ips=pod_ips,
            )
        elif var.value_from is not None and var.value_from.extra:
            source = next(iter(var.value_from.extra))
            raise CreateContainerConfigError(
                f'{where}: env "{var.name}": valueFrom.{source} is not supported by minikube-py yet'
            )
        else:
            value = ""
        env[var.name] = value
    return env


def expand_command_and_args(
    container: Container, env: Mapping[str, str]
) -> tuple[list[str] | None, list[str] | None]:
    lookup = mapping_for(env)
    command = None if container.command is None else [expand(a, lookup) for a in container.command]
    args = None if container.args is None else [expand(a, lookup) for a in container.args]
    return command, args


def merge_env(base: Sequence[str], overrides: Sequence[str]) -> list[str]:
    """``K=V`` lists: an override replaces the same name in place, new names are appended."""
    out: list[str] = []
    where: dict[str, int] = {}
    for entry in [*base, *overrides]:
        name = entry.partition("=")[0]
        if name in where:
            out[where[name]] = entry
        else:
            where[name] = len(out)
            out.append(entry)
    return out


def effective_user(pod: Pod, container: Container, image_user: str) -> str:
    """runAsUser/runAsGroup (container over pod) over the image's User."""
    csc, psc = container.security_context, pod.spec.security_context
    uid = csc.run_as_user if csc and csc.run_as_user is not None else None
    gid = csc.run_as_group if csc and csc.run_as_group is not None else None
    if uid is None and psc is not None:
        uid = psc.run_as_user
    if gid is None and psc is not None:
        gid = psc.run_as_group
    if uid is not None:
        user = str(uid)
    else:
        user = image_user or ""
        if gid is not None:
            user = user.partition(":")[0] or "0"
    if gid is not None:
        user = f"{user}:{gid}"
    return user or "0"


def _verify_run_as_non_root(pod: Pod, container: Container, user: str, where: str) -> None:
    csc, psc = container.security_context, pod.spec.security_context
    non_root = csc.run_as_non_root if csc and csc.run_as_non_root is not None else None
    if non_root is None and psc is not None:
        non_root = psc.run_as_non_root
    if not non_root:
        return
    name = user.partition(":")[0]
    if not name.isdigit():
        raise CreateContainerConfigError(
            f"{where}: container has runAsNonRoot and image has non-numeric user ({name}), "
            "cannot verify user is non-root"
        )
    if int(name) == 0:
        raise CreateContainerConfigError(
            f"{where}: container has runAsNonRoot and image will run as root"
        )


def build_process(
    pod: Pod,
    container: Container,
    image_config: Any,
    *,
    pod_ip: str = "",
    host_ip: str = "",
    pod_ips: Sequence[str] = (),
    hostname: str | None = None,
) -> ContainerProcess:
    """argv, env, cwd and (unresolved) user for ``container`` of ``pod`` on ``image_config``.

    ``hostname`` (the pod's) is exported as HOSTNAME as containerd does; pass None to leave it
    out.  Raises CreateContainerConfigError when there is nothing to run or a rule fails.
    """
    image = ImageConfig.from_any(image_config)
    where = f'container "{container.name}" of pod {pod.namespace}/{pod.name}'
    env = make_environment_variables(
        pod, container, pod_ip=pod_ip, host_ip=host_ip, pod_ips=pod_ips
    )
    command, args = expand_command_and_args(container, env)

    if command:
        argv = command + (args or [])
    else:
        argv_args = args if args else list(image.cmd)
        entrypoint = [] if list(image.entrypoint) == [""] else list(image.entrypoint)
        argv = entrypoint + argv_args
    if not argv:
        raise CreateContainerConfigError(
            f"{where}: no command specified (the image has no Entrypoint or Cmd and the "
            "container sets no command or args)"
        )

    base = [f"PATH={DEFAULT_PATH}"]
    if hostname is not None:
        base.append(f"HOSTNAME={hostname}")
    final_env = merge_env(base, [*image.env, *(f"{k}={v}" for k, v in env.items())])

    user = effective_user(pod, container, image.user)
    _verify_run_as_non_root(pod, container, user, where)
    psc = pod.spec.security_context
    groups = list(psc.supplemental_groups) if psc else []
    if psc is not None and psc.fs_group is not None:
        groups.append(psc.fs_group)

    return ContainerProcess(
        args=argv,
        env=final_env,
        cwd=container.working_dir or image.working_dir or "/",
        user=user,
        supplemental_groups=groups,
    )

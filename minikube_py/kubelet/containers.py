"""App containers: from a Kubernetes container, its image and the pod sandbox to a
runtime Spec (kubelet's generateContainerConfig + the CRI runtime's spec)."""

from __future__ import annotations

import os
import stat

from minikube_py.api.objects import Container, Pod
from minikube_py.errors import CreateContainerConfigError
from minikube_py.kubecontainer import build_process
from minikube_py.kubecontainer.user import read_file_in_root, resolve_user_from_files
from minikube_py.kubelet.config import NodeConfig
from minikube_py.kubelet.sandbox import Sandbox
from oci.image import PreparedImage
from runtime import defaults
from runtime.spec import (
    Capabilities,
    Mount,
    Namespace,
    Process,
    Resources,
    Root,
    Spec,
    default_mounts,
)

CPU_PERIOD_US = 100_000
MIN_SHARES = 2


def container_spec(
    pod: Pod,
    container: Container,
    image: PreparedImage,
    sandbox: Sandbox,
    node: NodeConfig,
    container_id: str,
    container_dir: str,
) -> Spec:
    proc = build_process(pod, container, image.config, pod_ip=sandbox.ip, hostname=sandbox.hostname)
    uid, gid, groups = _resolve_user(image.lowerdirs, proc.user, proc.supplemental_groups)
    sc = container.security_context
    caps = Capabilities(
        add=list(sc.capabilities.add) if sc and sc.capabilities else [],
        drop=list(sc.capabilities.drop) if sc and sc.capabilities else [],
        privileged=bool(sc and sc.privileged),
    )
    for sub in ("rootfs", "upper", "work"):
        os.makedirs(os.path.join(container_dir, sub), exist_ok=True)
    share_pid = bool(pod.spec.share_process_namespace)
    return Spec(
        process=Process(
            args=proc.args,
            env=proc.env,
            cwd=proc.cwd,
            uid=uid,
            gid=gid,
            additional_gids=[g for g in groups if g != gid],
            # Kubernetes: no_new_privs only when allowPrivilegeEscalation is false.
            no_new_privileges=bool(sc and sc.allow_privilege_escalation is False),
            capabilities=caps,
        ),
        root=Root(
            path=os.path.join(container_dir, "rootfs"),
            readonly=bool(sc and sc.read_only_root_filesystem),
            lower=list(image.lowerdirs),
            upper=os.path.join(container_dir, "upper"),
            work=os.path.join(container_dir, "work"),
        ),
        mounts=default_mounts() + _pod_mounts(pod, container, sandbox),
        namespaces=[
            Namespace("mount"),
            Namespace("pid", sandbox.ns_path("pid") if share_pid else None),
            Namespace("network", sandbox.ns_path("net")),
            Namespace("ipc", sandbox.ns_path("ipc")),
            Namespace("uts", sandbox.ns_path("uts")),
        ],
        cgroups_path=f"{node.pod_cgroup(pod.metadata.uid)}/{container_id}",
        resources=_resources(container),
        # privileged: no masked or read-only paths, as runc does for --privileged
        masked_paths=[] if caps.privileged else list(defaults.DEFAULT_MASKED_PATHS),
        readonly_paths=[] if caps.privileged else list(defaults.DEFAULT_READONLY_PATHS),
    )


def _pod_mounts(pod: Pod, container: Container, sandbox: Sandbox) -> list[Mount]:
    mounts = [
        Mount("/etc/hosts", "bind", sandbox.hosts_file, ["rbind", "rprivate"]),
        Mount("/etc/hostname", "bind", sandbox.hostname_file, ["rbind", "rprivate"]),
        Mount("/etc/resolv.conf", "bind", sandbox.resolv_conf, ["rbind", "rprivate"]),
    ]
    volumes = {v.name: v for v in pod.spec.volumes}
    for i, vm in enumerate(container.volume_mounts):
        volume = volumes.get(vm.name)
        where = f"spec.containers[{container.name}].volumeMounts[{i}]"
        if volume is None:
            raise CreateContainerConfigError(f'{where}: volume "{vm.name}" not found')
        volume.require_supported(f"spec.volumes[{vm.name}]")
        source = sandbox.volume_dir(vm.name)
        if vm.sub_path:
            source = os.path.join(source, vm.sub_path)
            os.makedirs(source, exist_ok=True)
        options = ["rbind", "rprivate", "ro" if vm.read_only else "rw"]
        mounts.append(Mount(vm.mount_path, "bind", source, options))
    return mounts


def _resources(container: Container) -> Resources:
    limits, requests = container.resources.limits, container.resources.requests
    res = Resources()
    if "memory" in limits:
        res.memory_limit = int(limits["memory"].value)
    if "cpu" in limits:
        res.cpu_period = CPU_PERIOD_US
        res.cpu_quota = max(1000, int(limits["cpu"].value * CPU_PERIOD_US))
    cpu_request = requests.get("cpu") or limits.get("cpu")
    if cpu_request is not None:
        res.cpu_shares = max(MIN_SHARES, int(cpu_request.value * 1024))
    return res


def _resolve_user(
    lowerdirs: list[str], user: str, supplemental: list[int]
) -> tuple[int, int, list[int]]:
    """Resolve the user against the image's merged /etc/passwd and /etc/group.

    The overlay root is mounted only inside the container, so the two files are
    looked up in the snapshots, top layer first, honouring whiteouts."""
    return resolve_user_from_files(
        _merged_file(lowerdirs, "etc/passwd"),
        _merged_file(lowerdirs, "etc/group"),
        user,
        supplemental,
    )


def _merged_file(lowerdirs: list[str], rel: str) -> bytes | None:
    parent = os.path.dirname(rel)
    for layer in lowerdirs:
        try:
            st = os.lstat(os.path.join(layer, rel))
        except (FileNotFoundError, NotADirectoryError):
            st = None
        if st is not None:
            if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
                return None  # whiteout: deleted in this layer
            return read_file_in_root(layer, "/" + rel)
        try:
            if os.getxattr(os.path.join(layer, parent), "trusted.overlay.opaque") == b"y":
                return None
        except OSError:
            pass
    return None

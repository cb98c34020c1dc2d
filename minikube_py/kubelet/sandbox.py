"""The pod sandbox: pod cgroup, pause container, pod network, /etc/hosts and resolv.conf.

Created before any app container and torn down after the last one, as kubelet's
RunPodSandbox / StopPodSandbox.  A half-made sandbox is rolled back.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
from dataclasses import dataclass

from minikube_py.api.objects import Pod
from minikube_py.errors import MinikubeError
from minikube_py.kubelet.config import NodeConfig
from minikube_py.kubelet.pause import pause_spec
from minikube_py.kubelet.runtime_service import RuntimeService
from runtime import cgroups
from runtime.errors import RuntimeErr

EMPTY_DIR_PLUGIN = "kubernetes.io~empty-dir"


class SandboxError(MinikubeError):
    """The pod sandbox could not be created (FailedCreatePodSandBox)."""


def pod_hostname(pod: Pod) -> str:
    return (pod.spec.hostname or pod.name)[:63].rstrip("-.")


@dataclass
class Sandbox:
    pod_uid: str
    pod_dir: str
    pause_id: str
    pause_pid: int
    ip: str
    hostname: str

    def ns_path(self, kind: str) -> str:
        return f"/proc/{self.pause_pid}/ns/{kind}"

    @property
    def hosts_file(self) -> str:
        return os.path.join(self.pod_dir, "hosts")

    @property
    def resolv_conf(self) -> str:
        return os.path.join(self.pod_dir, "resolv.conf")

    @property
    def hostname_file(self) -> str:
        return os.path.join(self.pod_dir, "hostname")

    def volume_dir(self, name: str) -> str:
        return os.path.join(self.pod_dir, "volumes", EMPTY_DIR_PLUGIN, name)


def _network_config(node: NodeConfig):
    from minikube_py.network import NetworkConfig

    return NetworkConfig(state_root=node.root, bridge=node.bridge, cidr=node.pod_cidr)


def create_sandbox(pod: Pod, node: NodeConfig, runtime: RuntimeService) -> Sandbox:
    from minikube_py.network import setup_pod_network, write_hosts, write_resolv_conf
    from oci.fsutil import atomic_write

    uid = pod.metadata.uid
    pod_dir = node.pod_dir(uid)
    hostname = pod_hostname(pod)
    pid = 0
    try:
        os.makedirs(pod_dir, exist_ok=True)
        _make_volumes(pod, pod_dir)
        spec = pause_spec(
            os.path.join(node.run_dir, "pause-rootfs"), hostname, f"{node.pod_cgroup(uid)}/pause"
        )
        pid = runtime.create(pause_id(uid), spec, None)
        runtime.start(pause_id(uid))
        net = setup_pod_network(pid, uid, pod.name, _network_config(node), owner="pause")
        write_hosts(pod_dir, str(net.ip), hostname)
        write_resolv_conf(pod_dir)
        atomic_write(os.path.join(pod_dir, "hostname"), (hostname + "\n").encode())
        return Sandbox(uid, pod_dir, pause_id(uid), pid, str(net.ip), hostname)
    except (MinikubeError, RuntimeErr, OSError) as e:
        _teardown(pod, node, runtime)
        if isinstance(e, MinikubeError):
            raise
        raise SandboxError(f"pod {pod.namespace}/{pod.name}: creating the sandbox: {e}") from e


def pause_id(pod_uid: str) -> str:
    return f"{pod_uid}-pause"


def teardown_sandbox(pod: Pod, node: NodeConfig, runtime: RuntimeService) -> None:
    """Stop the pause, free the IP and veth, unmount volumes, remove the pod cgroup.

    Idempotent, and safe after a partial create or an agent restart."""
    _teardown(pod, node, runtime)


def _teardown(pod: Pod, node: NodeConfig, runtime: RuntimeService) -> None:
    from minikube_py.network import teardown_pod_network

    uid = pod.metadata.uid
    # The app containers are gone: the pause has nothing to wait for.
    with contextlib.suppress(RuntimeErr, OSError):
        runtime.kill(pause_id(uid), signal.SIGKILL)
    runtime.delete(pause_id(uid))
    teardown_pod_network(uid, _network_config(node))
    pod_dir = node.pod_dir(uid)
    _unmount_volumes(pod_dir)
    with contextlib.suppress(RuntimeErr, OSError):
        cgroups.open_cgroup(node.pod_cgroup(uid)).destroy()
    # What the sandbox made; the pod dir itself (and the API's pod.json in it) stays
    # until the pod object is removed (remove_pod_dir).
    for name in ("containers", "volumes"):
        shutil.rmtree(os.path.join(pod_dir, name), ignore_errors=True)
    for name in ("hosts", "resolv.conf", "hostname"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(pod_dir, name))


def remove_pod_dir(node: NodeConfig, pod_uid: str) -> None:
    """Once the pod object is gone: its directory too (after teardown_sandbox)."""
    shutil.rmtree(node.pod_dir(pod_uid), ignore_errors=True)


def _make_volumes(pod: Pod, pod_dir: str) -> None:
    from runtime import linux

    for volume in pod.spec.volumes:
        if volume.empty_dir is None:
            continue
        path = os.path.join(pod_dir, "volumes", EMPTY_DIR_PLUGIN, volume.name)
        os.makedirs(path, exist_ok=True)
        os.chmod(path, 0o777)  # as kubelet makes an emptyDir
        if volume.empty_dir.medium == "Memory":
            size = volume.empty_dir.size_limit
            data = f"mode=1777,size={int(size.value)}" if size is not None else "mode=1777"
            linux.mount("tmpfs", path, "tmpfs", linux.MS_NOSUID | linux.MS_NODEV, data)


def _unmount_volumes(pod_dir: str) -> None:
    from runtime import linux
    from runtime.errors import SyscallError

    base = os.path.join(pod_dir, "volumes", EMPTY_DIR_PLUGIN)
    if not os.path.isdir(base):
        return
    for name in os.listdir(base):
        path = os.path.join(base, name)
        if os.path.ismount(path):
            with contextlib.suppress(SyscallError):
                linux.umount2(path, linux.MNT_DETACH)

"""The pod sandbox: pod cgroup, pause container, pod network, /etc/hosts and resolv.conf.

Created before any app container and torn down after the last one, as kubelet's
RunPodSandbox / StopPodSandbox.  A half-made sandbox is rolled back.

The pod's IP is allocated first (so /etc/hosts can name it before anything runs), then the
pause starts; wiring its network namespace to the bridge (veth, address, routes) can then go
on in the background (`executor`) while the pod's containers are being created, which needs
only the namespace, not the network in it.  `Sandbox.wait_network` is what must come before
any container of the pod runs.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
from concurrent.futures import Executor, Future
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
    network: Future | None = None  # the network being wired up, when done in the background

    def wait_network(self) -> None:
        """Return once the pod's network is up; SandboxError if wiring it failed."""
        if self.network is not None:
            self.network.result()

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


def create_sandbox(
    pod: Pod, node: NodeConfig, runtime: RuntimeService, executor: Executor | None = None
) -> Sandbox:
    """Make the sandbox; with `executor`, its network is wired up there (see the module doc),
    and a failure then comes from `Sandbox.wait_network`."""
    from minikube_py.network import write_hosts, write_resolv_conf
    from oci.fsutil import atomic_write

    uid = pod.metadata.uid
    pod_dir = node.pod_dir(uid)
    hostname = pod_hostname(pod)
    try:
        os.makedirs(pod_dir, exist_ok=True)
        _make_volumes(pod, pod_dir)
        config = _network_config(node)
        ip = str(config.ipam.allocate(uid, PAUSE_OWNER))
        write_hosts(pod_dir, ip, hostname)
        write_resolv_conf(pod_dir)
        hostname_file = os.path.join(pod_dir, "hostname")
        atomic_write(hostname_file, (hostname + "\n").encode(), durable=False)
        spec = pause_spec(
            os.path.join(node.run_dir, "pause-rootfs"), hostname, f"{node.pod_cgroup(uid)}/pause"
        )
        pid = runtime.create(pause_id(uid), spec, None)
        runtime.start(pause_id(uid))
        if executor is None:
            _wire_network(pod, config, pid, ip)
            return Sandbox(uid, pod_dir, pause_id(uid), pid, ip, hostname)
        network = executor.submit(_wire_network, pod, config, pid, ip)
        return Sandbox(uid, pod_dir, pause_id(uid), pid, ip, hostname, network)
    except MinikubeError:
        _teardown(pod, node, runtime)
        raise
    except (RuntimeErr, OSError) as e:
        _teardown(pod, node, runtime)
        raise _sandbox_error(pod, e) from e


PAUSE_OWNER = "pause"  # who holds the pod's IP, in the IPAM's records


def _wire_network(pod: Pod, config, pid: int, ip: str) -> None:
    """veth pair, eth0's address (the IP allocated before) and routes, in the pause's netns."""
    from minikube_py.network import setup_pod_network

    try:
        net = setup_pod_network(pid, pod.metadata.uid, pod.name, config, owner=PAUSE_OWNER)
    except OSError as e:
        raise _sandbox_error(pod, e) from e
    if net.ip != ip:  # allocate() gives a pod the address it holds: a bug if not
        raise SandboxError(f"pod {pod.namespace}/{pod.name}: got IP {net.ip}, expected {ip}")


def _sandbox_error(pod: Pod, e: Exception) -> SandboxError:
    return SandboxError(f"pod {pod.namespace}/{pod.name}: creating the sandbox: {e}")


def allocated_ip(node: NodeConfig, pod_uid: str) -> str:
    """The IP the node's IPAM holds for the pod ("" if none)."""
    ip = _network_config(node).ipam.lookup(pod_uid)
    return str(ip) if ip is not None else ""


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
    """A finished pod's directory (after teardown_sandbox); the store removes the pod.json in
    it with the object."""
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

"""The node's settings, shared by every pod worker."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field


@dataclass
class NodeConfig:
    root: str = "/var/lib/minikube-py"
    run_dir: str = "/run/minikube-py"
    log_dir: str = "/var/log/pods"
    # relative: under the cgroup this process runs in (per hierarchy on v1)
    cgroup_parent: str = "minikube-py"
    bridge: str = "mkpy0"
    pod_cidr: str = "10.244.0.0/24"
    node_name: str = field(default_factory=socket.gethostname)
    insecure_registries: tuple[str, ...] = ()
    registry_config: str | None = None
    # crash-loop backoff (Kubernetes: 10 s doubling to 300 s, reset after 10 min running)
    backoff_initial: float = 10.0
    backoff_max: float = 300.0
    backoff_reset: float = 600.0
    max_pods: int = 110
    _host_ip: str | None = field(default=None, repr=False)

    def host_ip(self) -> str:
        """The node's IP as pods see it in status.hostIP: the address of the interface
        of the default route (asked of the kernel over netlink; nothing is sent)."""
        if self._host_ip is None:
            self._host_ip = _default_route_address()
        return self._host_ip

    def pod_dir(self, uid: str) -> str:
        return os.path.join(self.root, "pods", uid)

    def container_state_dir(self, container_id: str) -> str:
        return os.path.join(self.run_dir, "containers", container_id)

    def pod_log_dir(self, namespace: str, name: str, uid: str) -> str:
        return os.path.join(self.log_dir, f"{namespace}_{name}_{uid}")

    def pod_cgroup(self, uid: str) -> str:
        return f"{self.cgroup_parent}/pod{uid}"


def _default_route_address() -> str:
    import socket as _socket

    from pyroute2 import IPRoute

    with IPRoute() as ipr:
        for route in ipr.get_default_routes(family=_socket.AF_INET):
            oif = route.get_attr("RTA_OIF")
            for addr in ipr.get_addr(family=_socket.AF_INET, index=oif):
                return addr.get_attr("IFA_ADDRESS")
    return ""

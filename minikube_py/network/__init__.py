"""The pod network: node bridge, host-local IPAM, per-pod veth, /etc/hosts and resolv.conf."""

from minikube_py.network.bridge import (
    DEFAULT_BRIDGE,
    DEFAULT_POD_CIDR,
    Bridge,
    bridge_netfilter_warning,
    ensure_bridge,
    remove_bridge,
)
from minikube_py.network.files import write_hosts, write_resolv_conf
from minikube_py.network.ipam import IPAM
from minikube_py.network.pod import (
    NetworkConfig,
    PodNetwork,
    collect_garbage,
    host_veth_name,
    setup_pod_network,
    teardown_pod_network,
)

__all__ = [
    "DEFAULT_BRIDGE",
    "DEFAULT_POD_CIDR",
    "IPAM",
    "Bridge",
    "NetworkConfig",
    "PodNetwork",
    "bridge_netfilter_warning",
    "collect_garbage",
    "ensure_bridge",
    "host_veth_name",
    "remove_bridge",
    "setup_pod_network",
    "teardown_pod_network",
    "write_hosts",
    "write_resolv_conf",
]

"""A pod's network: a veth pair from the node bridge into the pod's network namespace.

    host netns                              pod netns (held by the pause process)
    bridge mkpy0 (10.244.0.1/24) -- vethXXXXXXXX <==> eth0 (10.244.0.N/24), lo
                                                     default via 10.244.0.1

The pod end is created directly inside the pod namespace under its final
name `eth0`, so no temporary name ever appears on the host. Setup is all or
nothing: on any failure what was made is removed and the IP released.

Each netlink request costs ~1 ms of CPU through pyroute2, so a pod's setup
makes few: the pair is created on the bridge and up in one request, the pod
side takes four (lo up, look up eth0, address, route), and the bridge is
made sure of once per process (again only if attaching to it fails).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from minikube_py.errors import NetworkError
from minikube_py.network._netlink import call, iproute_in_netns, strerror
from minikube_py.network.bridge import DEFAULT_BRIDGE, DEFAULT_POD_CIDR, Bridge, ensure_bridge
from minikube_py.network.ipam import IPAM

DEFAULT_STATE_ROOT = Path("/var/lib/minikube-py")
POD_INTERFACE = "eth0"
HOST_VETH_PREFIX = "veth"
LOOPBACK_INDEX = 1  # the kernel gives lo ifindex 1 in every network namespace


@dataclass(frozen=True)
class NetworkConfig:
    """The node's pod network: which bridge, which CIDR, where IPAM keeps its state."""

    state_root: Path = DEFAULT_STATE_ROOT
    bridge: str = DEFAULT_BRIDGE
    cidr: str = DEFAULT_POD_CIDR
    gateway: str | None = None  # default: the first usable address of `cidr`

    @property
    def ipam(self) -> IPAM:
        return IPAM.for_network(self.state_root, self.bridge, self.cidr, self.gateway)


@dataclass(frozen=True)
class PodNetwork:
    """What a pod got: `ip` is status.podIP."""

    ip: str
    prefix: int
    gateway: str
    host_veth: str
    mac: str
    interface: str = POD_INTERFACE
    bridge: str = field(default=DEFAULT_BRIDGE)

    @property
    def cidr(self) -> str:
        return f"{self.ip}/{self.prefix}"


def host_veth_name(pod_uid: str) -> str:
    """The host end's name: stable for a pod uid, 12 characters (limit 15)."""
    return HOST_VETH_PREFIX + hashlib.sha256(pod_uid.encode()).hexdigest()[:8]


def netns_path(netns: str | os.PathLike[str] | int) -> str:
    """A network namespace given as a path, or as the pid of a process inside it."""
    if isinstance(netns, int):
        return f"/proc/{netns}/ns/net"
    return os.fspath(netns)


def setup_pod_network(
    netns: str | os.PathLike[str] | int,
    pod_uid: str,
    pod_name: str,
    config: NetworkConfig | None = None,
    owner: str = "",
) -> PodNetwork:
    """Connect the network namespace `netns` (path or pid) to the node bridge.

    Ensures the bridge, allocates an IP for `pod_uid`, creates the veth pair
    (host end on the bridge, `eth0` in the pod), brings up `lo` and `eth0`,
    and routes by default via the gateway. `owner` is recorded with the IP
    (e.g. "default/web sandbox=<id>"); it defaults to the pod name.

    Calling it again for the same pod rebuilds the veth and keeps the IP.
    On failure nothing is left: no veth, no IP allocation.
    """
    config = config or NetworkConfig()
    path = netns_path(netns)
    what = f"pod {pod_name} ({path})"
    try:
        ns_fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as e:
        raise NetworkError(
            f"open network namespace {path} of pod {pod_name}: {e.strerror} (errno {e.errno})"
        ) from None
    try:
        bridge = _bridge(config)
        ipam = config.ipam
        ip = ipam.allocate(pod_uid, owner or pod_name)
        veth = host_veth_name(pod_uid)
        try:
            try:
                _connect(ns_fd, what, veth, bridge.index, bridge.mtu, config.bridge)
            except NetworkError:  # the bridge may be gone or made again since we knew it
                bridge = _bridge(config, again=True)
                _connect(ns_fd, what, veth, bridge.index, bridge.mtu, config.bridge)
            mac = _configure_pod_side(
                ns_fd, what, str(ip), bridge.network.prefixlen, str(bridge.gateway)
            )
        except BaseException as e:
            with contextlib.suppress(Exception):
                _delete_link(veth)
            with contextlib.suppress(Exception):
                ipam.release(pod_uid)
            if isinstance(e, NetlinkError | OSError):
                raise NetworkError(f"set up the network of {what}: {e}") from e
            raise
    finally:
        os.close(ns_fd)
    return PodNetwork(
        ip=str(ip),
        prefix=bridge.network.prefixlen,
        gateway=str(bridge.gateway),
        host_veth=veth,
        mac=mac,
        bridge=config.bridge,
    )


def teardown_pod_network(pod_uid: str, config: NetworkConfig | None = None) -> None:
    """Remove the pod's veth pair and release its IP. Idempotent.

    Safe whether or not the pod's namespace still exists (when it is gone the
    kernel has already removed the pair) and after a half-done setup.
    """
    config = config or NetworkConfig()
    _delete_link(host_veth_name(pod_uid))
    config.ipam.release(pod_uid)


def collect_garbage(keep_pod_uids: Iterable[str], config: NetworkConfig | None = None) -> list[str]:
    """Tear down the network of every pod holding an IP that is not in `keep_pod_uids`.

    For an agent starting after a crash: pods it no longer knows still hold
    IPs (and maybe veths). An IP is allocated before its veth is made and
    released after it is deleted, so the allocations name every such pod.
    Returns the uids torn down.
    """
    config = config or NetworkConfig()
    keep = set(keep_pod_uids)
    stale = sorted({a.pod_uid for a in config.ipam.allocations().values()} - keep)
    for uid in stale:
        teardown_pod_network(uid, config)
    return stale


# -- internals ---------------------------------------------------------------------------


_bridges: dict[tuple[str, str, str | None], Bridge] = {}
_bridges_lock = threading.Lock()


def _bridge(config: NetworkConfig, again: bool = False) -> Bridge:
    """The node bridge, made sure of on first use in this process (or when asked again)."""
    key = (config.bridge, config.cidr, config.gateway)
    with _bridges_lock:
        if again or key not in _bridges:
            _bridges[key] = ensure_bridge(config.bridge, config.cidr, config.gateway)
        return _bridges[key]


def _connect(ns_fd: int, what: str, veth: str, bridge_index: int, mtu: int, bridge: str) -> None:
    """Create the pair: host end `veth` on the bridge and up, pod end eth0 in `ns_fd`."""
    with IPRoute() as ipr:
        for attempt in (1, 2):
            try:
                ipr.link(
                    "add",
                    ifname=veth,
                    kind="veth",
                    mtu=mtu,
                    master=bridge_index,
                    state="up",
                    peer={"ifname": POD_INTERFACE, "net_ns_fd": ns_fd, "mtu": mtu},
                )
                return
            except NetlinkError as e:
                failed = e
            # A leftover from an earlier attempt for this pod: start afresh, once.
            if failed.code != errno.EEXIST or attempt == 2 or not _delete(ipr, veth):
                break
        hint = ""
        if failed.code == errno.EEXIST:
            hint = f" (the namespace of {what} already has an {POD_INTERFACE}?)"
        elif failed.code in (errno.ENODEV, errno.EINVAL, errno.EOPNOTSUPP):
            hint = f" (is bridge {bridge} still there?)"
        raise NetworkError(
            f"create veth {veth} <-> {POD_INTERFACE} for {what}: {strerror(failed)}{hint}"
        )


def _configure_pod_side(ns_fd: int, what: str, ip: str, prefix: int, gateway: str) -> str:
    with iproute_in_netns(ns_fd, what) as ipr:
        call(f"bring up lo in {what}", ipr.link, "set", index=LOOPBACK_INDEX, state="up")
        try:
            (eth0,) = ipr.link("get", ifname=POD_INTERFACE)
        except NetlinkError:
            raise NetworkError(
                f"{POD_INTERFACE} did not appear in the namespace of {what}"
            ) from None
        index = eth0["index"]
        call(
            f"add address {ip}/{prefix} to {POD_INTERFACE} in {what}",
            ipr.addr,
            "add",
            index=index,
            address=ip,
            prefixlen=prefix,
        )
        call(f"bring up {POD_INTERFACE} in {what}", ipr.link, "set", index=index, state="up")
        call(
            f"add default route via {gateway} in {what}",
            ipr.route,
            "add",
            dst="0.0.0.0/0",
            gateway=gateway,
            oif=index,
        )
        return eth0.get("IFLA_ADDRESS")


def _delete(ipr: IPRoute, name: str) -> bool:
    """Delete link `name`; False if there was none."""
    try:
        ipr.link("del", ifname=name)
    except NetlinkError as e:
        if e.code == errno.ENODEV:
            return False
        raise NetworkError(f"delete veth {name}: {strerror(e)}") from None
    return True


def _delete_link(name: str) -> None:
    with IPRoute() as ipr:
        _delete(ipr, name)

"""The node bridge: one Linux bridge per node, its gateway address the first of the pod CIDR.

Every pod's host-side veth is a port of this bridge, so pods on the node reach
each other at layer 2 and the host reaches them through the bridge's address.
No NAT and no forwarding changes are made (see DESIGN.md, host hygiene).
"""

from __future__ import annotations

import errno
import hashlib
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from minikube_py.errors import NetworkError
from minikube_py.network._netlink import call as _netlink
from minikube_py.network._netlink import strerror as _strerror

DEFAULT_BRIDGE = "mkpy0"
DEFAULT_POD_CIDR = "10.244.0.0/24"
IFNAMSIZ = 15  # usable characters of a Linux interface name
BRIDGE_NF_CALL_IPTABLES = Path("/proc/sys/net/bridge/bridge-nf-call-iptables")


@dataclass(frozen=True)
class Bridge:
    name: str
    index: int
    network: ipaddress.IPv4Network
    gateway: ipaddress.IPv4Address
    mtu: int


def gateway_of(cidr: str, gateway: str | None = None) -> ipaddress.IPv4Address:
    """The bridge's address: `gateway` if given, else the CIDR's first usable address."""
    network = parse_cidr(cidr)
    gw = ipaddress.IPv4Address(gateway) if gateway else network[1]
    if gw not in network or gw in (network.network_address, network.broadcast_address):
        raise NetworkError(f"gateway {gw} is not a usable address of the pod CIDR {network}")
    return gw


def parse_cidr(cidr: str) -> ipaddress.IPv4Network:
    try:
        network = ipaddress.IPv4Network(cidr)
    except ValueError as e:
        raise NetworkError(f"invalid pod CIDR {cidr!r}: {e}") from None
    if network.prefixlen > 30:
        raise NetworkError(f"pod CIDR {cidr} is too small: need at least a /30")
    return network


def check_ifname(name: str) -> None:
    if not name or len(name) > IFNAMSIZ or any(c in name for c in "/: \t\n") or name in (".", ".."):
        raise NetworkError(
            f"invalid interface name {name!r}: 1 to {IFNAMSIZ} characters, no '/', ':' or spaces"
        )


def ensure_bridge(
    name: str = DEFAULT_BRIDGE, cidr: str = DEFAULT_POD_CIDR, gateway: str | None = None
) -> Bridge:
    """Make sure bridge `name` exists, holds the gateway address of `cidr` and is up.

    Idempotent and safe to race with itself (from threads or processes). Fails
    when `name` exists but is not a bridge, or when another interface already
    has an address inside `cidr` (the routes would clash).
    """
    check_ifname(name)
    network = parse_cidr(cidr)
    gw = gateway_of(cidr, gateway)
    with IPRoute() as ipr:
        index = _create_bridge(ipr, name)
        _check_no_overlap(ipr, index, name, network)
        _ensure_address(ipr, index, name, gw, network.prefixlen)
        _netlink(f"set bridge {name} up", ipr.link, "set", index=index, state="up")
        mtu = ipr.get_links(index)[0].get("IFLA_MTU")
    return Bridge(name=name, index=index, network=network, gateway=gw, mtu=mtu)


def remove_bridge(name: str) -> bool:
    """Delete bridge `name` (its ports are detached, not deleted). False if it was absent."""
    check_ifname(name)
    with IPRoute() as ipr:
        index = _lookup(ipr, name)
        if index is None:
            return False
        if _kind(ipr, index) != "bridge":
            raise NetworkError(f"refusing to delete {name}: it is not a bridge")
        try:
            ipr.link("del", index=index)
        except NetlinkError as e:
            if e.code == errno.ENODEV:
                return False
            raise NetworkError(f"delete bridge {name}: {_strerror(e)}") from None
    return True


def bridge_netfilter_warning() -> str | None:
    """A warning when bridged pod traffic passes through iptables (br_netfilter loaded).

    Pod-to-pod traffic on the bridge then traverses the iptables FORWARD chain:
    if its policy drops (Docker sets DROP), pods cannot reach each other. We do
    not change the host firewall; we say so.
    """
    try:
        value = BRIDGE_NF_CALL_IPTABLES.read_text().strip()
    except OSError:
        return None
    if value != "1":
        return None
    return (
        "br_netfilter is loaded and net.bridge.bridge-nf-call-iptables=1: traffic between pods "
        "passes the iptables FORWARD chain; if its policy is DROP, pods cannot reach each other "
        "(allow the pod CIDR in FORWARD, or set net.bridge.bridge-nf-call-iptables=0)"
    )


# -- internals ---------------------------------------------------------------------------


def _create_bridge(ipr: IPRoute, name: str) -> int:
    index = _lookup(ipr, name)
    if index is None:
        try:
            # A fixed MAC: otherwise the bridge takes the lowest MAC of its ports
            # and changes it as pods come and go, staling the pods' ARP caches.
            ipr.link("add", ifname=name, kind="bridge", address=_bridge_mac(name))
        except NetlinkError as e:
            if e.code != errno.EEXIST:
                raise NetworkError(f"create bridge {name}: {_strerror(e)}") from None
        index = _lookup(ipr, name)
        if index is None:
            raise NetworkError(f"bridge {name} vanished right after it was created")
    kind = _kind(ipr, index)
    if kind != "bridge":
        raise NetworkError(
            f"interface {name} exists but is a {kind or 'plain device'}, not a bridge"
        )
    return index


def _check_no_overlap(ipr: IPRoute, index: int, name: str, network: ipaddress.IPv4Network) -> None:
    for msg in ipr.get_addr(family=2):
        if msg["index"] == index:
            continue
        iface = ipaddress.IPv4Interface(f"{msg.get('IFA_ADDRESS')}/{msg['prefixlen']}")
        if iface.network.overlaps(network):
            other = msg.get("IFA_LABEL") or f"index {msg['index']}"
            raise NetworkError(
                f"pod CIDR {network} for bridge {name} overlaps {iface} on interface {other}"
            )


def _ensure_address(
    ipr: IPRoute, index: int, name: str, gw: ipaddress.IPv4Address, prefixlen: int
) -> None:
    for msg in ipr.get_addr(family=2, index=index):
        if msg.get("IFA_ADDRESS") == str(gw) and msg["prefixlen"] == prefixlen:
            return
    try:
        ipr.addr("add", index=index, address=str(gw), prefixlen=prefixlen)
    except NetlinkError as e:
        if e.code != errno.EEXIST:
            raise NetworkError(f"add address {gw}/{prefixlen} to {name}: {_strerror(e)}") from None


def _lookup(ipr: IPRoute, name: str) -> int | None:
    found = ipr.link_lookup(ifname=name)
    return found[0] if found else None


def _kind(ipr: IPRoute, index: int) -> str | None:
    links = ipr.get_links(index)
    return links[0].get_nested("IFLA_LINKINFO", "IFLA_INFO_KIND") if links else None


def _bridge_mac(name: str) -> str:
    digest = hashlib.sha256(f"minikube-py bridge {name}".encode()).digest()
    # Locally administered, unicast.
    octets = [(digest[0] & 0xFC) | 0x02, *digest[1:6]]
    return ":".join(f"{b:02x}" for b in octets)

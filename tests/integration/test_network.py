"""The pod network on the real kernel: bridge, veth pairs, pod IPs, reachability, cleanup.

Every test uses its own bridge (`mkt` + 6 hex) and a random /24 in 10.200-239.x.0, since
other developers run tests on this machine at the same time. Network namespaces are held
by `unshare --net sleep` processes that the tests start and end by PID.
"""

from __future__ import annotations

import ipaddress
import os
import random
import secrets
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from pyroute2 import IPRoute

from minikube_py.errors import NetworkError
from minikube_py.network import (
    IPAM,
    NetworkConfig,
    bridge_netfilter_warning,
    collect_garbage,
    ensure_bridge,
    host_veth_name,
    remove_bridge,
    setup_pod_network,
    teardown_pod_network,
)

BUSYBOX = shutil.which("busybox") or "/bin/busybox"
SYS_NET = Path("/sys/class/net")


# -- fixtures ------------------------------------------------------------------------------


def _host_networks() -> list[ipaddress.IPv4Network]:
    with IPRoute() as ipr:
        return [
            ipaddress.IPv4Interface(f"{m.get('IFA_ADDRESS')}/{m['prefixlen']}").network
            for m in ipr.get_addr(family=2)
        ]


def _random_cidr() -> str:
    taken = _host_networks()
    for _ in range(100):
        net = ipaddress.IPv4Network(f"10.{random.randint(200, 239)}.{random.randint(0, 255)}.0/24")
        if not any(net.overlaps(t) for t in taken):
            return str(net)
    raise RuntimeError("no free random /24 in 10.200.0.0-10.239.255.0")


class NetnsHolders:
    """`unshare --net sleep 300` processes: each holds one fresh network namespace."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen] = []

    def start(self) -> int:
        proc = subprocess.Popen(["unshare", "--net", "sleep", "300"])
        self.procs.append(proc)
        own = os.readlink("/proc/self/ns/net")
        deadline = time.monotonic() + 10
        # unshare(1) enters the new namespace, then execs sleep in the same process.
        while os.readlink(f"/proc/{proc.pid}/ns/net") == own or _comm(proc.pid) != "sleep":
            if time.monotonic() > deadline:
                raise RuntimeError(f"unshare --net (pid {proc.pid}) did not start")
            time.sleep(0.01)
        return proc.pid

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=10)


def _comm(pid: int) -> str:
    return Path(f"/proc/{pid}/comm").read_text().strip()


class PodNet:
    """One test's network: its own bridge, CIDR and state root; cleans everything up."""

    def __init__(self, tmp_path: Path) -> None:
        self.config = NetworkConfig(
            state_root=tmp_path / "state",
            bridge="mkt" + secrets.token_hex(3),
            cidr=_random_cidr(),
        )
        self.holders = NetnsHolders()
        self.uids: list[str] = []

    def new_uid(self) -> str:
        uid = str(uuid.uuid4())
        self.uids.append(uid)
        return uid

    def pod(self, name: str = "web"):
        """A netns holder plus its pod network: returns (pid, uid, PodNetwork)."""
        pid = self.holders.start()
        uid = self.new_uid()
        return pid, uid, setup_pod_network(pid, uid, name, self.config)

    def cleanup(self) -> None:
        try:
            for uid in self.uids:
                teardown_pod_network(uid, self.config)
            remove_bridge(self.config.bridge)
        finally:
            self.holders.stop_all()

    def leftovers(self) -> list[str]:
        left = [f"veth {host_veth_name(u)}" for u in self.uids if _link_exists(host_veth_name(u))]
        if _link_exists(self.config.bridge):
            left.append(f"bridge {self.config.bridge}")
        left += [f"IP {ip}" for ip in self.config.ipam.allocations()]
        left += [f"process {p.pid}" for p in self.holders.procs if p.poll() is None]
        return left


@pytest.fixture
def podnet(tmp_path):
    net = PodNet(tmp_path)
    try:
        yield net
    finally:
        net.cleanup()
    assert net.leftovers() == [], "the test left these behind"


# -- helpers -------------------------------------------------------------------------------


def _link_exists(name: str) -> bool:
    return (SYS_NET / name).exists()


def in_netns(pid: int, *argv: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["nsenter", f"--net=/proc/{pid}/ns/net", *argv],
        capture_output=True,
        text=True,
        timeout=30,
        **kwargs,
    )


LISTENER = """
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 8080))
s.listen(8)
print("ready", flush=True)
conn, peer = s.accept()
conn.sendall(("hello from " + sys.argv[1] + " to " + peer[0]).encode())
conn.close()
"""

CONNECT = """
import socket, sys
c = socket.create_connection((sys.argv[1], 8080), timeout=5)
print(c.recv(100).decode())
"""


class Listener:
    """A one-shot TCP server on port 8080 inside a pod's namespace."""

    def __init__(self, pid: int, name: str) -> None:
        self.proc = subprocess.Popen(
            ["nsenter", f"--net=/proc/{pid}/ns/net", sys.executable, "-c", LISTENER, name],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout.readline().strip() == "ready"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)
        self.proc.stdout.close()


def _forwarding_diagnosis() -> str:
    note = bridge_netfilter_warning() or "br_netfilter: bridge-nf-call-iptables is off"
    try:
        forward = subprocess.run(
            ["iptables", "-S", "FORWARD"], capture_output=True, text=True, timeout=10
        ).stdout
    except OSError as e:
        forward = f"(iptables not runnable: {e})"
    return f"{note}; iptables FORWARD: {forward.strip()!r}"


# -- tests ---------------------------------------------------------------------------------


def test_pod_gets_eth0_with_its_ip_lo_up_and_default_route(podnet):
    pid, uid, net = podnet.pod("web")
    network = ipaddress.IPv4Network(podnet.config.cidr)
    assert ipaddress.IPv4Address(net.ip) in network
    assert net.gateway == str(network[1])
    assert net.prefix == 24
    assert net.host_veth == host_veth_name(uid)

    links = in_netns(pid, BUSYBOX, "ip", "-o", "link").stdout
    assert "eth0" in links and "lo:" in links
    addr = in_netns(pid, BUSYBOX, "ip", "-o", "-4", "addr", "show", "dev", "eth0").stdout
    assert f"inet {net.ip}/24" in addr
    eth0 = in_netns(pid, BUSYBOX, "ip", "link", "show", "eth0").stdout
    assert ",UP" in eth0 and net.mac in eth0
    lo = in_netns(pid, BUSYBOX, "ip", "link", "show", "lo").stdout
    assert ",UP" in lo
    routes = in_netns(pid, BUSYBOX, "ip", "route").stdout
    assert f"default via {net.gateway} dev eth0" in routes

    # Host side: the veth is a port of the bridge, up, with the bridge's MTU.
    bridge_mtu = (SYS_NET / podnet.config.bridge / "mtu").read_text()
    assert os.path.basename(os.readlink(SYS_NET / net.host_veth / "master")) == (
        podnet.config.bridge
    )
    assert (SYS_NET / net.host_veth / "operstate").read_text().strip() == "up"
    assert (SYS_NET / net.host_veth / "mtu").read_text() == bridge_mtu
    assert f"mtu {bridge_mtu.strip()}" in eth0

    # IPAM recorded it, by pod uid.
    assert {str(ip): a.pod_uid for ip, a in podnet.config.ipam.allocations().items()} == {
        net.ip: uid
    }


def test_host_reaches_the_pod_ip(podnet):
    pid, _, net = podnet.pod("web")
    ping = subprocess.run(
        [BUSYBOX, "ping", "-c", "1", "-W", "5", net.ip], capture_output=True, text=True
    )
    assert ping.returncode == 0, ping.stdout + ping.stderr

    listener = Listener(pid, "web")
    try:
        with socket.create_connection((net.ip, 8080), timeout=5) as s:
            assert s.recv(100).decode() == f"hello from web to {net.gateway}"
    finally:
        listener.stop()


def test_two_pods_reach_each_other_by_ip(podnet):
    pid_a, _, net_a = podnet.pod("server")
    pid_b, _, net_b = podnet.pod("client")
    assert net_a.ip != net_b.ip

    listener = Listener(pid_a, "server")
    try:
        result = in_netns(pid_b, sys.executable, "-c", CONNECT, net_a.ip)
    finally:
        listener.stop()
    assert result.stdout.strip() == f"hello from server to {net_b.ip}", (
        f"pod {net_b.ip} could not reach pod {net_a.ip}: {result.stderr.strip()}; "
        + _forwarding_diagnosis()
    )


def test_twenty_pods_set_up_concurrently_get_distinct_ips(podnet):
    pids = [podnet.holders.start() for _ in range(20)]
    uids = [podnet.new_uid() for _ in pids]

    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=20) as pool:
        nets = list(
            pool.map(
                lambda i: setup_pod_network(pids[i], uids[i], f"pod-{i}", podnet.config),
                range(20),
            )
        )
    elapsed = time.monotonic() - start
    print(f"\n20 concurrent pod networks set up in {elapsed:.2f}s")

    ips = [n.ip for n in nets]
    assert len(set(ips)) == 20
    assert len({n.host_veth for n in nets}) == 20
    for pid, net in zip(pids, nets, strict=True):
        addr = in_netns(pid, BUSYBOX, "ip", "-o", "-4", "addr", "show", "dev", "eth0").stdout
        assert f"inet {net.ip}/24" in addr
    on_disk = podnet.config.ipam.allocations()
    assert {str(ip): a.pod_uid for ip, a in on_disk.items()} == dict(zip(ips, uids, strict=True))

    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=20) as pool:
        list(pool.map(lambda uid: teardown_pod_network(uid, podnet.config), uids))
    print(f"20 concurrent pod networks torn down in {time.monotonic() - start:.2f}s")
    assert not [n.host_veth for n in nets if _link_exists(n.host_veth)]
    assert podnet.config.ipam.allocations() == {}


def test_teardown_removes_veth_frees_ip_and_is_idempotent(podnet):
    pid, uid, net = podnet.pod("web")
    assert _link_exists(net.host_veth)

    teardown_pod_network(uid, podnet.config)
    assert not _link_exists(net.host_veth)
    assert podnet.config.ipam.lookup(uid) is None
    links = in_netns(pid, BUSYBOX, "ip", "-o", "link").stdout
    assert "eth0" not in links  # the pair went away with its host end

    teardown_pod_network(uid, podnet.config)  # again: nothing to do, no error


def test_teardown_after_the_pod_namespace_is_gone(podnet):
    _, uid, net = podnet.pod("web")
    podnet.holders.stop_all()  # the pause process died: the kernel removes the pair
    deadline = time.monotonic() + 10
    while _link_exists(net.host_veth) and time.monotonic() < deadline:
        time.sleep(0.05)
    teardown_pod_network(uid, podnet.config)
    assert not _link_exists(net.host_veth)
    assert podnet.config.ipam.allocations() == {}


def test_setting_up_the_same_pod_again_keeps_its_ip(podnet):
    pid, uid, first = podnet.pod("web")
    again = setup_pod_network(pid, uid, "web", podnet.config)
    assert again.ip == first.ip
    assert again.host_veth == first.host_veth
    addr = in_netns(pid, BUSYBOX, "ip", "-o", "-4", "addr", "show", "dev", "eth0").stdout
    assert f"inet {again.ip}/24" in addr
    assert len(podnet.config.ipam.allocations()) == 1


def test_failed_setup_leaves_no_veth_and_no_ip(podnet):
    pid = podnet.holders.start()
    # Something already holds the name eth0 in the pod's namespace.
    made = in_netns(pid, BUSYBOX, "ip", "link", "add", "eth0", "type", "bridge")
    assert made.returncode == 0, made.stderr
    uid = podnet.new_uid()
    with pytest.raises(NetworkError, match=r"create veth veth[0-9a-f]{8} <-> eth0 for pod web"):
        setup_pod_network(pid, uid, "web", podnet.config)
    assert not _link_exists(host_veth_name(uid))
    assert podnet.config.ipam.allocations() == {}


def test_a_bridge_deleted_under_the_agent_is_made_again_for_the_next_pod(podnet):
    podnet.pod("first")  # the bridge is known to this process from now on
    assert subprocess.run(["ip", "link", "del", podnet.config.bridge]).returncode == 0
    _, _, net = podnet.pod("second")
    assert _link_exists(podnet.config.bridge)
    ping = subprocess.run(
        [BUSYBOX, "ping", "-c", "1", "-W", "5", net.ip], capture_output=True, text=True
    )
    assert ping.returncode == 0, ping.stdout + ping.stderr


def test_dead_pod_namespace_is_a_clear_error_and_leaves_nothing(podnet):
    pid = podnet.holders.start()
    podnet.holders.stop_all()
    uid = podnet.new_uid()
    with pytest.raises(NetworkError, match=rf"open network namespace /proc/{pid}/ns/net"):
        setup_pod_network(pid, uid, "web", podnet.config)
    assert podnet.config.ipam.allocations() == {}


def test_bridge_is_idempotent_and_holds_the_gateway(podnet):
    cfg = podnet.config
    results: list = []

    def ensure() -> None:
        results.append(ensure_bridge(cfg.bridge, cfg.cidr))

    threads = [threading.Thread(target=ensure) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 8
    assert len({b.index for b in results}) == 1
    gateway = str(ipaddress.IPv4Network(cfg.cidr)[1])
    with IPRoute() as ipr:
        addrs = [m.get("IFA_ADDRESS") for m in ipr.get_addr(family=2, index=results[0].index)]
    assert addrs == [gateway]
    assert int((SYS_NET / cfg.bridge / "flags").read_text(), 16) & 0x1  # IFF_UP


def test_bridge_refuses_a_cidr_already_on_another_interface(podnet):
    ensure_bridge(podnet.config.bridge, podnet.config.cidr)
    other = "mkt" + secrets.token_hex(3)
    try:
        with pytest.raises(NetworkError, match=rf"overlaps .* on interface {podnet.config.bridge}"):
            ensure_bridge(other, podnet.config.cidr)
    finally:
        remove_bridge(other)
    assert not _link_exists(other)


def test_removing_an_absent_bridge_is_fine():
    assert remove_bridge("mkt" + secrets.token_hex(3)) is False


def test_ipam_state_lives_under_the_state_root(podnet):
    _, uid, net = podnet.pod("web")
    state = podnet.config.state_root / "network" / podnet.config.bridge
    assert (state / net.ip).read_text() == f"{uid}\nweb\n"
    assert IPAM.for_network(
        podnet.config.state_root, podnet.config.bridge, podnet.config.cidr
    ).lookup(uid) == ipaddress.IPv4Address(net.ip)


def test_garbage_collection_tears_down_pods_the_agent_no_longer_knows(podnet):
    _, keep_uid, keep = podnet.pod("kept")
    _, gone_uid, gone = podnet.pod("forgotten")
    # A new program (an agent after a crash) knows only the first pod.
    assert collect_garbage([keep_uid], podnet.config) == [gone_uid]
    assert not _link_exists(gone.host_veth)
    assert _link_exists(keep.host_veth)
    assert [a.pod_uid for a in podnet.config.ipam.allocations().values()] == [keep_uid]

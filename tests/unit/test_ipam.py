"""Host-local IPAM: distinct addresses, persisted, released, never shared across processes."""

from __future__ import annotations

import ipaddress
import multiprocessing
import os
import threading

import pytest

from minikube_py.errors import MinikubeError, NetworkError
from minikube_py.network.ipam import IPAM


def ip(s: str) -> ipaddress.IPv4Address:
    return ipaddress.IPv4Address(s)


def test_sequential_allocations_are_distinct_and_skip_network_gateway_broadcast(tmp_path):
    ipam = IPAM(tmp_path, "10.9.0.0/29")  # .0 network, .1 gateway, .7 broadcast
    got = [ipam.allocate(f"pod-{i}") for i in range(5)]
    assert got == [ip(f"10.9.0.{n}") for n in range(2, 7)]
    assert ipam.gateway == ip("10.9.0.1")


def test_exhausted_cidr_says_no_free_ip(tmp_path):
    ipam = IPAM(tmp_path, "10.9.0.0/29")
    for i in range(5):
        ipam.allocate(f"pod-{i}")
    with pytest.raises(NetworkError, match=r"no free IP in CIDR 10\.9\.0\.0/29") as err:
        ipam.allocate("one-too-many")
    assert isinstance(err.value, MinikubeError)
    assert str(tmp_path) in str(err.value)


def test_explicit_gateway_is_never_handed_out(tmp_path):
    ipam = IPAM(tmp_path, "10.9.0.0/29", gateway="10.9.0.4")
    got = {ipam.allocate(f"pod-{i}") for i in range(5)}
    assert got == {ip(f"10.9.0.{n}") for n in (1, 2, 3, 5, 6)}


def test_allocation_file_records_pod_uid_and_owner(tmp_path):
    ipam = IPAM(tmp_path, "10.9.0.0/24")
    addr = ipam.allocate("uid-123", "default/web sandbox=abc")
    assert (tmp_path / str(addr)).read_text() == "uid-123\ndefault/web sandbox=abc\n"
    assert ipam.lookup("uid-123") == addr
    assert ipam.allocations()[addr].owner == "default/web sandbox=abc"
    # Only the allocation, the lock and the round-robin marker: no temp files left.
    assert sorted(os.listdir(tmp_path)) == sorted([str(addr), "lock", "last_reserved_ip"])


def test_same_pod_gets_its_address_back(tmp_path):
    ipam = IPAM(tmp_path, "10.9.0.0/24")
    first = ipam.allocate("uid-a")
    assert ipam.allocate("uid-a") == first
    assert len(ipam.allocations()) == 1


def test_release_frees_the_address_and_is_idempotent(tmp_path):
    ipam = IPAM(tmp_path, "10.9.0.0/24")
    addr = ipam.allocate("uid-a")
    assert ipam.release("uid-a") == [addr]
    assert ipam.release("uid-a") == []
    assert ipam.release("never-allocated") == []
    assert ipam.lookup("uid-a") is None
    assert not (tmp_path / str(addr)).exists()


def test_released_address_is_reused_only_after_round_robin(tmp_path):
    ipam = IPAM(tmp_path, "10.9.0.0/29")
    a = ipam.allocate("uid-a")
    ipam.allocate("uid-b")
    ipam.release("uid-a")
    # Like CNI host-local: the search continues after the last reserved address.
    assert ipam.allocate("uid-c") == ip("10.9.0.4")
    for uid in ("uid-d", "uid-e"):
        ipam.allocate(uid)
    # Wrapped around: the released address is the only free one left.
    assert ipam.allocate("uid-f") == a


def test_allocations_persist_across_ipam_objects(tmp_path):
    first = IPAM.for_network(tmp_path, "mkpy0", "10.9.0.0/24")
    addrs = {first.allocate(f"uid-{i}") for i in range(3)}
    assert first.dir == tmp_path / "network" / "mkpy0"

    # A restarted program: a new object over the same directory.
    again = IPAM.for_network(tmp_path, "mkpy0", "10.9.0.0/24")
    assert set(again.allocations()) == addrs
    assert again.lookup("uid-1") in addrs
    new = again.allocate("uid-new")
    assert new not in addrs
    assert new == max(addrs) + 1  # continues after the last reserved, not from the start


def test_invalid_cidr_and_gateway_are_network_errors(tmp_path):
    with pytest.raises(NetworkError, match="invalid pod CIDR"):
        IPAM(tmp_path, "10.9.0.1/24")
    with pytest.raises(NetworkError, match="too small"):
        IPAM(tmp_path, "10.9.0.0/31")
    with pytest.raises(NetworkError, match="outside the pod CIDR"):
        IPAM(tmp_path, "10.9.0.0/24", gateway="10.9.1.1")


def test_threads_never_share_an_address(tmp_path):
    ipam = IPAM(tmp_path, "10.9.0.0/24")
    results: list[ipaddress.IPv4Address] = []
    lock = threading.Lock()

    def worker(n: int) -> None:
        for i in range(10):
            addr = IPAM(tmp_path, "10.9.0.0/24").allocate(f"t{n}-{i}")
            with lock:
                results.append(addr)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 80
    assert len(set(results)) == 80
    assert set(ipam.allocations()) == set(results)


def _allocate_in_process(state_dir: str, cidr: str, proc: int, count: int, queue) -> None:
    got = []
    for i in range(count):
        uid = f"p{proc}-{i}"
        try:
            got.append((uid, str(IPAM(state_dir, cidr).allocate(uid))))
        except NetworkError as e:
            got.append((uid, f"error: {e}"))
    queue.put(got)


def _run_processes(state_dir: str, cidr: str, procs: int, count: int) -> list[tuple[str, str]]:
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    workers = [
        ctx.Process(target=_allocate_in_process, args=(state_dir, cidr, n, count, queue))
        for n in range(procs)
    ]
    for w in workers:
        w.start()
    results = []
    for _ in workers:
        results.extend(queue.get(timeout=60))
    for w in workers:
        w.join(timeout=60)
        assert w.exitcode == 0
    return results


def test_concurrent_processes_never_share_an_address(tmp_path):
    results = _run_processes(str(tmp_path), "10.9.0.0/24", procs=8, count=10)
    assert len(results) == 80
    addrs = [a for _, a in results]
    assert not [a for a in addrs if a.startswith("error")]
    assert len(set(addrs)) == 80
    on_disk = IPAM(tmp_path, "10.9.0.0/24").allocations()
    assert {str(a): al.pod_uid for a, al in on_disk.items()} == dict((a, uid) for uid, a in results)


def test_concurrent_processes_exhaust_a_small_cidr_exactly(tmp_path):
    # A /27 has 32 - network - broadcast - gateway = 29 pod addresses.
    results = _run_processes(str(tmp_path), "10.9.0.0/27", procs=4, count=10)
    ok = [a for _, a in results if not a.startswith("error")]
    failed = [a for _, a in results if a.startswith("error")]
    assert len(ok) == 29
    assert len(set(ok)) == 29
    assert len(failed) == 11
    assert all("no free IP in CIDR 10.9.0.0/27" in f for f in failed)

"""Host-local IPAM: pod IPs handed out from one CIDR, persisted one file per address.

The layout follows CNI's host-local plugin, so it reads the same way on disk:

    <state-root>/network/<name>/
        lock                 flock(2)ed around every change, across processes
        last_reserved_ip     where the next search starts (round robin)
        10.244.0.2           one file per allocated IP: "<pod uid>\\n<owner>\\n"

An allocation file is created with link(2) from a fully written temporary
file, so it either exists complete or not at all, and link fails if the name
is taken: even a caller that bypassed the lock could not hand an IP out twice.

Nothing is fsynced, as host-local does not: the files outlive the agent (a
killed agent leaves them in the page cache), and what a machine crash could
lose goes with the crash anyway (veths, sandboxes); the agent's garbage
collection frees every address whose pod is gone.  An fsync costs 3-7 ms
here, and three were on every pod start's path.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from minikube_py.errors import NetworkError
from oci.fsutil import atomic_write

LOCK_FILE = "lock"
LAST_RESERVED_FILE = "last_reserved_ip"


@dataclass(frozen=True)
class Allocation:
    ip: ipaddress.IPv4Address
    pod_uid: str
    owner: str


class IPAM:
    """Allocates addresses of `cidr` to pods; state lives in `state_dir`.

    The network address, the gateway (default: the first usable address) and
    the broadcast address are never handed out. Safe to use from many threads
    and processes at once: every change happens under an exclusive flock.
    """

    def __init__(self, state_dir: str | os.PathLike[str], cidr: str, gateway: str | None = None):
        try:
            self.network = ipaddress.IPv4Network(cidr)
        except ValueError as e:
            raise NetworkError(f"invalid pod CIDR {cidr!r}: {e}") from None
        if self.network.prefixlen > 30:
            raise NetworkError(f"pod CIDR {cidr} is too small: need at least a /30")
        self.gateway = ipaddress.IPv4Address(gateway) if gateway else self.network[1]
        if self.gateway not in self.network:
            raise NetworkError(f"gateway {self.gateway} is outside the pod CIDR {cidr}")
        self.dir = Path(state_dir)
        self._first = int(self.network.network_address) + 1
        self._last = int(self.network.broadcast_address) - 1

    @classmethod
    def for_network(
        cls, state_root: str | os.PathLike[str], name: str, cidr: str, gateway: str | None = None
    ) -> IPAM:
        """The IPAM of network (bridge) `name` under `<state_root>/network/<name>/`."""
        return cls(Path(state_root) / "network" / name, cidr, gateway)

    # -- queries -----------------------------------------------------------------------

    def allocations(self) -> dict[ipaddress.IPv4Address, Allocation]:
        """Every address currently allocated, with its owner."""
        found = {}
        for ip in self._allocated_ips():
            alloc = self._read(ip)
            if alloc is not None:
                found[ip] = alloc
        return found

    def lookup(self, pod_uid: str) -> ipaddress.IPv4Address | None:
        """The address allocated to `pod_uid`, if any."""
        for ip, alloc in self.allocations().items():
            if alloc.pod_uid == pod_uid:
                return ip
        return None

    # -- changes -----------------------------------------------------------------------

    def allocate(self, pod_uid: str, owner: str = "") -> ipaddress.IPv4Address:
        """Reserve a free address for `pod_uid` and return it.

        A pod that already holds an address gets that one back, so a retried
        sandbox start does not leak addresses. The search starts after the
        last address reserved, as host-local does, so a just-released address
        is not reused at once.
        """
        if not pod_uid or "\n" in pod_uid or "\n" in owner:
            raise NetworkError(f"IPAM {self.dir}: invalid pod uid {pod_uid!r} or owner {owner!r}")
        with self._locked():
            existing = self.lookup(pod_uid)
            if existing is not None:
                return existing
            taken = set(self._allocated_ips())
            for candidate in self._candidates():
                if candidate in taken or candidate == self.gateway:
                    continue
                if self._reserve(candidate, pod_uid, owner):
                    self._write_last_reserved(candidate)
                    return candidate
        raise NetworkError(
            f"no free IP in CIDR {self.network}: all {self._last - self._first} pod addresses "
            f"are allocated (see {self.dir})"
        )

    def release(self, pod_uid: str) -> list[ipaddress.IPv4Address]:
        """Free every address held by `pod_uid`; returns them. Releasing twice is fine."""
        released = []
        with self._locked():
            for ip, alloc in self.allocations().items():
                if alloc.pod_uid == pod_uid:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(self.dir / str(ip))
                    released.append(ip)
        return released

    # -- internals ---------------------------------------------------------------------

    def _candidates(self) -> Iterator[ipaddress.IPv4Address]:
        last = self._read_last_reserved()
        start = int(last) + 1 if last is not None else self._first
        if not self._first <= start <= self._last:
            start = self._first
        size = self._last - self._first + 1
        for offset in range(size):
            value = self._first + (start - self._first + offset) % size
            yield ipaddress.IPv4Address(value)

    def _reserve(self, ip: ipaddress.IPv4Address, pod_uid: str, owner: str) -> bool:
        final = self.dir / str(ip)
        tmp = self.dir / f".tmp-{ip}-{os.getpid()}-{threading.get_ident()}"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
            try:
                os.write(fd, f"{pod_uid}\n{owner}\n".encode())
            finally:
                os.close(fd)
            try:
                os.link(tmp, final)
            except FileExistsError:
                return False
            finally:
                os.unlink(tmp)
        except OSError as e:
            raise NetworkError(
                f"IPAM: cannot record allocation of {ip} in {final}: {e.strerror} (errno {e.errno})"
            ) from None
        return True

    def _allocated_ips(self) -> list[ipaddress.IPv4Address]:
        try:
            names = os.listdir(self.dir)
        except FileNotFoundError:
            return []
        except OSError as e:
            raise NetworkError(f"IPAM: cannot list {self.dir}: {e.strerror}") from None
        ips = []
        for name in names:
            try:
                ip = ipaddress.IPv4Address(name)
            except ValueError:
                continue
            if ip in self.network:
                ips.append(ip)
        return sorted(ips)

    def _read(self, ip: ipaddress.IPv4Address) -> Allocation | None:
        try:
            text = (self.dir / str(ip)).read_text()
        except FileNotFoundError:
            return None
        lines = text.split("\n")
        return Allocation(ip, lines[0], lines[1] if len(lines) > 1 else "")

    def _read_last_reserved(self) -> ipaddress.IPv4Address | None:
        try:
            return ipaddress.IPv4Address((self.dir / LAST_RESERVED_FILE).read_text().strip())
        except (FileNotFoundError, ValueError):
            return None

    def _write_last_reserved(self, ip: ipaddress.IPv4Address) -> None:
        try:
            path = os.fspath(self.dir / LAST_RESERVED_FILE)
            atomic_write(path, f"{ip}\n", perm=0o644, durable=False)
        except OSError as e:
            raise NetworkError(
                f"IPAM: cannot write {self.dir / LAST_RESERVED_FILE}: {e.strerror}"
            ) from None

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        # A fresh open file description per call: flock then also excludes
        # other threads of this process, not only other processes.
        path = self.dir / LOCK_FILE
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as e:
            raise NetworkError(f"IPAM: cannot open lock file {path}: {e.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

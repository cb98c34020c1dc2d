"""Small pyroute2 helpers shared by the bridge and the pod network."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError
from pyroute2.netns import setns

from minikube_py.errors import NetworkError


def strerror(e: NetlinkError) -> str:
    return f"{os.strerror(e.code)} (errno {e.code})"


def call(what: str, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run one netlink request; a failure becomes a NetworkError saying `what` failed."""
    try:
        return func(*args, **kwargs)
    except NetlinkError as e:
        raise NetworkError(f"{what}: {strerror(e)}") from None


@contextlib.contextmanager
def iproute_in_netns(ns_fd: int, what: str) -> Iterator[IPRoute]:
    """An IPRoute whose netlink socket lives in the network namespace `ns_fd`.

    A socket stays in the namespace it was created in, so a short-lived thread
    enters the namespace (setns only moves the calling thread), creates the
    socket and ends. This avoids pyroute2's netns mode, which forks a helper
    process per socket, and never touches the namespace of any other thread.
    """
    result: dict[str, Any] = {}

    def create() -> None:
        try:
            setns(ns_fd)
            result["sock"] = socket.socket(
                socket.AF_NETLINK, socket.SOCK_DGRAM, socket.NETLINK_ROUTE
            )
        except OSError as e:
            result["error"] = e

    thread = threading.Thread(target=create, name="netns-socket")
    thread.start()
    thread.join()
    if "error" in result:
        e = result["error"]
        reason = f"{os.strerror(e.errno)} (errno {e.errno})" if e.errno else str(e)
        raise NetworkError(f"setns into the network namespace of {what}: {reason}") from None
    ipr = IPRoute(fileno=result["sock"].detach())
    try:
        yield ipr
    finally:
        ipr.close()

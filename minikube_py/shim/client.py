"""The agent's side of the shim: a RuntimeService over <run-dir>/shim.sock.

`ShimClient.connect(run_dir)` starts the shim when none answers, detached from
the agent (own session, no inherited fds), and waits for its readiness pipe.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading

from minikube_py.kubelet.runtime_service import ContainerInfo, ExitCallback, ExitEvent
from minikube_py.shim import SOCKET_NAME
from runtime.errors import RuntimeErr, StartError
from runtime.spec import Spec

_BOOT = (
    "import sys; sys.path[:0] = sys.argv[3:]; "
    "from minikube_py.shim.server import main; main(sys.argv[1], int(sys.argv[2]))"
)


class RemoteStartError(StartError):
    """A StartError raised in the shim, with its fields and message."""

    def __init__(self, d: dict):
        RuntimeErr.__init__(self, d["message"])
        self.container_id, self.step = d.get("container_id", ""), d.get("step", "")
        self.path, self.errno = d.get("path"), d.get("errno", 0)


class ShimError(RuntimeErr):
    pass


def _import_paths() -> list[str]:
    import prctl

    import runtime

    paths = [os.path.dirname(os.path.dirname(os.path.abspath(runtime.__file__)))]
    paths.append(os.path.dirname(os.path.abspath(prctl.__file__)))
    import _prctl

    paths.append(os.path.dirname(os.path.abspath(_prctl.__file__)))
    return list(dict.fromkeys(paths))


def start_shim(run_dir: str) -> None:
    os.makedirs(run_dir, mode=0o700, exist_ok=True)
    ready_r, ready_w = os.pipe()
    log = open(os.path.join(run_dir, "shim.log"), "ab")  # noqa: SIM115 - handed to the child
    try:
        subprocess.Popen(
            [sys.executable, "-E", "-S", "-c", _BOOT, run_dir, str(ready_w), *_import_paths()],
            pass_fds=[ready_w],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
    finally:
        log.close()
        os.close(ready_w)
    with os.fdopen(ready_r, "rb") as ready:
        if ready.readline() != b"ready\n":
            raise ShimError(f"the shim did not start: see {os.path.join(run_dir, 'shim.log')}")


class ShimClient:
    """Calls go over one connection per calling thread: the shim serves each
    connection on a thread of its own, so pod workers do not queue behind one
    another (a container create waits ~10-25 ms for its init's report)."""

    def __init__(self, sock_path: str):
        self.sock_path = sock_path
        self._local = threading.local()
        self._all: list[socket.socket] = []
        self._lock = threading.Lock()
        self._callbacks: list[ExitCallback] = []
        self._subscriber: socket.socket | None = None
        self._connection()  # fail now if no shim answers

    @classmethod
    def connect(cls, run_dir: str) -> ShimClient:
        path = os.path.join(run_dir, SOCKET_NAME)
        try:
            return cls(path)
        except (FileNotFoundError, ConnectionRefusedError):
            start_shim(run_dir)
            return cls(path)

    def _open(self) -> socket.socket:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(self.sock_path)
        except OSError:
            s.close()
            raise
        return s

    def _connection(self) -> tuple[socket.socket, object]:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            sock = self._open()
            conn = self._local.conn = (sock, sock.makefile("rb"))
            with self._lock:
                self._all.append(sock)
        return conn

    def _call(self, request: dict):
        sock, f = self._connection()
        try:
            sock.sendall(json.dumps(request).encode() + b"\n")
            line = f.readline()
        except OSError as e:
            raise ShimError(f"shim at {self.sock_path}: {e.strerror or e}") from e
        if not line:
            raise ShimError(f"shim at {self.sock_path} closed the connection")
        reply = json.loads(line)
        error = reply.get("error")
        if error:
            if error.get("type") == "StartError":
                raise RemoteStartError(error)
            raise ShimError(error["message"])
        return reply["ok"]

    # -- RuntimeService ---------------------------------------------------------

    def create(self, cid: str, spec: Spec, log_path: str | None) -> int:
        return self._call({"op": "create", "id": cid, "spec": spec.to_dict(), "log_path": log_path})

    def start(self, cid: str) -> None:
        self._call({"op": "start", "id": cid})

    def kill(self, cid: str, sig: int, all_processes: bool = False) -> None:
        self._call({"op": "kill", "id": cid, "signal": int(sig), "all": all_processes})

    def delete(self, cid: str) -> None:
        self._call({"op": "delete", "id": cid})

    def list(self) -> dict[str, ContainerInfo]:
        return {d["id"]: ContainerInfo.from_dict(d) for d in self._call({"op": "list"})}

    def pid(self) -> int:
        return self._call({"op": "ping"})

    def shutdown(self, force: bool = False) -> None:
        self._call({"op": "shutdown", "force": force})

    def subscribe(self, callback: ExitCallback) -> None:
        self._callbacks.append(callback)
        if self._subscriber is None:
            sub = self._open()
            sub.sendall(b'{"op": "subscribe"}\n')
            f = sub.makefile("rb")
            if not json.loads(f.readline()).get("ok"):
                raise ShimError("shim refused the subscription")
            self._subscriber = sub
            threading.Thread(target=self._listen, args=(f,), name="shim-exits", daemon=True).start()

    def _listen(self, f) -> None:
        for line in f:
            event = ExitEvent(**json.loads(line)["exit"])
            for callback in list(self._callbacks):
                callback(event)

    def close(self) -> None:
        with self._lock:
            sockets, self._all = self._all, []
        for sock in [*sockets, self._subscriber]:
            if sock is not None:
                sock.close()

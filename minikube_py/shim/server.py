"""The shim process: a LocalRuntimeService served over a Unix socket, JSON lines.

Requests: {"op": "create"|"start"|"kill"|"delete"|"list"|"subscribe"|"ping"|"shutdown", ...}
Replies:  {"ok": ...} or {"error": {"type": ..., "message": ..., ...}}.
A "subscribe" connection then receives {"exit": {...}} lines as containers exit.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sys
import threading

from minikube_py.kubelet.runtime_service import ExitEvent, LocalRuntimeService
from minikube_py.shim import PID_FILE, SOCKET_NAME
from runtime.errors import RuntimeErr, StartError
from runtime.spec import Spec


class ShimServer:
    def __init__(self, run_dir: str):
        self.run_dir = run_dir
        self.runtime = LocalRuntimeService(run_dir)
        self.runtime.subscribe(self._on_exit)
        self._subscribers: list[socket.socket] = []
        self._lock = threading.Lock()
        self._done = threading.Event()
        self.sock_path = os.path.join(run_dir, SOCKET_NAME)

    def listen(self) -> socket.socket:
        os.makedirs(self.run_dir, mode=0o700, exist_ok=True)
        if os.path.exists(self.sock_path):
            os.unlink(self.sock_path)  # a dead shim's; a live one would have answered
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)
        try:
            sock.bind(self.sock_path)
        finally:
            os.umask(old)
        sock.listen(64)
        with open(os.path.join(self.run_dir, PID_FILE), "w") as f:
            f.write(f"{os.getpid()}\n")
        return sock

    def serve(self, sock: socket.socket) -> None:
        threading.Thread(target=self._accept, args=(sock,), daemon=True).start()
        self._done.wait()
        sock.close()
        for path in (self.sock_path, os.path.join(self.run_dir, PID_FILE)):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)

    def _accept(self, sock: socket.socket) -> None:
        while not self._done.is_set():
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        f = conn.makefile("rb")
        try:
            for line in f:
                request = json.loads(line)
                if request.get("op") == "subscribe":
                    with self._lock:
                        self._subscribers.append(conn)
                    self._send(conn, {"ok": True})
                    continue
                self._send(conn, self._dispatch(request))
        except (OSError, ValueError):
            pass
        finally:
            with self._lock:
                if conn in self._subscribers:
                    self._subscribers.remove(conn)
            conn.close()

    def _dispatch(self, r: dict) -> dict:
        rt = self.runtime
        try:
            op = r["op"]
            if op == "ping":
                return {"ok": os.getpid()}
            if op == "create":
                return {"ok": rt.create(r["id"], Spec.from_dict(r["spec"]), r.get("log_path"))}
            if op == "start":
                rt.start(r["id"])
            elif op == "kill":
                rt.kill(r["id"], r["signal"], r.get("all", False))
            elif op == "delete":
                rt.delete(r["id"])
            elif op == "list":
                return {"ok": [info.to_dict() for info in rt.list().values()]}
            elif op == "shutdown":
                if rt.list() and not r.get("force"):
                    return {
                        "error": {"type": "RuntimeErr", "message": "shim: containers still exist"}
                    }
                for cid in list(rt.list()):
                    rt.delete(cid)
                self._done.set()
            else:
                return {"error": {"type": "RuntimeErr", "message": f"shim: unknown op {op!r}"}}
            return {"ok": True}
        except StartError as e:
            return {
                "error": {
                    "type": "StartError",
                    "message": str(e),
                    "container_id": e.container_id,
                    "step": e.step,
                    "path": e.path,
                    "errno": e.errno,
                }
            }
        except (RuntimeErr, OSError) as e:
            return {"error": {"type": "RuntimeErr", "message": str(e)}}

    def _on_exit(self, event: ExitEvent) -> None:
        line = {"exit": event.__dict__}
        with self._lock:
            subscribers = list(self._subscribers)
        for conn in subscribers:
            with contextlib.suppress(OSError):
                self._send(conn, line)

    @staticmethod
    def _send(conn: socket.socket, message: dict) -> None:
        conn.sendall(json.dumps(message).encode() + b"\n")


def main(run_dir: str, ready_fd: int) -> None:
    # The agent's terminal and its death must not reach us.
    for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda *_: server._done.set())
    server = ShimServer(run_dir)
    sock = server.listen()
    os.write(ready_fd, b"ready\n")
    os.close(ready_fd)
    server.serve(sock)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))

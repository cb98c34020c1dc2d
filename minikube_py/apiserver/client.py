"""A lean client for the agent's API over its Unix socket.

It speaks the little HTTP/1.1 it needs itself (Content-Length and chunked bodies, keep-alive):
``http.client`` alone costs ~30 ms of imports (email, ssl) and ``requests`` far more, and every
CLI command pays them before saying anything.  For the same reason it imports neither
``socket`` nor ``json`` nor ``typing`` (each pulls in ``enum`` or ``re``): the C ``_socket``
under an ``io`` buffer, and ``minikube_py.leanjson``.

    c = Client("/run/minikube-py/api.sock")
    pods = c.list("pods", "default")["items"]
    for type_, pod in c.watch("pods", "default", resource_version=rv): ...

Failed requests raise ``APIError`` (from the server's ``Status``); a missing or refused socket
raises ``AgentUnreachable`` with the message a user needs.
"""

from __future__ import annotations

import _socket
import errno
import io
import sys

from minikube_py import leanjson as json
from minikube_py.apiserver.errors import APIError
from minikube_py.errors import MinikubeError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

# what a namespace or name is made of: no quoting needed (anything else is quoted)
_PLAIN = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-.")


class AgentUnreachable(MinikubeError):
    """The agent's socket is missing, refuses connections or is not ours to use."""


class _Response:
    """An HTTP/1.1 response read from the socket: status, headers, a body by Content-Length
    or chunked transfer, read whole (``read``), by pieces (``read1``) or by lines."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        status_line = stream.readline(65537)
        if not status_line:
            raise ConnectionResetError("the agent closed the connection")
        parts = status_line.split(None, 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/"):
            raise APIError(502, "", f"the agent sent a bad status line: {status_line[:80]!r}")
        self.status = int(parts[1])
        self.headers: dict[str, str] = {}
        self.warnings: list[str] = []
        while True:
            line = stream.readline(65537)
            if line in (b"\r\n", b"\n", b""):
                break
            key, _, value = line.decode("latin-1").partition(":")
            key, value = key.strip().lower(), value.strip()
            self.headers[key] = value
            if key == "warning":  # 299 - "text" (quoted string): several may come
                text = value.split(" ", 2)[-1]
                if len(text) >= 2 and text[0] == text[-1] == '"':
                    import re

                    text = re.sub(r"\\(.)", r"\1", text[1:-1])
                self.warnings.append(text)
        self.chunked = "chunked" in self.headers.get("transfer-encoding", "").lower()
        length = self.headers.get("content-length")
        self._left = int(length) if length is not None and not self.chunked else None
        self.will_close = self.headers.get("connection", "").lower() == "close" or (
            self._left is None and not self.chunked
        )
        self._buffer = b""
        self._done = False

    def _next_piece(self) -> bytes:
        """The next piece of the body (b"" at its end)."""
        if self._done:
            return b""
        if self.chunked:
            size_line = self._stream.readline(65537)
            if not size_line:
                raise ConnectionResetError("the agent closed the connection mid-stream")
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self._stream.readline(65537) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                self._done = True
                return b""
            data = self._stream.read(size)
            self._stream.readline(65537)  # the CRLF after the chunk
            return data
        if self._left is None:
            data = self._stream.read1(65536)
            self._done = not data
            return data
        if self._left == 0:
            self._done = True
            return b""
        data = self._stream.read1(min(self._left, 65536))
        if not data:
            raise ConnectionResetError("the agent closed the connection mid-answer")
        self._left -= len(data)
        return data

    def read1(self, _n: int = 65536) -> bytes:
        if self._buffer:
            data, self._buffer = self._buffer, b""
            return data
        return self._next_piece()

    def read(self) -> bytes:
        pieces = [self._buffer]
        self._buffer = b""
        while piece := self._next_piece():
            pieces.append(piece)
        return b"".join(pieces)

    def readline(self) -> bytes:
        while b"\n" not in self._buffer:
            piece = self._next_piece()
            if not piece:
                line, self._buffer = self._buffer, b""
                return line
            self._buffer += piece
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line + b"\n"


class _Connection:
    """One HTTP/1.1 connection over the agent's Unix socket."""

    def __init__(self, socket_path: str, timeout: float | None) -> None:
        sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(socket_path)
        except BaseException:
            sock.close()
            raise
        self.sock = sock
        self._stream = io.BufferedReader(_SocketReader(sock))

    def request(self, method: str, target: str, body: bytes | None) -> _Response:
        head = f"{method} {target} HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\n"
        if body is not None:
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        elif method in ("POST", "PUT"):
            head += "Content-Length: 0\r\n"
        self.sock.sendall(head.encode("latin-1") + b"\r\n" + (body or b""))
        return _Response(self._stream)

    def close(self) -> None:
        self._stream.close()
        self.sock.close()


class Client:
    def __init__(self, socket_path: str, *, timeout: float | None = 60.0) -> None:
        self.socket_path = socket_path
        self.timeout = timeout
        self._conn: _Connection | None = None

    # -------------------------------------------------------------------------- objects

    def get(self, resource: str, namespace: str, name: str) -> dict[str, Any]:
        return self.request("GET", object_path(resource, namespace, name))

    def list(
        self,
        resource: str,
        namespace: str | None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> dict[str, Any]:
        """A ``<Kind>List``; ``namespace`` None lists all namespaces."""
        query = _query(labelSelector=label_selector, fieldSelector=field_selector)
        return self.request("GET", collection_path(resource, namespace), query)

    def create(self, resource: str, namespace: str, obj: dict[str, Any]) -> dict[str, Any]:
        return self.request("POST", collection_path(resource, namespace), body=obj)

    def update(self, resource: str, namespace: str, name: str, obj: dict[str, Any]) -> dict:
        return self.request("PUT", object_path(resource, namespace, name), body=obj)

    def delete(
        self,
        resource: str,
        namespace: str,
        name: str,
        *,
        grace_period_seconds: int | None = None,
        uid: str | None = None,
    ) -> dict[str, Any]:
        options: dict[str, Any] = {"kind": "DeleteOptions", "apiVersion": "v1"}
        if grace_period_seconds is not None:
            options["gracePeriodSeconds"] = grace_period_seconds
        if uid:
            options["preconditions"] = {"uid": uid}
        return self.request("DELETE", object_path(resource, namespace, name), body=options)

    def watch(
        self,
        resource: str,
        namespace: str | None,
        *,
        resource_version: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        timeout_seconds: int | None = None,
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """``(type, object)`` until the server ends the stream; an ERROR event raises."""
        query = _query(
            watch="true",
            resourceVersion=resource_version,
            labelSelector=label_selector,
            fieldSelector=field_selector,
            timeoutSeconds=timeout_seconds,
        )
        conn, resp = self._open("GET", collection_path(resource, namespace), query, None, None)
        try:
            while True:
                line = self._streamed(resp.readline)
                if not line:
                    return
                if not line.strip():
                    continue
                event = json.loads(line)
                if event.get("type") == "ERROR":
                    raise APIError.from_status(event.get("object") or {}, 500)
                yield event["type"], event["object"]
        finally:
            conn.close()

    def log(
        self,
        namespace: str,
        name: str,
        *,
        container: str | None = None,
        follow: bool = False,
        previous: bool = False,
        tail_lines: int | None = None,
        timestamps: bool = False,
    ) -> Iterator[bytes]:
        """The container's output in pieces as they arrive (follow: until it ends)."""
        query = _query(
            container=container,
            follow="true" if follow else None,
            previous="true" if previous else None,
            tailLines=tail_lines,
            timestamps="true" if timestamps else None,
        )
        path = object_path("pods", namespace, name) + "/log"
        conn, resp = self._open("GET", path, query, None, None)
        try:
            while True:
                data = self._streamed(resp.read1)
                if not data:
                    return
                yield data
        finally:
            conn.close()

    # -------------------------------------------------------------------------- raw

    def get_text(self, path: str) -> bytes:
        """A non-JSON document (``/healthz``, ``/metrics``)."""
        conn, resp = self._open("GET", path, "", None, self.timeout)
        try:
            return resp.read()
        finally:
            conn.close()

    def request(
        self, method: str, path: str, query: str = "", body: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """One JSON request on a kept-alive connection; the decoded answer."""
        data = json.dumps(body).encode() if body is not None else None
        while True:
            reused = self._conn is not None
            conn = self._conn or self._connect(self.timeout)
            self._conn = None
            try:
                resp = self._send(conn, method, path, query, data)
                raw = resp.read()
            except (BrokenPipeError, ConnectionResetError) as e:
                conn.close()
                if reused:  # a kept-alive connection the server had closed: try a new one
                    continue
                raise AgentUnreachable(
                    f"lost the connection to the agent at {self.socket_path}: {e}"
                ) from None
            except OSError as e:  # a timeout, mostly
                conn.close()
                raise AgentUnreachable(
                    f"no answer from the agent at {self.socket_path}: {e.strerror or e}"
                ) from None
            if resp.will_close:
                conn.close()
            else:
                self._conn = conn
            for text in resp.warnings:
                sys.stderr.write(f"Warning: {text}\n")
            return _decode(raw, resp.status)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -------------------------------------------------------------------------- internals

    def _streamed(self, read: Any) -> bytes:
        try:
            return read()
        except (ConnectionError, OSError) as e:
            raise AgentUnreachable(
                f"lost the connection to the agent at {self.socket_path}: "
                f"{getattr(e, 'strerror', None) or e}"
            ) from None

    def _connect(self, timeout: float | None) -> _Connection:
        try:
            conn = _Connection(self.socket_path, timeout)
        except (FileNotFoundError, ConnectionRefusedError):
            raise AgentUnreachable(
                f"cannot reach the agent at {self.socket_path}: is `minikube-py agent` running?"
            ) from None
        except PermissionError:
            raise AgentUnreachable(
                f"permission denied on {self.socket_path}: the agent's API is for root only "
                "(run as root: sudo minikube-py ...)"
            ) from None
        except OSError as e:
            if e.errno in (errno.ENOTSOCK, errno.ECONNREFUSED, errno.ENOENT):
                raise AgentUnreachable(
                    f"cannot reach the agent at {self.socket_path}: is `minikube-py agent` running?"
                ) from None
            raise AgentUnreachable(
                f"cannot connect to the agent at {self.socket_path}: {e.strerror or e}"
            ) from None
        return conn

    def _send(
        self, conn: _Connection, method: str, path: str, query: str, data: bytes | None
    ) -> _Response:
        return conn.request(method, path + ("?" + query if query else ""), data)

    def _open(
        self,
        method: str,
        path: str,
        query: str,
        body: dict[str, Any] | None,
        timeout: float | None,
    ) -> tuple[_Connection, _Response]:
        """A request on its own connection, for a streamed answer (watch, logs)."""
        conn = self._connect(timeout)
        data = json.dumps(body).encode() if body is not None else None
        resp = self._send(conn, method, path, query, data)
        if resp.status >= 400:
            raw = resp.read()
            conn.close()
            _decode(raw, resp.status)
        return conn, resp


class _SocketReader(io.RawIOBase):
    """The read side of a C-level socket, for io.BufferedReader (socket.makefile's job)."""

    def __init__(self, sock: _socket.socket) -> None:
        self._sock = sock

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        return self._sock.recv_into(buffer)


def collection_path(resource: str, namespace: str | None) -> str:
    if namespace is None:
        return f"/api/v1/{resource}"
    return f"/api/v1/namespaces/{_quote(namespace)}/{resource}"


def object_path(resource: str, namespace: str, name: str) -> str:
    return f"{collection_path(resource, namespace)}/{_quote(name)}"


def _quote(segment: str) -> str:
    if segment and _PLAIN.issuperset(segment):
        return segment
    from urllib.parse import quote

    return quote(segment, safe="")


def _query(**params: Any) -> str:
    params = {k: v for k, v in params.items() if v is not None}
    if not params:
        return ""
    from urllib.parse import urlencode

    return urlencode(params)


def _decode(raw: bytes, status: int) -> dict[str, Any]:
    try:
        body = json.loads(raw) if raw.strip() else {}
    except ValueError:
        body = None
    if status >= 400:
        if isinstance(body, dict) and body.get("kind") == "Status":
            raise APIError.from_status(body, status)
        text = raw.decode("utf-8", "replace").strip() or f"HTTP {status}"
        raise APIError(status, "", f"the agent answered HTTP {status}: {text}")
    if not isinstance(body, dict):
        raise APIError(status, "", "the agent sent an answer that is not JSON")
    return body

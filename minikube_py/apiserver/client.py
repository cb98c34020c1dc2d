"""A lean client for the agent's API over its Unix socket (http.client; no requests: the CLI
pays for every import).

    c = Client("/run/minikube-py/api.sock")
    pods = c.list("pods", "default")["items"]
    for type_, pod in c.watch("pods", "default", resource_version=rv): ...

Failed requests raise ``APIError`` (from the server's ``Status``); a missing or refused socket
raises ``AgentUnreachable`` with the message a user needs.
"""

from __future__ import annotations

import errno
import http.client
import json
import socket
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlencode

from minikube_py.apiserver.errors import APIError
from minikube_py.errors import MinikubeError


class AgentUnreachable(MinikubeError):
    """The agent's socket is missing, refuses connections or is not ours to use."""


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, socket_path: str, timeout: float | None) -> None:
        super().__init__("localhost", timeout=timeout)
        self.socket_path = socket_path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        if self.timeout is not None:
            sock.settimeout(self.timeout)
        try:
            sock.connect(self.socket_path)
        except BaseException:
            sock.close()
            raise
        self.sock = sock


class Client:
    def __init__(self, socket_path: str, *, timeout: float | None = 60.0) -> None:
        self.socket_path = socket_path
        self.timeout = timeout
        self._conn: _UnixConnection | None = None

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
                line = resp.readline()
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
                data = resp.read1(65536)
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
        for attempt in (0, 1):
            conn = self._conn or self._connect(self.timeout)
            try:
                resp = self._send(conn, method, path, query, data)
                raw = resp.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                conn.close()
                self._conn = None
                if attempt:  # a kept-alive connection the server had closed: retry once
                    raise
                continue
            self._conn = conn
            if resp.will_close:
                conn.close()
                self._conn = None
            return _decode(raw, resp.status)
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -------------------------------------------------------------------------- internals

    def _connect(self, timeout: float | None) -> _UnixConnection:
        conn = _UnixConnection(self.socket_path, timeout)
        try:
            conn.connect()
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
        self,
        conn: _UnixConnection,
        method: str,
        path: str,
        query: str,
        data: bytes | None,
    ) -> http.client.HTTPResponse:
        headers = {"Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        conn.request(method, path + ("?" + query if query else ""), body=data, headers=headers)
        return conn.getresponse()

    def _open(
        self,
        method: str,
        path: str,
        query: str,
        body: dict[str, Any] | None,
        timeout: float | None,
    ) -> tuple[_UnixConnection, http.client.HTTPResponse]:
        """A request on its own connection, for a streamed answer (watch, logs)."""
        conn = self._connect(timeout)
        data = json.dumps(body).encode() if body is not None else None
        resp = self._send(conn, method, path, query, data)
        if resp.status >= 400:
            raw = resp.read()
            conn.close()
            _decode(raw, resp.status)
        return conn, resp


def collection_path(resource: str, namespace: str | None) -> str:
    if namespace is None:
        return f"/api/v1/{resource}"
    return f"/api/v1/namespaces/{quote(namespace, safe='')}/{resource}"


def object_path(resource: str, namespace: str, name: str) -> str:
    return f"{collection_path(resource, namespace)}/{quote(name, safe='')}"


def _query(**params: Any) -> str:
    return urlencode({k: v for k, v in params.items() if v is not None})


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

"""The agent's HTTP API over a Unix socket: Kubernetes paths, JSON shapes and Status errors.

    server = serve(store, hooks, "/run/minikube-py/api.sock")
    ...
    server.shutdown()

Objects: ``/api/v1/[namespaces/{ns}/]{pods,replicationcontrollers,events}[/{name}]`` with GET
(list; ``?watch=true`` streams ``{"type","object"}`` lines), POST, PUT, DELETE;
``pods/{name}/log`` and ``pods/{name}/status``; discovery (``/api``, ``/api/v1``,
``/version``).  Kubelet's own: ``/healthz``, ``/pods``, ``/metrics``.

The socket is root's alone: its directory is made 0700 and the socket is bound under a
temporary name, chmodded 0600 and renamed into place, so it is never reachable with wider
permissions (no process-wide umask change, which would race the agent's other threads).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import select
import selectors
import socket
import socketserver
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from minikube_py import __version__
from minikube_py.apiserver import documents, errors
from minikube_py.apiserver.errors import KINDS, RESOURCES, APIError
from minikube_py.apiserver.store import POD, ObjectStore, Watch
from minikube_py.errors import MinikubeError

log = logging.getLogger(__name__)

_WATCH_POLL = 1.0  # how often an idle watch checks that its client is still there
_MAX_BODY = 3 << 20  # as the Kubernetes API server's limit on a request body
_LOG_CHUNK = 1 << 16  # bytes of log sent per chunk when not following
_WATCH_BACKLOG = 10000  # changes a slow client may fall behind before it must re-list


class Hooks(Protocol):
    """What the server asks of the kubelet."""

    def container_log(
        self, pod: dict[str, Any], container: str, previous: bool
    ) -> tuple[str, Callable[[], bool]]:
        """The CRI log file of the container's current (or previous) instance, and a callable
        telling a follower that no more will be written to it."""
        ...

    def metrics(self) -> bytes:
        """Prometheus text exposition."""
        ...

    def healthy(self) -> bool: ...

    def pod_requested(self, uid: str, at: float) -> None:
        """Pod `uid` was created by a request that arrived at `at` (time.monotonic())."""
        ...


class ApiServer:
    """A running server: ``socket_path``, ``shutdown()``."""

    def __init__(self, server: _Server, thread: threading.Thread, socket_path: str) -> None:
        self._server = server
        self._thread = thread
        self.socket_path = socket_path

    def shutdown(self) -> None:
        """Stop accepting, end open watches and log streams, remove the socket."""
        srv = self._server
        srv.stopping.set()
        os.write(srv.wake_w, b"x")
        for w in list(srv.watches):
            w.close()
        self._thread.join(timeout=5)
        srv.server_close()
        deadline = time.monotonic() + 1.0  # let watch streams write their last chunk
        while srv.watches and time.monotonic() < deadline:
            time.sleep(0.01)
        os.close(srv.wake_r)
        os.close(srv.wake_w)
        for conn in list(srv.connections):  # kept-alive clients must not outlive the server
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(FileNotFoundError):
            if os.stat(self.socket_path).st_ino == srv.socket_ino:
                os.unlink(self.socket_path)


def serve(
    store: ObjectStore,
    hooks: Hooks,
    socket_path: str,
    *,
    ready: Callable[[], Any] | threading.Event | None = None,
) -> ApiServer:
    """Listen on ``socket_path`` (mode 0600, directory 0700) and serve in a background thread."""
    directory = os.path.dirname(os.path.abspath(socket_path))
    os.makedirs(directory, mode=0o700, exist_ok=True)
    os.chmod(directory, 0o700)
    _refuse_if_live(socket_path)
    tmp = os.path.join(directory, f".api.sock.{os.getpid()}.{threading.get_ident()}")
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp)
    server = _Server(tmp, _Handler)
    try:
        os.chmod(tmp, 0o600)
        os.rename(tmp, socket_path)
    except BaseException:
        server.server_close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    server.socket_ino = os.stat(socket_path).st_ino
    server.store = store
    server.hooks = hooks
    thread = threading.Thread(target=server.serve_until_stopped, name="apiserver", daemon=True)
    thread.start()
    if isinstance(ready, threading.Event):
        ready.set()
    elif ready is not None:
        ready()
    return ApiServer(server, thread, socket_path)


def _refuse_if_live(socket_path: str) -> None:
    if not os.path.exists(socket_path):
        return
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(socket_path)
    except OSError:
        os.unlink(socket_path)  # stale: left by an agent that did not stop cleanly
        return
    finally:
        probe.close()
    raise MinikubeError(f"another agent is already serving {socket_path}")


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, path: str, handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(path, handler)
        self.stopping = threading.Event()
        self.watches: set[Watch] = set()
        self.connections: set[socket.socket] = set()
        self.store: ObjectStore
        self.hooks: Hooks
        self.socket_ino = 0
        self.wake_r, self.wake_w = os.pipe()

    def serve_until_stopped(self) -> None:
        """Accept connections until ``stopping`` is set; woken by a pipe rather than polling
        (socketserver's serve_forever polls, so its shutdown takes up to a poll interval)."""
        with selectors.DefaultSelector() as sel:
            sel.register(self, selectors.EVENT_READ)
            sel.register(self.wake_r, selectors.EVENT_READ)
            while not self.stopping.is_set():
                for key, _ in sel.select():
                    if key.fileobj is self and not self.stopping.is_set():
                        self._handle_request_noblock()


# ------------------------------------------------------------------------------ requests


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = f"minikube-py/{__version__}"
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.connections.add(self.connection)

    def finish(self) -> None:
        self.server.connections.discard(self.connection)
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("api: " + format, *args)

    def address_string(self) -> str:
        return "unix"

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    # -------------------------------------------------------------------------- plumbing

    def _dispatch(self, method: str) -> None:
        self.received = time.monotonic()
        if self.server.stopping.is_set():
            self.close_connection = True
        url = urlsplit(self.path)
        self.query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        parts = [unquote(p) for p in url.path.split("/") if p]
        self._body_cache: bytes | None = None
        try:
            self._route(method, parts, url.path)
        except APIError as e:
            self._send_json(e.code, e.status())
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as e:  # a request must get an answer, not a hang
            log.exception("api: %s %s failed", method, self.path)
            err = errors.internal(str(e) or type(e).__name__)
            with contextlib.suppress(OSError):
                self._send_json(err.code, err.status())

    def _body(self) -> bytes:
        if self._body_cache is None:
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                raise errors.bad_request("invalid Content-Length") from None
            if length > _MAX_BODY:
                self.close_connection = True  # the unread body cannot be skipped safely
                self._body_cache = b""
                raise errors.APIError(
                    413,
                    "RequestEntityTooLarge",
                    f"the request body is {length} bytes; the limit is {_MAX_BODY}",
                )
            self._body_cache = self.rfile.read(length) if length > 0 else b""
        return self._body_cache

    def _json_body(self, required: bool = True) -> dict[str, Any] | None:
        raw = self._body()
        if not raw.strip():
            if required:
                raise errors.bad_request("the request body is empty")
            return None
        text = raw.decode("utf-8", errors="replace")
        try:
            data = json.loads(text)
        except ValueError:
            import yaml

            try:
                data = yaml.safe_load(text)
            except yaml.YAMLError as e:
                raise errors.bad_request(
                    f"the request body is neither JSON nor YAML: {e}"
                ) from None
        if not isinstance(data, dict):
            raise errors.bad_request("the request body is not a Kubernetes object")
        return data

    def _send(self, code: int, body: bytes, content_type: str, warnings: list[str] = ()) -> None:
        self.send_response(code)
        for text in warnings:  # as the API server: RFC 7234 warn-code 299
            quoted = text.replace("\\", "\\\\").replace('"', '\\"')
            self.send_header("Warning", f'299 - "{quoted}"')
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _send_json(self, code: int, obj: Any, warnings: list[str] = ()) -> None:
        self._body()  # drain an unread body so the connection stays usable
        self._send(code, _json(obj) + b"\n", "application/json", warnings)

    def _start_stream(self, content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()

    def _chunk(self, data: bytes) -> None:
        if data:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

    def _end_stream(self) -> None:
        with contextlib.suppress(OSError):
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()

    def _client_gone(self) -> bool:
        """True once the client closed its end (readable with nothing to read)."""
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            if not readable:
                return False
            return self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    # -------------------------------------------------------------------------- routes

    def _route(self, method: str, parts: list[str], path: str) -> None:
        fixed = _FIXED_ROUTES.get(tuple(parts))
        if fixed is not None:
            self._only(method, "GET", path)
            return fixed(self)
        if len(parts) < 3 or parts[:2] != ["api", "v1"]:
            raise errors.route_not_found(path)
        store = self.server.store
        rest = parts[2:]
        if rest[0] == "namespaces":
            if len(rest) <= 2:
                self._only(method, "GET", path)
                return self._namespace(rest[1]) if len(rest) == 2 else self._namespaces()
            namespace: str | None = rest[1]
            rest = rest[2:]
        else:
            namespace = None
        resource = rest[0]
        kind = KINDS.get(resource)
        if kind is None:
            raise errors.route_not_found(path)
        if len(rest) == 1:
            if method == "GET":
                return self._list_or_watch(kind, namespace)
            if method == "POST" and namespace is not None:
                return self._create(kind, namespace)
            raise errors.method_not_allowed(method, path)
        if namespace is None:
            raise errors.route_not_found(path)
        name = rest[1]
        sub = rest[2] if len(rest) > 2 else ""
        if len(rest) > 3 or sub not in ("", "log", "status") or (sub and kind == "Event"):
            raise errors.route_not_found(path)
        if sub == "log":
            if kind != POD:
                raise errors.route_not_found(path)
            self._only(method, "GET", path)
            return self._log(namespace, name)
        if method == "GET":
            return self._send_json(200, store.get(kind, namespace, name))
        if method == "PUT":
            body = self._json_body()
            assert body is not None
            self._check_names(body, kind, namespace, name)
            warnings: list[str] = []
            if sub == "status":
                obj = store.update_status(kind, namespace, name, body.get("status") or {})
            else:
                obj = store.update(body, warnings=warnings)
            return self._send_json(200, obj, warnings)
        if method == "DELETE" and not sub:
            return self._delete(kind, namespace, name)
        raise errors.method_not_allowed(method, path)

    def _only(self, method: str, allowed: str, path: str) -> None:
        if method != allowed:
            raise errors.method_not_allowed(method, path)

    def _metrics(self) -> None:
        self._send(200, self.server.hooks.metrics(), "text/plain; version=0.0.4; charset=utf-8")

    def _node_pods(self) -> None:
        """Kubelet's /pods: a PodList of the pods bound to this node."""
        store = self.server.store
        items, rv = store.list(POD, None)
        if store.node_name:
            items = [p for p in items if p["spec"].get("nodeName") == store.node_name]
        self._send_json(200, documents.list_doc(POD, items, rv))

    def _healthz(self) -> None:
        if self.server.hooks.healthy():
            self._send(200, b"ok", "text/plain; charset=utf-8")
        else:
            self._send(500, b"[-]kubelet failed\nhealthz check failed", "text/plain; charset=utf-8")

    def _namespaces(self) -> None:
        names = sorted(_namespaces(self.server.store))
        items = [documents.namespace_doc(n) for n in names]
        self._send_json(
            200,
            {
                "kind": "NamespaceList",
                "apiVersion": "v1",
                "metadata": {"resourceVersion": self.server.store.resource_version},
                "items": items,
            },
        )

    def _namespace(self, name: str) -> None:
        if name not in _namespaces(self.server.store):
            raise errors.APIError(
                404,
                "NotFound",
                f'namespaces "{name}" not found',
                {"name": name, "kind": "namespaces"},
            )
        self._send_json(200, documents.namespace_doc(name))

    def _check_names(self, body: dict[str, Any], kind: str, namespace: str, name: str) -> None:
        meta = body.get("metadata") or {}
        if meta.get("namespace") and meta["namespace"] != namespace:
            raise errors.bad_request(
                "the namespace of the provided object does not match the namespace sent on "
                "the request"
            )
        if meta.get("name") and meta["name"] != name:
            raise errors.bad_request(
                "the name of the object "
                f"({meta['name']}) does not match the name on the URL ({name})"
            )
        body.setdefault("metadata", {})["namespace"] = namespace
        body["metadata"]["name"] = name
        body.setdefault("kind", kind)
        body.setdefault("apiVersion", "v1")

    def _create(self, kind: str, namespace: str) -> None:
        body = self._json_body()
        assert body is not None
        meta = body.get("metadata")
        if not isinstance(meta, dict):
            meta = body["metadata"] = {}
        if meta.get("namespace") and meta["namespace"] != namespace:
            raise errors.bad_request(
                "the namespace of the provided object does not match the namespace sent on "
                "the request"
            )
        meta["namespace"] = namespace
        if body.get("kind") and body["kind"] != kind:
            raise errors.bad_request(
                f'the object kind "{body["kind"]}" does not match the resource '
                f'"{RESOURCES[kind]}" of the request'
            )
        body.setdefault("kind", kind)
        body.setdefault("apiVersion", "v1")
        warnings: list[str] = []
        created = self.server.store.create(body, warnings=warnings)
        if created.get("kind") == "Pod":
            self.server.hooks.pod_requested(created["metadata"]["uid"], self.received)
        self._send_json(201, created, warnings)

    def _delete(self, kind: str, namespace: str, name: str) -> None:
        options = self._json_body(required=False) or {}
        grace: Any = self.query.get("gracePeriodSeconds", options.get("gracePeriodSeconds"))
        if grace is not None and grace != "":
            try:
                grace = int(grace)
            except (TypeError, ValueError):
                raise errors.bad_request(f'invalid gracePeriodSeconds "{grace}"') from None
        else:
            grace = None
        uid = ((options.get("preconditions") or {}).get("uid")) or None
        store = self.server.store
        if uid:
            current = store.get(kind, namespace, name)
            if current["metadata"].get("uid") != uid:
                raise errors.APIError(
                    409,
                    "Conflict",
                    f'Operation cannot be fulfilled on {RESOURCES[kind]} "{name}": '
                    f"Precondition failed: UID in precondition: {uid}, UID in object meta: "
                    f"{current['metadata'].get('uid')}",
                )
        self._send_json(200, store.request_delete(kind, namespace, name, grace))

    # -------------------------------------------------------------------------- list/watch

    def _list_or_watch(self, kind: str, namespace: str | None) -> None:
        store = self.server.store
        q = self.query
        labels, fields = q.get("labelSelector"), q.get("fieldSelector")
        if _true(q.get("watch")):
            return self._watch(kind, namespace, q.get("resourceVersion"), labels, fields)
        items, rv = store.list(kind, namespace, labels, fields)
        self._send_json(200, documents.list_doc(kind, items, rv))

    def _watch(
        self,
        kind: str,
        namespace: str | None,
        rv: str | None,
        labels: str | None,
        fields: str | None,
    ) -> None:
        store = self.server.store
        timeout = self.query.get("timeoutSeconds")
        deadline = time.monotonic() + float(timeout) if timeout else None
        try:
            watch = store.watch(
                kind, namespace, rv, labels, fields, copy_objects=False, max_pending=_WATCH_BACKLOG
            )
        except APIError as e:
            if e.code != 410:
                raise
            # As the API server's watch cache does: a 200 stream carrying one ERROR event.
            self._start_stream("application/json")
            self._chunk(_json({"type": "ERROR", "object": e.status()}) + b"\n")
            self._end_stream()
            return
        self.server.watches.add(watch)
        try:
            self._start_stream("application/json")
            while not self.server.stopping.is_set():
                wait = _WATCH_POLL
                if deadline is not None:
                    wait = min(wait, deadline - time.monotonic())
                    if wait <= 0:
                        break
                try:
                    item = watch.get(timeout=wait)
                except StopIteration:
                    break
                except APIError as e:
                    event = {"type": "ERROR", "object": e.status()}
                    self._chunk(_json(event) + b"\n")
                    break
                if item is None:
                    if self._client_gone():
                        return
                    continue
                type_, obj = item
                self._chunk(_json({"type": type_, "object": obj}) + b"\n")
            self._end_stream()
        finally:
            watch.close()
            self.server.watches.discard(watch)
            self.close_connection = True

    # -------------------------------------------------------------------------- logs

    def _log(self, namespace: str, name: str) -> None:
        pod = self.server.store.get(POD, namespace, name)
        q = self.query
        container = _pick_container(pod, q.get("container") or "")
        previous = _true(q.get("previous"))
        _check_log_available(pod, container, previous)
        tail = q.get("tailLines")
        tail_lines = None
        if tail not in (None, ""):
            try:
                tail_lines = int(tail)  # type: ignore[arg-type]
            except ValueError:
                raise errors.bad_request(f'invalid tailLines "{tail}"') from None
        path, is_finished = self.server.hooks.container_log(pod, container, previous)
        from minikube_py.logs.cri import rotated_logs

        if not os.path.exists(path) and not rotated_logs(path):
            raise errors.bad_request(
                f'container "{container}" in pod "{name}" has no log yet ({path} does not exist)'
            )
        from minikube_py.logs.reader import read_log

        follow = _true(q.get("follow")) and not previous
        handler = self

        class _Stop:
            def is_set(self) -> bool:
                return handler.server.stopping.is_set() or handler._client_gone()

        lines: Iterator[bytes] = read_log(
            path,
            tail_lines=tail_lines,
            timestamps=_true(q.get("timestamps")),
            follow=follow,
            stop_event=_Stop(),
            is_finished=is_finished,
        )
        self._start_stream("text/plain")
        try:
            if follow:  # every line as soon as it is read
                for line in lines:
                    self._chunk(line)
            else:  # a whole log: fewer, larger chunks
                batch: list[bytes] = []
                size = 0
                for line in lines:
                    batch.append(line)
                    size += len(line)
                    if size >= _LOG_CHUNK:
                        self._chunk(b"".join(batch))
                        batch, size = [], 0
                self._chunk(b"".join(batch))
            self._end_stream()
        finally:
            close = getattr(lines, "close", None)
            if close is not None:
                close()
            self.close_connection = follow


def _pick_container(pod: dict[str, Any], container: str) -> str:
    spec = pod.get("spec") or {}
    names = [c["name"] for c in spec.get("containers") or []]
    init_names = [c["name"] for c in spec.get("initContainers") or []]
    name = pod["metadata"]["name"]
    if not container:
        if len(names) == 1:
            return names[0]
        message = (
            f"a container name must be specified for pod {name}, choose one of: [{' '.join(names)}]"
        )
        if init_names:
            message += f" or one of the init containers: [{' '.join(init_names)}]"
        raise errors.bad_request(message)
    if container not in names and container not in init_names:
        raise errors.bad_request(f"container {container} is not valid for pod {name}")
    return container


def _check_log_available(pod: dict[str, Any], container: str, previous: bool) -> None:
    """Kubernetes' answers for a container that has not started, or has no previous run."""
    status = pod.get("status") or {}
    statuses = (status.get("containerStatuses") or []) + (status.get("initContainerStatuses") or [])
    cs = next((c for c in statuses if c.get("name") == container), None)
    name = pod["metadata"]["name"]
    if previous:
        if cs is None or not (cs.get("lastState") or {}).get("terminated"):
            raise errors.bad_request(
                f'previous terminated container "{container}" in pod "{name}" not found'
            )
        return
    state = (cs or {}).get("state") or {}
    waiting = state.get("waiting")
    ran_before = bool(((cs or {}).get("lastState") or {}).get("terminated"))
    if cs is None or (waiting is not None and not ran_before):
        reason = (waiting or {}).get("reason") or "ContainerCreating"
        raise errors.bad_request(
            f'container "{container}" in pod "{name}" is waiting to start: {reason}'
        )


_FIXED_ROUTES: dict[tuple[str, ...], Callable[[_Handler], None]] = {
    ("healthz",): _Handler._healthz,
    ("livez",): _Handler._healthz,
    ("readyz",): _Handler._healthz,
    ("metrics",): _Handler._metrics,
    ("pods",): _Handler._node_pods,
    ("version",): lambda h: h._send_json(200, documents.version_doc()),
    ("api",): lambda h: h._send_json(200, documents.API_VERSIONS),
    ("api", "v1"): lambda h: h._send_json(200, documents.RESOURCE_LIST),
}

# ------------------------------------------------------------------------------ documents


def _json(obj: Any) -> bytes:
    """Compact JSON, as the API server writes it."""
    return json.dumps(obj, separators=(",", ":")).encode()


def _true(value: str | None) -> bool:
    return value is not None and value.lower() in ("true", "1", "yes", "")


def _namespaces(store: ObjectStore) -> set[str]:
    names = {"default", "kube-system"}
    for kind in (POD, "ReplicationController"):
        items, _ = store.list(kind)
        names.update(o["metadata"]["namespace"] for o in items)
    return names

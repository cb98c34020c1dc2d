"""The object store: Pods, ReplicationControllers and Events, with Kubernetes' semantics.

Objects are plain dicts in the Kubernetes v1 JSON shape.  Every change bumps one global
``resourceVersion`` counter and is published to watchers as ``ADDED``/``MODIFIED``/``DELETED``.
A watch started from a resourceVersion replays the changes after it from a bounded history, or
fails with 410 Expired when that history no longer reaches back so far (clients then re-list).

Persistence: each Pod is written atomically to ``<root>/pods/<uid>/pod.json`` and each RC to
``<root>/controllers/<uid>.json`` on every change, and read back on construction, so uids,
creation times and resourceVersions survive an agent restart.  The counter itself is reserved
in blocks in ``<root>/apiserver.json`` so it never goes backwards.  Events live in memory only.
Creates, updates and deletions are on disk before the call returns; a status update (the
kubelet's, many per pod start) is written by a background thread right after, coalesced per
object, so that a pod start does not wait on fsyncs.  ``flush`` waits for those writes.

Objects handed out by ``get``/``list``/in-process watches are copies; a watch's objects for the
HTTP server (``copy=False``) are the store's own and must not be mutated.
"""

from __future__ import annotations

import collections
import contextlib
import copy
import datetime as dt
import json
import logging
import os
import threading
import uuid
from collections.abc import Iterator
from typing import Any

from minikube_py.apiserver import errors
from minikube_py.apiserver.selectors import (
    FieldSelector,
    LabelSelector,
    parse_field_selector,
    parse_label_selector,
)
from minikube_py.errors import ManifestError
from oci.fsutil import atomic_write_json

log = logging.getLogger(__name__)

POD, RC, EVENT = "Pod", "ReplicationController", "Event"
KINDS = (POD, RC, EVENT)
ADDED, MODIFIED, DELETED = "ADDED", "MODIFIED", "DELETED"

_RV_BLOCK = 1000  # resourceVersions reserved per write of apiserver.json

Key = tuple[str, str, str]


def now_rfc3339(delta_seconds: float = 0) -> str:
    at = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=delta_seconds)
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def _rv(obj: dict[str, Any]) -> int:
    try:
        return int(obj["metadata"]["resourceVersion"])
    except (KeyError, TypeError, ValueError):
        return 0


class Watch:
    """A stream of ``(type, object)`` changes of one kind; iterate it, ``close()`` it.

    ``get(timeout)`` returns None on timeout (so a server can notice a client that went away);
    iteration ends when the watch is closed.  A watcher that falls far behind is expired: its
    next read raises a 410 ``APIError``.
    """

    def __init__(
        self,
        store: ObjectStore,
        kind: str,
        namespace: str | None,
        labels: LabelSelector,
        fields: FieldSelector,
        copy_objects: bool,
        max_pending: int | None,
    ) -> None:
        self._store = store
        self.kind = kind
        self._namespace = namespace
        self._labels = labels
        self._fields = fields
        self._copy = copy_objects
        self._max_pending = max_pending
        self._queue: collections.deque[tuple[str, dict[str, Any]]] = collections.deque()
        self._cond = threading.Condition()
        self._closed = False
        self._expired = False

    def matches(self, obj: dict[str, Any] | None) -> bool:
        if obj is None:
            return False
        meta = obj.get("metadata") or {}
        if self._namespace is not None and meta.get("namespace") != self._namespace:
            return False
        return self._labels.matches(meta.get("labels")) and self._fields.matches(obj)

    def _offer(self, type_: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        """Called by the store (under its lock) for every change of this kind."""
        if type_ == MODIFIED:
            now_in, was_in = self.matches(obj), self.matches(old)
            if now_in and not was_in:
                type_ = ADDED
            elif was_in and not now_in:
                type_ = DELETED  # left the selection: Kubernetes says DELETED
            elif not now_in:
                return
        elif not self.matches(obj):
            return
        with self._cond:
            if self._closed:
                return
            if self._max_pending is not None and len(self._queue) >= self._max_pending:
                self._expired = True
                self._closed = True
                self._queue.clear()
            else:
                self._queue.append((type_, obj))
            self._cond.notify()

    def get(self, timeout: float | None = None) -> tuple[str, dict[str, Any]] | None:
        """The next change; None on timeout; raises StopIteration once closed."""
        with self._cond:
            if not self._queue and not self._closed:
                self._cond.wait(timeout)
            if self._queue:
                type_, obj = self._queue.popleft()
                return type_, (copy.deepcopy(obj) if self._copy else obj)
            if self._expired:
                self._expired = False
                raise errors.gone("watch expired: the watcher fell too far behind; list again")
            if self._closed:
                raise StopIteration
            return None

    def __iter__(self) -> Iterator[tuple[str, dict[str, Any]]]:
        return self

    def __next__(self) -> tuple[str, dict[str, Any]]:
        while True:
            item = self.get()
            if item is not None:
                return item

    def close(self) -> None:
        self._store._unsubscribe(self)
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> Watch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ObjectStore:
    """Pods, RCs and Events keyed by (kind, namespace, name); thread-safe.

    ``node_name``: when set, pods created without ``spec.nodeName`` are bound to it (the one
    node's scheduler).  A pod that has no node when deleted is removed at once, as Kubernetes
    does for unscheduled pods.
    """

    def __init__(
        self,
        state_root: str,
        *,
        node_name: str = "",
        history_size: int = 2000,
        max_events: int = 1000,
    ) -> None:
        self.state_root = state_root
        self.node_name = node_name
        self._lock = threading.RLock()
        self._objects: dict[Key, dict[str, Any]] = {}
        self._watchers: dict[str, set[Watch]] = {k: set() for k in KINDS}
        # Recent changes per kind (so a burst of Events does not push Pods out), and the
        # newest resourceVersion each history has had to forget.
        self._history: dict[str, collections.deque[tuple[int, str, dict[str, Any], Any]]] = {
            k: collections.deque(maxlen=history_size) for k in KINDS
        }
        self._forgotten: dict[str, int] = dict.fromkeys(KINDS, 0)
        self._event_index: dict[tuple[str, str, str], Key] = {}
        self._max_events = max_events
        self._persist_locks: dict[str, threading.Lock] = collections.defaultdict(threading.Lock)
        self._written_rv: dict[str, int] = {}
        self._pods_dir = os.path.join(state_root, "pods")
        self._rc_dir = os.path.join(state_root, "controllers")
        self._counter_path = os.path.join(state_root, "apiserver.json")
        for d in (state_root, self._pods_dir, self._rc_dir):
            os.makedirs(d, exist_ok=True)  # shared with the kubelet: files are 0600
        self._rv = 0
        self._reserved = 0
        # status updates waiting for the writer thread: uid -> key
        self._dirty: dict[str, Key] = {}
        self._writing = 0
        self._dirty_cond = threading.Condition(threading.Lock())
        self._writer: threading.Thread | None = None
        self._load()
        # Nothing before this point can be replayed: older resourceVersions get 410.
        self._floor = self._rv

    # -------------------------------------------------------------------------- reading

    def get(self, kind: str, namespace: str, name: str) -> dict[str, Any]:
        with self._lock:
            obj = self._objects.get((kind, namespace, name))
            if obj is None:
                raise errors.not_found(kind, name)
            return copy.deepcopy(obj)

    def list(
        self,
        kind: str,
        namespace: str | None = None,
        label_selector: str | LabelSelector | None = None,
        field_selector: str | FieldSelector | None = None,
    ) -> tuple[list[dict[str, Any]], str]:
        """Matching objects sorted by namespace and name, and the store's resourceVersion."""
        labels, fields = self._selectors(kind, label_selector, field_selector)
        with self._lock:
            items = [
                obj
                for (k, ns, _), obj in self._objects.items()
                if k == kind
                and (namespace is None or ns == namespace)
                and labels.matches(obj["metadata"].get("labels"))
                and fields.matches(obj)
            ]
            items.sort(key=lambda o: (o["metadata"]["namespace"], o["metadata"]["name"]))
            return copy.deepcopy(items), str(self._rv)

    @property
    def resource_version(self) -> str:
        with self._lock:
            return str(self._rv)

    # -------------------------------------------------------------------------- writing

    def create(self, data: dict[str, Any], *, warnings: list[str] | None = None) -> dict[str, Any]:
        """Parse, default and validate ``data`` as a new object and store it (422 if invalid,
        409 if it exists).  Returns the stored object; ``warnings`` (if given) receives
        the parse warnings (unknown fields, fields not acted on)."""
        if not isinstance(data, dict):
            raise errors.bad_request("the request body is not a Kubernetes object")
        if data.get("kind") == EVENT:
            return self.record_event(data)
        obj = _parse(data, create=True, warnings=warnings)
        if obj["kind"] == POD:
            if self.node_name and not obj["spec"].get("nodeName"):
                obj["spec"]["nodeName"] = self.node_name
            obj["status"] = {"phase": "Pending", "qosClass": _qos_class(obj)}
        else:
            obj["status"] = {"replicas": 0}
            obj["metadata"]["generation"] = 1  # bumped on every spec change
        meta = obj["metadata"]
        meta.pop("deletionTimestamp", None)
        meta.pop("deletionGracePeriodSeconds", None)
        key = (obj["kind"], meta["namespace"], meta["name"])
        with self._lock:
            if key in self._objects:
                raise errors.already_exists(obj["kind"], meta["name"])
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = now_rfc3339()
            self._put(key, obj, ADDED, None)
        self._persist(key, obj["metadata"]["uid"])
        return copy.deepcopy(obj)

    def update(self, data: dict[str, Any], *, warnings: list[str] | None = None) -> dict[str, Any]:
        """Replace an object's labels and annotations (and an RC's spec), as a PUT does;
        ownerReferences too when given (a controller adopting a pod).

        A pod's spec is immutable: a change gets Kubernetes' 422 Forbidden naming the field.
        An update that changes nothing returns the stored object without a new resourceVersion.
        """
        new = _parse(data, create=False, warnings=warnings)
        meta = new["metadata"]
        key = (new["kind"], meta["namespace"], meta["name"])
        with self._lock:
            old = self._objects.get(key)
            if old is None:
                raise errors.not_found(new["kind"], meta["name"])
            if meta.get("uid") and meta["uid"] != old["metadata"]["uid"]:
                raise errors.APIError(
                    409,
                    "Conflict",
                    f"Operation cannot be fulfilled on {errors.RESOURCES[new['kind']]} "
                    f'"{meta["name"]}": the UID in the object ({meta["uid"]}) does not match '
                    f"the stored one ({old['metadata']['uid']})",
                )
            if new["kind"] == POD:
                _check_pod_update(old, new)
            obj = copy.deepcopy(old)
            for field in ("labels", "annotations"):
                if meta.get(field):
                    obj["metadata"][field] = meta[field]
                else:
                    obj["metadata"].pop(field, None)
            if meta.get("ownerReferences"):
                obj["metadata"]["ownerReferences"] = meta["ownerReferences"]
            if new["kind"] == RC and obj["spec"] != new["spec"]:
                obj["spec"] = new["spec"]
                obj["metadata"]["generation"] = int(old["metadata"].get("generation") or 1) + 1
            if obj == old:
                return copy.deepcopy(old)
            self._put(key, obj, MODIFIED, old)
        self._persist(key, obj["metadata"]["uid"])
        return copy.deepcopy(obj)

    def update_status(
        self, kind: str, namespace: str, name: str, status: dict[str, Any]
    ) -> dict[str, Any]:
        """Replace the status; a new resourceVersion and a MODIFIED only if it changed."""
        key = (kind, namespace, name)
        with self._lock:
            old = self._objects.get(key)
            if old is None:
                raise errors.not_found(kind, name)
            if old.get("status") == status:
                return copy.deepcopy(old)
            obj = dict(old)
            obj["metadata"] = dict(old["metadata"])
            obj["status"] = copy.deepcopy(status)
            self._put(key, obj, MODIFIED, old)
        self._persist_soon(key, obj["metadata"]["uid"])
        return copy.deepcopy(obj)

    def request_delete(
        self, kind: str, namespace: str, name: str, grace_period_seconds: int | None = None
    ) -> dict[str, Any]:
        """Kubernetes' graceful deletion.

        A pod on a node gets ``deletionTimestamp`` (now + grace) and
        ``deletionGracePeriodSeconds`` (default its terminationGracePeriodSeconds) and stays
        until the kubelet calls ``remove``; asking again can only shorten the grace.  Grace 0,
        a pod with no node, a finished pod, and any other kind are removed at once.
        """
        key = (kind, namespace, name)
        with self._lock:
            old = self._objects.get(key)
            if old is None:
                raise errors.not_found(kind, name)
            grace = _grace_period(old, grace_period_seconds)
            if grace is None:
                removed = self._remove_locked(key)
            else:
                meta = old["metadata"]
                current = meta.get("deletionGracePeriodSeconds")
                if meta.get("deletionTimestamp") and current is not None and grace >= current:
                    return copy.deepcopy(old)
                obj = dict(old)
                obj["metadata"] = dict(meta)
                obj["metadata"]["deletionTimestamp"] = now_rfc3339(grace)
                obj["metadata"]["deletionGracePeriodSeconds"] = grace
                self._put(key, obj, MODIFIED, old)
        if grace is None:
            return self._removed(removed)
        self._persist(key, obj["metadata"]["uid"])
        return copy.deepcopy(obj)

    def remove(
        self, kind: str, namespace: str, name: str, uid: str | None = None
    ) -> dict[str, Any]:
        """Delete the object for good (the kubelet's final step): DELETED, file removed.
        With ``uid``, only that incarnation is removed (404 if the name now holds another)."""
        key = (kind, namespace, name)
        with self._lock:
            old = self._objects.get(key)
            if old is None or (uid and old["metadata"].get("uid") != uid):
                raise errors.not_found(kind, name)
            obj = self._remove_locked(key)
        return self._removed(obj)

    def record_event(self, event: dict[str, Any]) -> dict[str, Any]:
        """Create an Event, or count a repeat of one (same involvedObject uid, reason and
        message): ``count`` and ``lastTimestamp`` go up."""
        involved = event.get("involvedObject") or {}
        ident = (
            str(involved.get("uid", "")),
            str(event.get("reason", "")),
            str(event.get("message", "")),
        )
        at = now_rfc3339()
        with self._lock:
            existing_key = self._event_index.get(ident)
            old = self._objects.get(existing_key) if existing_key else None
            if old is not None and existing_key is not None:
                obj = copy.deepcopy(old)
                incoming = event.get("count")
                count = int(old.get("count") or 1) + 1
                if isinstance(incoming, int) and incoming > count:
                    count = incoming
                obj["count"] = count
                obj["lastTimestamp"] = event.get("lastTimestamp") or at
                self._put(existing_key, obj, MODIFIED, old)
                return copy.deepcopy(obj)
            obj = copy.deepcopy(event)
            obj["apiVersion"], obj["kind"] = "v1", EVENT
            meta = obj.setdefault("metadata", {})
            namespace = meta.get("namespace") or involved.get("namespace") or "default"
            meta["namespace"] = namespace
            if not meta.get("name"):
                meta["name"] = f"{involved.get('name', 'event')}.{uuid.uuid4().hex[:16]}"
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = at
            obj.setdefault("count", 1)
            obj.setdefault("firstTimestamp", at)
            obj.setdefault("lastTimestamp", obj["firstTimestamp"])
            obj.setdefault("type", "Normal")
            key = (EVENT, namespace, meta["name"])
            if key in self._objects:
                raise errors.already_exists(EVENT, meta["name"])
            self._put(key, obj, ADDED, None)
            self._event_index[ident] = key
            self._trim_events()
            return copy.deepcopy(obj)

    # -------------------------------------------------------------------------- watching

    def watch(
        self,
        kind: str,
        namespace: str | None = None,
        resource_version: str | None = None,
        label_selector: str | LabelSelector | None = None,
        field_selector: str | FieldSelector | None = None,
        *,
        copy_objects: bool = True,
        max_pending: int | None = None,
    ) -> Watch:
        """Changes of ``kind`` (in ``namespace``, or all).  Without a resourceVersion (or
        "0") the current objects come first as ADDED; with one, the changes after it are
        replayed (410 Expired if the history no longer reaches back that far).

        ``max_pending``: a watcher with this many undelivered changes is dropped (its next
        read raises 410, so a remote client re-lists); None (in-process) never drops.
        """
        if kind not in KINDS:
            raise errors.bad_request(f"unknown kind {kind!r}")
        labels, fields = self._selectors(kind, label_selector, field_selector)
        w = Watch(self, kind, namespace, labels, fields, copy_objects, max_pending)
        with self._lock:
            if resource_version in (None, "", "0"):
                current = sorted(
                    (o for (k, _, _), o in self._objects.items() if k == kind), key=_rv
                )
                for obj in current:
                    w._offer(ADDED, obj, None)
            else:
                try:
                    since = int(resource_version)
                except ValueError:
                    raise errors.bad_request(
                        f'invalid resourceVersion "{resource_version}": not a number'
                    ) from None
                floor = max(self._floor, self._forgotten[kind])
                if since < floor:
                    raise errors.gone(f"too old resource version: {since} ({floor})")
                for rv, type_, obj, old in self._history[kind]:
                    if rv > since:
                        w._offer(type_, obj, old)
            self._watchers[kind].add(w)
        return w

    def close_watches(self) -> None:
        """End every watch (server shutdown)."""
        with self._lock:
            watchers = [w for ws in self._watchers.values() for w in ws]
        for w in watchers:
            w.close()

    def _unsubscribe(self, w: Watch) -> None:
        with self._lock:
            self._watchers[w.kind].discard(w)

    # -------------------------------------------------------------------------- internals

    def _selectors(
        self,
        kind: str,
        label_selector: str | LabelSelector | None,
        field_selector: str | FieldSelector | None,
    ) -> tuple[LabelSelector, FieldSelector]:
        labels = (
            label_selector
            if isinstance(label_selector, LabelSelector)
            else parse_label_selector(label_selector)
        )
        fields = (
            field_selector
            if isinstance(field_selector, FieldSelector)
            else parse_field_selector(field_selector, kind)
        )
        return labels, fields

    def _next_rv(self) -> int:
        self._rv += 1
        if self._rv >= self._reserved:
            self._reserved = self._rv + _RV_BLOCK
            atomic_write_json(self._counter_path, {"resourceVersionReserved": self._reserved})
        return self._rv

    def _put(self, key: Key, obj: dict[str, Any], type_: str, old: dict[str, Any] | None) -> None:
        """Store ``obj`` with a new resourceVersion and publish the change (lock held)."""
        rv = self._next_rv()
        obj["metadata"]["resourceVersion"] = str(rv)
        self._objects[key] = obj
        self._publish(rv, key[0], type_, obj, old)

    def _publish(
        self, rv: int, kind: str, type_: str, obj: dict[str, Any], old: dict[str, Any] | None
    ) -> None:
        history = self._history[kind]
        if len(history) == history.maxlen:
            self._forgotten[kind] = history[0][0]
        history.append((rv, type_, obj, old))
        for w in list(self._watchers[kind]):
            w._offer(type_, obj, old)

    def _remove_locked(self, key: Key) -> dict[str, Any]:
        old = self._objects.pop(key)
        obj = dict(old)
        obj["metadata"] = dict(old["metadata"])
        rv = self._next_rv()
        obj["metadata"]["resourceVersion"] = str(rv)
        self._publish(rv, key[0], DELETED, obj, None)
        if key[0] == EVENT:
            self._event_index = {i: k for i, k in self._event_index.items() if k != key}
        return obj

    def _removed(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Drop a removed object's file (called without the store lock: persisting takes the
        per-object lock first, then the store lock)."""
        if obj["kind"] != EVENT:
            self._unpersist(obj)
        return copy.deepcopy(obj)

    def _trim_events(self) -> None:
        keys = [k for k in self._objects if k[0] == EVENT]
        for key in keys[: max(0, len(keys) - self._max_events)]:  # dicts keep insertion order
            self._remove_locked(key)

    # -------------------------------------------------------------------------- persistence

    def _path(self, obj: dict[str, Any]) -> str:
        uid = obj["metadata"]["uid"]
        if obj["kind"] == POD:
            return os.path.join(self._pods_dir, uid, "pod.json")
        return os.path.join(self._rc_dir, f"{uid}.json")

    def _persist(self, key: Key, uid: str) -> None:
        """Write the latest version of object `uid` (outside the store lock; a writer that
        finds a newer version already written does nothing)."""
        with self._persist_locks[uid]:
            with self._lock:
                current = self._objects.get(key)
                if current is None or current["metadata"]["uid"] != uid:
                    return  # removed meanwhile
                rv = _rv(current)
                if self._written_rv.get(uid, 0) >= rv:
                    return
                data = json.loads(json.dumps(current))
            path = self._path(data)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            atomic_write_json(path, data, perm=0o600)
            self._written_rv[uid] = rv

    def _persist_soon(self, key: Key, uid: str) -> None:
        """Have the writer thread persist the object's latest version."""
        with self._dirty_cond:
            self._dirty[uid] = key
            if self._writer is None:
                self._writer = threading.Thread(
                    target=self._write_dirty, name="store-writer", daemon=True
                )
                self._writer.start()
            self._dirty_cond.notify_all()

    def _write_dirty(self) -> None:
        while True:
            with self._dirty_cond:
                while not self._dirty:
                    self._dirty_cond.wait()
                batch, self._dirty = self._dirty, {}
                self._writing += 1
            try:
                for uid, key in batch.items():
                    with self._lock:
                        current = self._objects.get(key)
                        if current is None or current["metadata"]["uid"] != uid:
                            continue  # removed meanwhile
                    try:
                        self._persist(key, uid)
                    except OSError as e:
                        log.error("cannot persist %s %s/%s: %s", *key, e)
            finally:
                with self._dirty_cond:
                    self._writing -= 1
                    self._dirty_cond.notify_all()

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every status update so far is on disk; False on timeout."""
        with self._dirty_cond:
            return self._dirty_cond.wait_for(lambda: not self._dirty and not self._writing, timeout)

    def _unpersist(self, obj: dict[str, Any]) -> None:
        uid = obj["metadata"]["uid"]
        path = self._path(obj)
        with self._persist_locks[uid]:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
            self._written_rv.pop(uid, None)
            if obj["kind"] == POD:
                with contextlib.suppress(OSError):
                    os.rmdir(os.path.dirname(path))  # only if the kubelet left nothing there
        self._persist_locks.pop(uid, None)

    def _load(self) -> None:
        with contextlib.suppress(ValueError, OSError), open(self._counter_path) as f:
            self._reserved = int(json.load(f).get("resourceVersionReserved", 0))
        paths: list[str] = []
        with contextlib.suppress(FileNotFoundError):
            for uid in os.listdir(self._pods_dir):
                p = os.path.join(self._pods_dir, uid, "pod.json")
                if os.path.exists(p):
                    paths.append(p)
        with contextlib.suppress(FileNotFoundError):
            paths += [
                os.path.join(self._rc_dir, n)
                for n in os.listdir(self._rc_dir)
                if n.endswith(".json") and not n.startswith(".")
            ]
        top = 0
        for path in paths:
            try:
                with open(path) as f:
                    obj = json.load(f)
                meta = obj["metadata"]
                key = (obj["kind"], meta["namespace"], meta["name"])
            except (OSError, ValueError, KeyError, TypeError) as e:
                log.warning("ignoring unreadable stored object %s: %s", path, e)
                continue
            if key in self._objects and _rv(self._objects[key]) >= _rv(obj):
                continue
            self._objects[key] = obj
            self._written_rv[meta["uid"]] = _rv(obj)
            top = max(top, _rv(obj))
        # Start past every resourceVersion that may have been handed out before.
        self._rv = max(self._reserved, top)
        self._reserved = self._rv + _RV_BLOCK
        atomic_write_json(self._counter_path, {"resourceVersionReserved": self._reserved})


# ------------------------------------------------------------------------------ object rules


def _parse(
    data: dict[str, Any], *, create: bool, warnings: list[str] | None = None
) -> dict[str, Any]:
    from minikube_py.api import parse_object

    if not isinstance(data, dict):
        raise errors.bad_request("the request body is not a Kubernetes object")
    try:
        obj, found = parse_object(data, create=create)
    except ManifestError as e:
        if not e.causes and not e.name:
            raise errors.bad_request(str(e)) from None
        raise errors.invalid(e) from None
    if warnings is not None:
        warnings.extend(found)
    out = obj.to_dict()
    if not out["metadata"].get("name"):
        raise errors.invalid_fields(
            out["kind"],
            "",
            [
                {
                    "reason": "FieldValueRequired",
                    "message": "name or generateName is required",
                    "field": "metadata.name",
                }
            ],
        )
    return out


def _grace_period(obj: dict[str, Any], requested: int | None) -> int | None:
    """The grace a delete gets, or None when the object goes at once (Kubernetes'
    CheckGracefulDelete: grace 0, an unscheduled pod, a finished pod, any other kind)."""
    if obj["kind"] != POD:
        return None
    spec = obj.get("spec") or {}
    grace = requested
    if grace is None:
        grace = spec.get("terminationGracePeriodSeconds")
    grace = 30 if grace is None else max(int(grace), 0)
    phase = (obj.get("status") or {}).get("phase")
    if grace == 0 or not spec.get("nodeName") or phase in ("Succeeded", "Failed"):
        return None
    return grace


def _qos_class(pod: dict[str, Any]) -> str:
    from minikube_py.api import Pod
    from minikube_py.kubelet.status import qos_class

    typed = Pod.from_dict(pod)
    return qos_class([c for _, c in typed.spec.all_containers()])


_POD_UPDATE_ALLOWED = (
    "`spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,"
    "`spec.tolerations` (only additions to existing tolerations),"
    "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)"
)


def _check_pod_update(old: dict[str, Any], new: dict[str, Any]) -> None:
    """Kubernetes' ValidatePodUpdate: a pod's spec cannot change.  The error names the first
    differing field, as kubectl's message does after its list of mutable fields."""
    old_spec, new_spec = dict(old["spec"]), dict(new["spec"])
    if not new_spec.get("nodeName"):
        new_spec["nodeName"] = old_spec.get("nodeName")
        if new_spec["nodeName"] is None:
            new_spec.pop("nodeName")
    if old_spec == new_spec:
        return
    name = old["metadata"]["name"]
    path = _first_difference(old_spec, new_spec, "spec")
    image_only = path.endswith(".image") and _without_images(old_spec) == _without_images(new_spec)
    if image_only:
        message = (
            "Forbidden: minikube-py cannot change a running pod's image yet; "
            "delete the pod and create it again"
        )
        raise errors.invalid_fields(
            POD, name, [{"reason": "FieldValueForbidden", "message": message, "field": path}]
        )
    message = (
        f"Forbidden: pod updates may not change fields other than {_POD_UPDATE_ALLOWED} "
        f"(changed: {path})"
    )
    raise errors.invalid_fields(
        POD, name, [{"reason": "FieldValueForbidden", "message": message, "field": "spec"}]
    )


def _without_images(spec: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(spec)
    for key in ("containers", "initContainers"):
        for c in out.get(key) or []:
            c.pop("image", None)
    return out


def _first_difference(a: Any, b: Any, path: str) -> str:
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if a.get(k) != b.get(k):
                return _first_difference(a.get(k), b.get(k), f"{path}.{k}")
        return path
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            if x != y:
                return _first_difference(x, y, f"{path}[{i}]")
    return path

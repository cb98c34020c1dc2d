"""The replication controller: kube-controller-manager's, in small, over the agent's store.

For each ReplicationController it keeps `spec.replicas` active pods (not terminating, not
Succeeded or Failed) that match `spec.selector` and that it controls (an ownerReference with
`controller: true`): it creates the missing ones from `spec.template` (named
`<rc>-<5 random>`), deletes the surplus (pending before running, not ready before ready,
more restarts first, newest first, as Kubernetes ranks them), adopts matching pods that no
controller owns, and writes `status` (replicas, fullyLabeledReplicas, readyReplicas,
availableReplicas, observedGeneration).  Deleting an RC deletes its pods (Kubernetes'
default background cascade), also those of an RC deleted while the agent was down.  Events
SuccessfulCreate / SuccessfulDelete / FailedCreate go on the RC, as kubectl describe shows.

Work is event-driven: the store's in-process watches of RCs and pods queue the RCs to sync,
and one thread syncs them.  Pods the node keeps failing (e.g. refused at its pod limit) are
replaced with a backoff (1 s doubling to 60 s), so a failing template is not a hot loop.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from typing import Any

from minikube_py.apiserver.errors import APIError
from minikube_py.apiserver.selectors import LabelSelector, Requirement
from minikube_py.apiserver.store import ObjectStore, now_rfc3339

log = logging.getLogger(__name__)

POD, RC = "Pod", "ReplicationController"
FINISHED = ("Succeeded", "Failed")
BURST = 500  # pods created or deleted per sync at most (Kubernetes' burstReplicas)
BACKOFF_INITIAL, BACKOFF_MAX = 1.0, 60.0
_PHASE_RANK = {"Pending": 0, "Unknown": 1, "Running": 2}

Key = tuple[str, str]  # (namespace, name)


def controller_ref(obj: dict[str, Any]) -> dict[str, Any] | None:
    """The ownerReference of the object's controller, if any."""
    for ref in obj["metadata"].get("ownerReferences") or []:
        if ref.get("controller"):
            return ref
    return None


def _selector(rc: dict[str, Any]) -> LabelSelector:
    selector = rc["spec"].get("selector") or {}
    return LabelSelector([Requirement(k, "=", (v,)) for k, v in sorted(selector.items())])


def _active(pod: dict[str, Any]) -> bool:
    return not pod["metadata"].get("deletionTimestamp") and (
        (pod.get("status") or {}).get("phase") not in FINISHED
    )


def _ready(pod: dict[str, Any]) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def _deletion_rank(pod: dict[str, Any]) -> tuple:
    """Sorts the pods to delete first to the front (Kubernetes' ActivePods order)."""
    status = pod.get("status") or {}
    restarts = sum(c.get("restartCount", 0) for c in status.get("containerStatuses") or [])
    created = pod["metadata"].get("creationTimestamp") or ""
    return (
        bool(pod["spec"].get("nodeName")),
        _PHASE_RANK.get(status.get("phase", "Pending"), 0),
        _ready(pod),
        -restarts,
        "".join(chr(0x10FFFF - ord(ch)) for ch in created),  # newest first
    )


class ReplicationManager:
    def __init__(self, store: ObjectStore) -> None:
        self.store = store
        self._pending: dict[Key, float] = {}  # RC -> when to sync it (monotonic)
        self._cond = threading.Condition()
        self._closed = False
        self._backoff: dict[str, float] = {}  # RC uid -> current replacement delay
        self._not_before: dict[str, float] = {}  # RC uid -> no creates before (monotonic)
        self._failed_seen: set[str] = set()  # uids of owned pods seen Failed
        self._watches: list = []
        self._threads: list[threading.Thread] = []

    # ---- running -----------------------------------------------------------------------

    def start(self) -> None:
        rcs = self.store.watch(RC, None)
        pods = self.store.watch(POD, None)
        self._watches = [rcs, pods]
        for target, arg, name in (
            (self._follow_rcs, rcs, "rc-watch"),
            (self._follow_pods, pods, "rc-pod-watch"),
            (self._work, None, "rc-sync"),
        ):
            t = threading.Thread(target=target, args=(arg,) if arg else (), name=name, daemon=True)
            t.start()
            self._threads.append(t)

    def close(self) -> None:
        """Stop: nothing more is created or deleted (the agent's stop, or a drain)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        for w in self._watches:
            w.close()
        for t in self._threads:
            t.join(5)

    def _queue(self, key: Key, delay: float = 0.0) -> None:
        at = time.monotonic() + delay
        with self._cond:
            if key not in self._pending or self._pending[key] > at:
                self._pending[key] = at
                self._cond.notify_all()

    def _follow_rcs(self, watch) -> None:
        for type_, rc in watch:
            meta = rc["metadata"]
            if type_ == "DELETED":
                self._orphaned(meta["uid"], meta["namespace"])
            else:
                self._queue((meta["namespace"], meta["name"]))

    def _follow_pods(self, watch) -> None:
        for _type, pod in watch:
            meta = pod["metadata"]
            ref = controller_ref(pod)
            if ref is None:
                if _active(pod):  # an orphan an RC may adopt
                    for rc in self._rcs_matching(pod):
                        self._queue((meta["namespace"], rc["metadata"]["name"]))
                continue
            if ref.get("kind") != RC:
                continue
            try:
                rc = self.store.get(RC, meta["namespace"], ref.get("name", ""))
            except APIError:
                rc = None
            if rc is None or rc["metadata"]["uid"] != ref.get("uid"):
                if _active(pod):  # its RC is gone (deleted while we were not watching)
                    self._delete_pod(pod, None)
                continue
            self._note_failure(rc, pod)
            self._queue((meta["namespace"], rc["metadata"]["name"]))

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._closed:
                    now = time.monotonic()
                    due = [k for k, at in self._pending.items() if at <= now]
                    if due:
                        key = min(due, key=lambda k: self._pending[k])
                        del self._pending[key]
                        break
                    timeout = min(self._pending.values()) - now if self._pending else None
                    self._cond.wait(timeout)
                else:
                    return
            try:
                self.sync(*key)
            except Exception:  # a bug must not stop every RC: log, try again later
                log.exception("syncing replicationcontroller %s/%s", *key)
                self._queue(key, BACKOFF_MAX)

    # ---- one RC ------------------------------------------------------------------------

    def sync(self, namespace: str, name: str) -> None:
        """Bring RC namespace/name to its replicas; write its status."""
        try:
            rc = self.store.get(RC, namespace, name)
        except APIError:
            return  # deleted: its pods go with the DELETED event
        uid = rc["metadata"]["uid"]
        selector = _selector(rc)
        if selector.empty:
            return  # validation refuses this; never select every pod
        matching, _ = self.store.list(POD, namespace, label_selector=selector)
        owned = []
        for pod in matching:
            ref = controller_ref(pod)
            if ref is None and _active(pod):
                pod = self._adopt(rc, pod)
                ref = controller_ref(pod) if pod else None
            if pod is not None and ref is not None and ref.get("uid") == uid:
                owned.append(pod)
        active = [p for p in owned if _active(p)]
        want = int(rc["spec"].get("replicas", 1))
        if len(active) < want:
            wait = self._not_before.get(uid, 0.0) - time.monotonic()
            if wait > 0:
                self._queue((namespace, name), wait)
            else:
                active += self._create(rc, min(want - len(active), BURST))
                self._not_before[uid] = time.monotonic() + self._backoff.get(uid, 0.0)
        elif len(active) > want:
            victims = sorted(active, key=_deletion_rank)[: min(len(active) - want, BURST)]
            for pod in victims:
                self._delete_pod(pod, rc)
            gone = {p["metadata"]["uid"] for p in victims}
            active = [p for p in active if p["metadata"]["uid"] not in gone]
        self._write_status(rc, active)

    def _adopt(self, rc: dict[str, Any], pod: dict[str, Any]) -> dict[str, Any] | None:
        """Make an orphan matching the selector the RC's own (as Kubernetes adopts)."""
        meta = dict(pod["metadata"])
        meta["ownerReferences"] = [*(meta.get("ownerReferences") or []), _owner(rc)]
        try:
            return self.store.update({**pod, "metadata": meta})
        except APIError as e:
            log.info("cannot adopt pod %s/%s: %s", meta["namespace"], meta["name"], e)
            return None

    def _create(self, rc: dict[str, Any], count: int) -> list[dict[str, Any]]:
        meta = rc["metadata"]
        template = rc["spec"].get("template") or {}
        tmeta = template.get("metadata") or {}
        created = []
        for _ in range(count):
            pod_meta: dict[str, Any] = {
                "generateName": f"{meta['name']}-",
                "namespace": meta["namespace"],
                "labels": dict(tmeta.get("labels") or {}),
                "ownerReferences": [_owner(rc)],
            }
            if tmeta.get("annotations"):
                pod_meta["annotations"] = dict(tmeta["annotations"])
            pod = {"apiVersion": "v1", "kind": POD, "metadata": pod_meta}
            pod["spec"] = template.get("spec") or {}
            try:
                obj = self.store.create(pod)
            except APIError as e:
                self._event(rc, "Warning", "FailedCreate", f"Error creating: {e.message}")
                self._queue((meta["namespace"], meta["name"]), self._grow_backoff(meta["uid"]))
                break
            created.append(obj)
            self._event(rc, "Normal", "SuccessfulCreate", f"Created pod: {obj['metadata']['name']}")
        return created

    def _delete_pod(self, pod: dict[str, Any], rc: dict[str, Any] | None) -> None:
        meta = pod["metadata"]
        with contextlib.suppress(APIError):  # gone already
            self.store.request_delete(POD, meta["namespace"], meta["name"])
            if rc is not None:
                self._event(rc, "Normal", "SuccessfulDelete", f"Deleted pod: {meta['name']}")

    def _orphaned(self, rc_uid: str, namespace: str) -> None:
        """The RC is gone: its pods follow (background cascading deletion)."""
        pods, _ = self.store.list(POD, namespace)
        for pod in pods:
            ref = controller_ref(pod)
            if (
                ref is not None
                and ref.get("uid") == rc_uid
                and not pod["metadata"].get("deletionTimestamp")
            ):
                self._delete_pod(pod, None)
        for d in (self._backoff, self._not_before):
            d.pop(rc_uid, None)

    def _note_failure(self, rc: dict[str, Any], pod: dict[str, Any]) -> None:
        """Pods of the RC that fail make its replacements wait longer; one running resets."""
        uid, phase = rc["metadata"]["uid"], (pod.get("status") or {}).get("phase")
        if phase == "Failed" and pod["metadata"]["uid"] not in self._failed_seen:
            self._failed_seen.add(pod["metadata"]["uid"])
            self._grow_backoff(uid)
        elif phase == "Running":
            self._backoff.pop(uid, None)

    def _grow_backoff(self, rc_uid: str) -> float:
        delay = min(self._backoff.get(rc_uid, 0.0) * 2 or BACKOFF_INITIAL, BACKOFF_MAX)
        self._backoff[rc_uid] = delay
        return delay

    def _write_status(self, rc: dict[str, Any], active: list[dict[str, Any]]) -> None:
        tlabels = ((rc["spec"].get("template") or {}).get("metadata") or {}).get("labels") or {}
        ready = sum(1 for p in active if _ready(p))
        status = {
            "replicas": len(active),
            "fullyLabeledReplicas": sum(
                1
                for p in active
                if all((p["metadata"].get("labels") or {}).get(k) == v for k, v in tlabels.items())
            ),
            "readyReplicas": ready,
            "availableReplicas": ready,  # minReadySeconds 0
            "observedGeneration": rc["metadata"].get("generation", 1),
        }
        meta = rc["metadata"]
        with contextlib.suppress(APIError):  # deleted meanwhile
            self.store.update_status(RC, meta["namespace"], meta["name"], status)

    def _rcs_matching(self, pod: dict[str, Any]) -> list[dict[str, Any]]:
        rcs, _ = self.store.list(RC, pod["metadata"]["namespace"])
        labels = pod["metadata"].get("labels") or {}
        return [rc for rc in rcs if not _selector(rc).empty and _selector(rc).matches(labels)]

    def _event(self, rc: dict[str, Any], type_: str, reason: str, message: str) -> None:
        meta = rc["metadata"]
        at = now_rfc3339()
        with contextlib.suppress(APIError):
            self.store.record_event(
                {
                    "type": type_,
                    "reason": reason,
                    "message": message,
                    "firstTimestamp": at,
                    "lastTimestamp": at,
                    "source": {"component": "replication-controller"},
                    "involvedObject": {
                        "kind": RC,
                        "apiVersion": "v1",
                        "namespace": meta["namespace"],
                        "name": meta["name"],
                        "uid": meta["uid"],
                    },
                }
            )


def _owner(rc: dict[str, Any]) -> dict[str, Any]:
    meta = rc["metadata"]
    return {
        "apiVersion": "v1",
        "kind": RC,
        "name": meta["name"],
        "uid": meta["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }

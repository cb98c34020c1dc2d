"""Static pods: every file in the manifests dir is a pod (or RC) of this node.

Rescanned when the directory changes (inotify) and at least every 20 s; files
starting with '.' are ignored.  As kubelet does, a static pod is named
`<name>-<node>` and annotated with its source and a hash of its spec; a file
that changes replaces its pods, a file removed deletes them.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
import threading

from minikube_py.apiserver.errors import APIError
from minikube_py.apiserver.store import ObjectStore
from minikube_py.errors import MinikubeError

RESCAN_SECONDS = 20.0
SOURCE = "kubernetes.io/config.source"
HASH = "kubernetes.io/config.hash"
FILE = "kubernetes.io/config.file"
KINDS = ("Pod", "ReplicationController")


class StaticPods:
    def __init__(self, directory: str, store: ObjectStore, node_name: str):
        self.directory = os.path.abspath(directory)
        self.store = store
        self.node_name = node_name
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._reported: dict[str, str] = {}  # file -> last error printed

    def start(self) -> None:
        os.makedirs(self.directory, exist_ok=True)
        self.sync()
        self._thread = threading.Thread(target=self._loop, name="static-pods", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        from minikube_py.logs.inotify import (
            IN_CLOSE_WRITE,
            IN_CREATE,
            IN_DELETE,
            IN_MOVED_FROM,
            IN_MOVED_TO,
            Inotify,
        )

        with Inotify() as ino:
            ino.add_watch(
                self.directory,
                IN_CLOSE_WRITE | IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO,
            )
            while not self._stop.is_set():
                changed = ino.wait(RESCAN_SECONDS)
                if self._stop.is_set():
                    return
                pending = self.sync()
                while pending and not self._stop.wait(0.2):
                    pending = self.sync()  # replaced pods: create once the old are gone
                del changed

    def desired(self) -> dict[tuple[str, str, str], dict]:
        from minikube_py.api.manifest import load_file

        out: dict[tuple[str, str, str], dict] = {}
        for name in sorted(os.listdir(self.directory)):
            path = os.path.join(self.directory, name)
            if name.startswith(".") or not os.path.isfile(path):
                continue
            try:
                result = load_file(path)
            except (MinikubeError, OSError) as e:
                if self._reported.get(path) != str(e):
                    self._reported[path] = str(e)
                    print(f"static pods: skipping {path}: {e}", file=sys.stderr, flush=True)
                continue
            self._reported.pop(path, None)
            for obj in result.objects:
                d = obj.to_dict()
                meta = d["metadata"]
                if d["kind"] == "Pod":
                    meta["name"] = f"{meta['name']}-{self.node_name}"
                    d.setdefault("spec", {})["nodeName"] = self.node_name
                # what the file says, without what loading made up (uid, timestamps)
                for key in ("uid", "creationTimestamp", "resourceVersion"):
                    meta.pop(key, None)
                d.pop("status", None)
                digest = hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()
                meta.setdefault("annotations", {}).update(
                    {SOURCE: "file", HASH: digest[:16], FILE: path}
                )
                out[(d["kind"], meta.get("namespace") or "default", meta["name"])] = d
        return out

    def sync(self) -> bool:
        """Make the store match the directory; True while replaced pods still await removal."""
        desired = self.desired()
        pending = False
        for kind in KINDS:
            items, _ = self.store.list(kind, None)
            for obj in items:
                meta = obj["metadata"]
                annotations = meta.get("annotations") or {}
                if annotations.get(SOURCE) != "file":
                    continue
                key = (kind, meta["namespace"], meta["name"])
                want = desired.get(key)
                if want is None or want["metadata"]["annotations"][HASH] != annotations.get(HASH):
                    if not meta.get("deletionTimestamp"):
                        with contextlib.suppress(APIError):
                            self.store.request_delete(kind, meta["namespace"], meta["name"])
                    pending = pending or want is not None
                if want is not None:  # unchanged, or created again once the old is gone
                    desired.pop(key)
        for d in desired.values():
            try:
                self.store.create(d)
            except APIError as e:
                path = d["metadata"]["annotations"][FILE]
                print(f"static pods: {path}: {e}", file=sys.stderr, flush=True)
        return pending

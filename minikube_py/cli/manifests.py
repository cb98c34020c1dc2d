"""Manifests as ``apply -f`` / ``delete -f`` read them: files to plain objects, nothing more.

The server parses, defaults and validates what it is sent (422 Invalid with the field causes),
so the CLI does not load the typed model (``minikube_py.api``): reading a JSON file costs
``json`` only, and ``yaml`` is imported only for a file that is not JSON.  ``run -f`` keeps
its own strict loading (``minikube_py.api.load_file``).

    docs, errors = read_manifests(["pod.json", "dir/", "-"])
    for source, obj in docs: ...     # one dict per object, Lists and ``---`` split
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:  # not imported at run time: `typing` alone is ~10 ms of CLI start-up
    from collections.abc import Iterable
    from typing import Any

STDIN_NAME = "STDIN"
SUFFIXES = (".yaml", ".yml", ".json")

# What the CLI sends where: (apiVersion, kind) -> resource, and back.
SUPPORTED = {("v1", "Pod"): "pods", ("v1", "ReplicationController"): "replicationcontrollers"}
KIND_OF = {"pods": "Pod", "replicationcontrollers": "ReplicationController", "events": "Event"}
RESOURCE_OF = {v: k for k, v in KIND_OF.items()}
SINGULAR = {"pods": "pod", "replicationcontrollers": "replicationcontroller", "events": "event"}


def name_of(obj: dict[str, Any]) -> str:
    """``pod/web``, as kubectl names an object in its messages."""
    resource = RESOURCE_OF.get(obj.get("kind", ""), "pods")
    return f"{SINGULAR[resource]}/{obj['metadata']['name']}"


def manifest_paths(filenames: Iterable[str]) -> list[str]:
    """Files as given; a directory gives its .yaml/.yml/.json files (not hidden), sorted."""
    paths: list[str] = []
    for name in filenames:
        if name != "-" and os.path.isdir(name):
            entries = sorted(
                e for e in os.listdir(name) if not e.startswith(".") and e.endswith(SUFFIXES)
            )
            paths += [os.path.join(name, e) for e in entries]
        else:
            paths.append(name)
    return paths


def read_manifests(filenames: Iterable[str]) -> tuple[list[tuple[str, Any]], list[str]]:
    """Every document of every file, Lists and multi-document files split into their items:
    ``([(where, object), ...], [error, ...])``.  ``where`` names the file (and the document
    or item) for messages; an object is whatever the file holds there (not checked).  A file
    that cannot be read or parsed gives an error and no objects."""
    names = list(filenames)
    paths = manifest_paths(names)
    if not paths:
        return [], [f"no manifest files (.yaml, .yml, .json) in {', '.join(names)}"]
    objects: list[tuple[str, Any]] = []
    errors: list[str] = []
    for path in paths:
        source = STDIN_NAME if path == "-" else path
        try:
            text = _read(path)
            documents = _decode(text, source)
        except _Failed as e:
            errors.append(str(e))
            continue
        if not documents:
            errors.append(f"{source}: no objects found (the manifest is empty)")
            continue
        several = len(documents) > 1
        for number, doc in enumerate(documents, start=1):
            where = f"{source} (document {number})" if several else source
            if isinstance(doc, dict) and doc.get("kind") == "List":
                if doc.get("apiVersion") not in ("v1", None):
                    errors.append(
                        f'{where}: no matches for kind "List" in version "{doc.get("apiVersion")}"'
                    )
                    continue
                items = doc.get("items") or []
                if not isinstance(items, list):
                    errors.append(f"{where}: items: must be an array")
                    continue
                objects += [(f"{where} (items[{i}])", item) for i, item in enumerate(items)]
            else:
                objects.append((where, doc))
    return objects, errors


def load_objects(
    filenames: Iterable[str], namespace: str | None, verb: str = "apply"
) -> tuple[list[tuple[str, str, dict[str, Any]]], list[str]]:
    """The objects in the files, as sent to the server: ``([(where, resource, object)],
    [error, ...])``.  The server validates them; here only what a request needs is checked
    (a mapping of a kind we serve).  Raises ManifestError (nothing is sent) when a file cannot
    be read or parsed, or an object's namespace contradicts ``--namespace``."""
    from minikube_py.errors import ManifestError

    documents, failures = read_manifests(filenames)
    if failures:
        raise ManifestError("; ".join(failures))
    out: list[tuple[str, str, dict[str, Any]]] = []
    errors: list[str] = []
    for where, data in documents:
        if not isinstance(data, dict):
            what = "a list" if isinstance(data, list) else f"a {type(data).__name__}"
            errors.append(
                f"{where}: expected a Kubernetes object (a mapping with apiVersion and kind), "
                f"got {what}"
            )
            continue
        kind, api_version = data.get("kind"), data.get("apiVersion")
        missing = [k for k, v in (("apiVersion", api_version), ("kind", kind)) if not v]
        if missing:
            errors.append(
                f"{where}: Object '{missing[-1][0].upper() + missing[-1][1:]}' is missing"
            )
            continue
        resource = SUPPORTED.get((api_version, kind))
        if resource is None:
            supported = ", ".join(f"{v} {k}" for v, k in SUPPORTED)
            errors.append(
                f'{where}: no matches for kind "{kind}" in version "{api_version}" '
                f"(minikube-py knows {supported}, and v1 List)"
            )
            continue
        meta = data.get("metadata")
        if not isinstance(meta, dict):
            meta = data["metadata"] = {}
        own = meta.get("namespace")
        if namespace:
            if own not in (None, "", "default", namespace):
                raise ManifestError(
                    f'the namespace from the provided object "{own}" does '
                    f'not match the namespace "{namespace}". You must pass '
                    f"'--namespace={own}' to perform this operation."
                )
            meta["namespace"] = namespace
        elif not own:
            meta["namespace"] = "default"
        meta.pop("creationTimestamp", None)
        data.pop("status", None)
        out.append((where, resource, data))
    if not out and not errors:
        raise ManifestError(f"no objects passed to {verb}")
    return out, errors


class _Failed(Exception):
    """A file that cannot be read or parsed (the message names it)."""


def _read(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    from minikube_py.kubeyaml import DecodeError, read

    try:
        return read(path)
    except DecodeError as e:
        raise _Failed(str(e)) from None


def _decode(text: str, source: str) -> list[Any]:
    from minikube_py.kubeyaml import DecodeError, decode

    try:
        return decode(text, source)
    except DecodeError as e:
        raise _Failed(str(e)) from None

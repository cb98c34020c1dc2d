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
from collections.abc import Iterable
from typing import Any

STDIN_NAME = "STDIN"
SUFFIXES = (".yaml", ".yml", ".json")


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

"""Manifests as ``apply -f`` / ``delete -f`` read them: files to plain objects, nothing more.

The server parses, defaults and validates what it is sent (422 Invalid with the field causes),
so the CLI does not load the typed model (``minikube_py.api``): reading a JSON file costs
``json`` only, and ``yaml`` is imported only for a file that is not JSON.  ``run -f`` keeps
its own strict loading (``minikube_py.api.load_file``).

    docs, errors = read_manifests(["pod.json", "dir/", "-"])
    for source, obj in docs: ...     # one dict per object, Lists and ``---`` split
"""

from __future__ import annotations

import json
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
    try:
        with open(path, encoding="utf-8") as stream:
            return stream.read()
    except FileNotFoundError:
        raise _Failed(f'{path}: the path "{path}" does not exist') from None
    except IsADirectoryError:
        raise _Failed(f"{path}: is a directory, not a manifest file") from None
    except UnicodeDecodeError as e:
        raise _Failed(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    except OSError as e:
        raise _Failed(f"{path}: cannot read: {e.strerror}") from None


class _DuplicateKey(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise _DuplicateKey(k)
        out[k] = v
    return out


def _decode(text: str, source: str) -> list[Any]:
    """The documents of ``text``: JSON (one document) when it starts with ``{`` or ``[``
    and parses as such, else YAML (``---`` separated; empty documents dropped)."""
    if text.lstrip().startswith(("{", "[")):
        try:
            return [json.loads(text, object_pairs_hook=_unique_keys)]
        except json.JSONDecodeError:
            pass  # YAML flow style, or several JSON documents: let YAML try
        except _DuplicateKey as e:
            raise _Failed(f'{source}: error parsing JSON: duplicate field "{e.key}"') from None
    import io

    import yaml

    try:
        docs = list(yaml.load_all(io.StringIO(text), Loader=_yaml_loader()))
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise _Failed(
            f"{source}: error parsing YAML{where}: {e.problem or e.context or 'syntax error'}"
        ) from None
    except yaml.YAMLError as e:
        raise _Failed(f"{source}: error parsing YAML: {e}") from None
    return [d for d in docs if d is not None]


def _yaml_loader() -> Any:
    """The Kubernetes YAML loader; yaml is imported only when a file needs it."""
    from minikube_py.kubeyaml import KubeYAMLLoader

    return KubeYAMLLoader

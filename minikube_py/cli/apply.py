"""`apply -f`: send the objects in the files to the agent, as kubectl apply does.

Lean on purpose (no click, no YAML for a JSON file, no typed model): it runs from both the
click command (``minikube_py.cli.kubectl.apply``) and the quick path (``minikube_py.cli.quick``).
"""

from __future__ import annotations

import sys

from minikube_py.apiserver.client import Client
from minikube_py.apiserver.errors import APIError
from minikube_py.cli.manifests import load_objects, name_of

TYPE_CHECKING = False
if TYPE_CHECKING:  # not imported at run time: `typing` alone is ~10 ms of CLI start-up
    from collections.abc import Iterable


def apply_files(socket_path: str, filenames: Iterable[str], namespace: str | None) -> int:
    """Create (or leave unchanged, or update) every object in `filenames`; the exit code.

    Raises ManifestError (nothing sent) when a file cannot be read or parsed; objects the
    server refuses are reported one by one, the others still applied."""
    objects, errors = load_objects(filenames, namespace)
    failed = bool(errors)
    with Client(socket_path) as client:
        for where, resource, data in objects:
            ns = str(data["metadata"]["namespace"])
            name = data["metadata"].get("name") or ""
            source = where.split(" (", 1)[0]
            try:
                try:  # create first: a new object costs one round trip
                    created = client.create(resource, ns, data)
                    _out(f"{name_of(created)} created")
                    continue
                except APIError as e:
                    if e.reason != "AlreadyExists" or not name:
                        raise
                current = client.get(resource, ns, name)
                data["metadata"]["uid"] = current["metadata"]["uid"]
                updated = client.update(resource, ns, name, data)
                # not by resourceVersion: the kubelet's status updates move it meanwhile
                same = _applied(updated) == _applied(current)
                _out(f"{name_of(updated)} {'unchanged' if same else 'configured'}")
            except APIError as e:
                failed = True
                if e.reason == "Invalid":
                    _err(e.kubectl_message())
                else:
                    _err(
                        f"Error from server ({e.reason or 'InternalError'}): error when "
                        f'applying "{source}": {e.message}'
                    )
    for error in errors:
        _err(f"error: {error}")
    return 1 if failed else 0


def _applied(obj: dict) -> tuple:
    """What an apply sets: labels, annotations and the spec."""
    meta = obj["metadata"]
    return meta.get("labels") or {}, meta.get("annotations") or {}, obj.get("spec")


def _out(line: str) -> None:
    print(line, flush=True)


def _err(line: str) -> None:
    print(line, file=sys.stderr, flush=True)

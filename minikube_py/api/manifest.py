"""Loading manifests: YAML or JSON, one document, several (``---``), or ``kind: List``.

Each object is parsed, defaulted and validated as the API server would on create.  Every
problem of every document is collected; if there is any, ``ManifestError`` is raised and
nothing is returned (so nothing gets created).  Its message is one line naming the file (and
the document when the file has several), the object and each field::

    pod.yaml: Pod "web" is invalid: spec.containers[1].image: Required value

Unknown fields and fields minikube-py parses but does not act on are not errors: they come
back as warnings (strings naming the file and field path) for the caller to show.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, TextIO

from minikube_py.api import field as f
from minikube_py.api.defaults import default_pod, default_replication_controller
from minikube_py.api.field import FieldError
from minikube_py.api.objects import (
    SUPPORTED_VOLUME_SOURCES,
    KubeObject,
    Pod,
    PodSpec,
    ReplicationController,
)
from minikube_py.api.reader import ObjectReader, ParseContext
from minikube_py.api.validation import validate_pod, validate_replication_controller
from minikube_py.errors import ManifestError
from minikube_py.kubeyaml import DecodeError, decode, read

STDIN_NAME = "STDIN"
SUPPORTED_KINDS = {("v1", "Pod"): Pod, ("v1", "ReplicationController"): ReplicationController}

# Fields Kubernetes defines that are parsed and kept, but that minikube-py does not act on
# yet; a manifest using them still loads, with a warning saying so.
_IGNORED_SPEC_FIELDS = (
    "hostNetwork",
    "hostPID",
    "hostIPC",
    "ephemeralContainers",
    "dnsConfig",
    "hostAliases",
    "runtimeClassName",
    "activeDeadlineSeconds",
)
_IGNORED_CONTAINER_FIELDS = (
    "envFrom",
    "volumeDevices",
)


@dataclass
class LoadResult:
    """What loading manifests produced: the objects, in file order, and the warnings."""

    objects: list[KubeObject] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def pods(self) -> list[Pod]:
        return [o for o in self.objects if isinstance(o, Pod)]

    @property
    def replication_controllers(self) -> list[ReplicationController]:
        return [o for o in self.objects if isinstance(o, ReplicationController)]

    def extend(self, other: LoadResult) -> None:
        self.objects += other.objects
        self.warnings += other.warnings


# ------------------------------------------------------------------------------ entry points


def load_file(path: str | os.PathLike[str], *, create: bool = True) -> LoadResult:
    """Load every object in one file (``-`` reads standard input)."""
    name = os.fspath(path)
    if name == "-":
        import sys

        return load_stream(sys.stdin, source=STDIN_NAME, create=create)
    try:
        text = read(name)
    except DecodeError as e:
        raise ManifestError(str(e)) from None
    return load_string(text, source=name, create=create)


def load_files(paths: Iterable[str | os.PathLike[str]], *, create: bool = True) -> LoadResult:
    """Load several files; all must be valid, and no two objects may share kind+namespace+name."""
    result = LoadResult()
    failures: list[ManifestError] = []
    for path in paths:
        try:
            result.extend(load_file(path, create=create))
        except ManifestError as e:
            failures.append(e)
    if failures:
        raise _combine(failures)
    _check_unique(result.objects)
    return result


def load_stream(stream: TextIO, *, source: str = STDIN_NAME, create: bool = True) -> LoadResult:
    return load_string(stream.read(), source=source, create=create)


def load_string(text: str, *, source: str = "<string>", create: bool = True) -> LoadResult:
    """Load every object in ``text`` (YAML or JSON); ``source`` names it in messages."""
    documents = _decode(text, source)
    if not documents:
        raise ManifestError(f"{source}: no objects found (the manifest is empty)")
    several = len(documents) > 1
    result = LoadResult()
    failures: list[ManifestError] = []
    for number, doc in enumerate(documents, start=1):
        where = f"{source} (document {number})" if several else source
        try:
            result.extend(_load_document(doc, where, create))
        except ManifestError as e:
            failures.append(e)
    if failures:
        raise _combine(failures)
    _check_unique(result.objects, source)
    return result


def parse_object(
    data: Any, *, source: str = "", create: bool = True
) -> tuple[KubeObject, list[str]]:
    """One decoded object (an API request body): parse, default, validate.

    Returns the object and its warnings; raises ManifestError (with ``causes``) if invalid.
    """
    obj, warnings = _load_object(data, source, create)
    return obj, warnings


def invalid_status(err: ManifestError) -> dict[str, Any]:
    """The Kubernetes ``Status`` (422 Invalid) an API server answers for ``err``."""
    message = str(err)
    details: dict[str, Any] = {}
    if err.name:
        details["name"] = err.name
    if err.kind:
        details["kind"] = err.kind
    details["causes"] = [
        {"reason": c.reason, "message": c.message, "field": c.field} for c in err.causes
    ]
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": "Invalid",
        "details": details,
        "code": 422,
    }


# ------------------------------------------------------------------------------ internals


def _decode(text: str, source: str) -> list[Any]:
    try:
        return decode(text, source)
    except DecodeError as e:
        raise ManifestError(str(e)) from None


def _load_document(doc: Any, where: str, create: bool) -> LoadResult:
    if isinstance(doc, dict) and doc.get("kind") == "List":
        if doc.get("apiVersion") not in ("v1", None):
            raise ManifestError(
                f'{where}: no matches for kind "List" in version "{doc.get("apiVersion")}"'
            )
        items = doc.get("items") or []
        if not isinstance(items, list):
            raise ManifestError(f"{where}: items: must be an array")
        result = LoadResult()
        failures: list[ManifestError] = []
        for i, item in enumerate(items):
            try:
                obj, warnings = _load_object(item, f"{where} (items[{i}])", create)
            except ManifestError as e:
                failures.append(e)
                continue
            result.objects.append(obj)
            result.warnings += warnings
        if failures:
            raise _combine(failures)
        return result
    obj, warnings = _load_object(doc, where, create)
    return LoadResult([obj], warnings)


def _load_object(data: Any, where: str, create: bool) -> tuple[KubeObject, list[str]]:
    prefix = f"{where}: " if where else ""
    if not isinstance(data, dict):
        raise ManifestError(
            f"{prefix}expected a Kubernetes object (a mapping with apiVersion and kind), "
            f"got {_what(data)}"
        )
    kind, api_version = data.get("kind"), data.get("apiVersion")
    for key, value in (("kind", kind), ("apiVersion", api_version)):
        if not value:
            raise ManifestError(
                f"{prefix}Object '{key[0].upper() + key[1:]}' is missing",
                causes=[f.required(key)],
            )
    cls = SUPPORTED_KINDS.get((api_version, kind))
    if cls is None:
        supported = ", ".join(f"{v} {k}" for v, k in SUPPORTED_KINDS)
        raise ManifestError(
            f'{prefix}no matches for kind "{kind}" in version "{api_version}" '
            f"(minikube-py knows {supported}, and v1 List)",
            causes=[f.not_supported("kind", kind, [k for _, k in SUPPORTED_KINDS])],
        )

    ctx = ParseContext()
    obj = cls.read(ObjectReader(ctx, data, ""))
    warnings = [f'{prefix}unknown field "{p}"' for p in ctx.unknown_fields]
    errors = ctx.errors
    if not errors:
        if isinstance(obj, Pod):
            default_pod(obj, create=create)
            errors = validate_pod(obj)
            warnings += [prefix + w for w in _ignored_field_warnings(obj.spec, "spec")]
        else:
            default_replication_controller(obj, create=create)
            errors = validate_replication_controller(obj)
            if obj.spec.template is not None:
                warnings += [
                    prefix + w
                    for w in _ignored_field_warnings(obj.spec.template.spec, "spec.template.spec")
                ]
    if errors:
        raise _invalid(prefix, kind, obj.metadata.name, errors)
    return obj, warnings


def _invalid(prefix: str, kind: str, name: str, errors: list[FieldError]) -> ManifestError:
    unique: list[FieldError] = []
    for e in errors:  # Kubernetes drops repeated messages from its aggregate
        if str(e) not in {str(u) for u in unique}:
            unique.append(e)
    body = str(unique[0]) if len(unique) == 1 else "[" + ", ".join(str(e) for e in unique) + "]"
    return ManifestError(
        f'{prefix}{kind} "{name}" is invalid: {body}', causes=unique, kind=kind, name=name
    )


def _ignored_field_warnings(spec: PodSpec, path: str) -> list[str]:
    out = []
    for key in _IGNORED_SPEC_FIELDS:
        if spec.extra.get(key):
            out.append(f"{path}.{key}: not supported by minikube-py yet; ignored")
    for i, vol in enumerate(spec.volumes):
        kinds = vol.source_types
        if kinds and kinds[0] not in SUPPORTED_VOLUME_SOURCES:
            out.append(
                f"{path}.volumes[{i}]: {kinds[0]} volumes are not supported by minikube-py yet "
                f"(only {', '.join(SUPPORTED_VOLUME_SOURCES)}); the pod cannot start"
            )
    for cpath, c in spec.all_containers():
        cpath = cpath.replace("spec", path, 1)
        for key in _IGNORED_CONTAINER_FIELDS:
            if c.extra.get(key):
                out.append(f"{cpath}.{key}: not supported by minikube-py yet; ignored")
        for i, var in enumerate(c.env):
            if var.value_from is not None and var.value_from.extra:
                source = next(iter(var.value_from.extra))
                out.append(
                    f"{cpath}.env[{i}].valueFrom.{source}: not supported by minikube-py yet; "
                    "the container cannot start"
                )
    return out


def _check_unique(objects: list[KubeObject], source: str = "") -> None:
    seen: dict[tuple[str, str, str], bool] = {}
    for obj in objects:
        key = (obj.kind, obj.metadata.namespace, obj.metadata.name)
        if key in seen:
            resource = {"Pod": "pods", "ReplicationController": "replicationcontrollers"}[obj.kind]
            prefix = f"{source}: " if source else ""
            raise ManifestError(
                f'{prefix}{resource} "{obj.metadata.name}" is defined twice in namespace '
                f'"{obj.metadata.namespace}"'
            )
        seen[key] = True


def _combine(failures: list[ManifestError]) -> ManifestError:
    if len(failures) == 1:
        return failures[0]
    flat: list[ManifestError] = []
    for e in failures:
        flat += e.documents or [e]
    return ManifestError(
        "; ".join(str(e) for e in flat),
        causes=[c for e in flat for c in e.causes],
        kind=flat[0].kind,
        name=flat[0].name,
        documents=flat,
    )


def _what(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return f"the text {json.dumps(value[:40])}"
    return (
        json.dumps(value)
        if value is None or isinstance(value, int | float | bool)
        else type(value).__name__
    )

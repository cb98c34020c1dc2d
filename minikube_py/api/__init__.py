"""Kubernetes v1 objects for the kubelet: typed views, defaults, validation, manifest loading.

from minikube_py.api import load_files
result = load_files(["pod.yaml"])      # raises ManifestError (nothing created) if invalid
for warning in result.warnings: ...    # unknown / ignored fields, for the caller to show
for pod in result.pods: ...            # defaulted, validated Pod objects
"""

from minikube_py.api.field import FieldError
from minikube_py.api.manifest import (
    LoadResult,
    invalid_status,
    load_file,
    load_files,
    load_stream,
    load_string,
    parse_object,
)
from minikube_py.api.objects import (
    Container,
    ObjectMeta,
    Pod,
    PodSpec,
    ReplicationController,
    Volume,
)
from minikube_py.api.quantity import Quantity

__all__ = [
    "Container",
    "FieldError",
    "LoadResult",
    "ObjectMeta",
    "Pod",
    "PodSpec",
    "Quantity",
    "ReplicationController",
    "Volume",
    "invalid_status",
    "load_file",
    "load_files",
    "load_stream",
    "load_string",
    "parse_object",
]

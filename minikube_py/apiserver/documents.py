"""The documents the API serves besides objects: lists, namespaces, version, discovery."""

from __future__ import annotations

from typing import Any

from minikube_py import __version__

KUBERNETES_VERSION = (1, 28)  # the API shapes followed


def list_doc(kind: str, items: list[dict[str, Any]], rv: str) -> dict[str, Any]:
    return {
        "kind": f"{kind}List",
        "apiVersion": "v1",
        "metadata": {"resourceVersion": rv},
        "items": items,
    }


def namespace_doc(name: str) -> dict[str, Any]:
    return {
        "kind": "Namespace",
        "apiVersion": "v1",
        "metadata": {"name": name, "labels": {"kubernetes.io/metadata.name": name}},
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    }


def version_doc() -> dict[str, Any]:
    import platform

    major, minor = KUBERNETES_VERSION
    return {
        "major": str(major),
        "minor": str(minor),
        "gitVersion": f"v{major}.{minor}.0-minikube-py.{__version__}",
        "gitCommit": "",
        "gitTreeState": "",
        "buildDate": "",
        "goVersion": f"python{platform.python_version()}",
        "compiler": "cpython",
        "platform": "linux/" + _GOARCH.get(platform.machine(), platform.machine()),
    }


_GOARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386"}

API_VERSIONS = {
    "kind": "APIVersions",
    "versions": ["v1"],
    "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": ""}],
}

_VERBS = ["create", "delete", "get", "list", "update", "watch"]
RESOURCE_LIST = {
    "kind": "APIResourceList",
    "groupVersion": "v1",
    "resources": [
        {
            "name": "events",
            "singularName": "event",
            "namespaced": True,
            "kind": "Event",
            "verbs": ["create", "get", "list", "watch"],
            "shortNames": ["ev"],
        },
        {
            "name": "namespaces",
            "singularName": "namespace",
            "namespaced": False,
            "kind": "Namespace",
            "verbs": ["get", "list"],
            "shortNames": ["ns"],
        },
        {
            "name": "pods",
            "singularName": "pod",
            "namespaced": True,
            "kind": "Pod",
            "verbs": _VERBS,
            "shortNames": ["po"],
            "categories": ["all"],
        },
        {
            "name": "pods/log",
            "singularName": "",
            "namespaced": True,
            "kind": "Pod",
            "verbs": ["get"],
        },
        {
            "name": "pods/status",
            "singularName": "",
            "namespaced": True,
            "kind": "Pod",
            "verbs": ["get", "update"],
        },
        {
            "name": "replicationcontrollers",
            "singularName": "replicationcontroller",
            "namespaced": True,
            "kind": "ReplicationController",
            "verbs": _VERBS,
            "shortNames": ["rc"],
            "categories": ["all"],
        },
        {
            "name": "replicationcontrollers/status",
            "singularName": "",
            "namespaced": True,
            "kind": "ReplicationController",
            "verbs": ["get", "update"],
        },
    ],
}

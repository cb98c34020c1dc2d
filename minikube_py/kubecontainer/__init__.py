"""How the kubelet turns a pod's container into a process: argv, env, cwd, user."""

from minikube_py.kubecontainer.env import (
    ContainerProcess,
    ImageConfig,
    build_process,
    make_environment_variables,
)
from minikube_py.kubecontainer.expansion import expand, mapping_for
from minikube_py.kubecontainer.user import resolve_user

__all__ = [
    "ContainerProcess",
    "ImageConfig",
    "build_process",
    "expand",
    "make_environment_variables",
    "mapping_for",
    "resolve_user",
]

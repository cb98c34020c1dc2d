"""minikube-py: a mini-kubelet that runs Kubernetes pods as real Linux containers."""

__version__ = "0.1.0"

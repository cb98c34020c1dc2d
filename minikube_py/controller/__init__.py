"""Controllers (kube-controller-manager's part of the node): the replication controller."""

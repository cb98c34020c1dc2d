"""The agent's exception family: what went wrong, said so a user can act on it."""


class MinikubeError(Exception):
    """Base of every error minikube_py raises for a user to read."""


class ManifestError(MinikubeError):
    """A manifest is invalid; the message names the file and the field path."""


class NetworkError(MinikubeError):
    """The pod network (bridge, veth, IPAM, hosts/resolv files) could not be set up."""

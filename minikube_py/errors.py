"""The agent's exception family: what went wrong, said so a user can act on it."""


class MinikubeError(Exception):
    """Base of every error minikube_py raises for a user to read."""


class ManifestError(MinikubeError):
    """A manifest is invalid; the message names the file and the field path.

    ``causes`` holds one ``minikube_py.api.field.FieldError`` (field, reason, message) per
    problem, so the API can answer with a Kubernetes ``Status`` and its ``details.causes``;
    ``kind`` and ``name`` say which object (``details.kind``/``details.name``) when known.
    ``documents`` holds one ManifestError per invalid document when a file had several.
    """

    def __init__(
        self,
        message: str,
        *,
        causes: list | tuple = (),
        kind: str = "",
        name: str = "",
        documents: list | tuple = (),
    ) -> None:
        super().__init__(message)
        self.causes = list(causes)
        self.kind = kind
        self.name = name
        self.documents = list(documents)


class UnsupportedVolumeError(MinikubeError):
    """A pod uses a volume type Kubernetes knows but minikube-py does not implement yet."""


class CreateContainerConfigError(MinikubeError):
    """A container's process (argv, env, user) cannot be built (kubelet's reason of that name)."""


class NetworkError(MinikubeError):
    """The pod network (bridge, veth, IPAM, hosts/resolv files) could not be set up."""

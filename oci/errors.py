"""The image layer's exception family.

Every message is one complete line naming what failed and where (image, registry, blob, file),
because the CLI prints it as-is after ``error:``.
"""


class OCIError(Exception):
    """Base of every error oci raises for a user to read."""


class InvalidReference(OCIError):
    """An image reference that does not parse; the message says which part is wrong."""


class InvalidPlatform(OCIError):
    """A ``--platform`` value that is not ``os/arch[/variant]``."""


class ImageNotFound(OCIError):
    """The registry (or the local store) has no such repository, tag or digest."""


class RegistryError(OCIError):
    """The registry answered something we cannot use (unexpected status, bad manifest, ...)."""


class RegistryUnreachable(RegistryError):
    """No connection to the registry could be made (refused, DNS, timeout, TLS)."""


class AuthenticationRequired(RegistryError):
    """The registry wants credentials we do not have, or rejected the ones we sent."""


class ManifestError(RegistryError):
    """A manifest or index is malformed, of an unsupported type, or inconsistent."""


class UnsupportedManifest(ManifestError):
    """A manifest type we refuse, such as Docker schema 1."""


class NoMatchingPlatform(ManifestError):
    """An index has no manifest for the wanted platform; the message lists the ones it has."""


class DigestMismatch(OCIError):
    """Content whose sha256 or size differs from what its descriptor or reference promised."""


class BlobDownloadError(RegistryError):
    """A blob download kept failing (dropped connections) after all retries."""


class RegistryConfigError(OCIError):
    """A Docker-style config.json that cannot be read or parsed."""


class StoreError(OCIError):
    """The local content store is unreadable or inconsistent."""

"""The image layer's exception family."""


class OCIError(Exception):
    """Base of every error oci raises for a user to read."""

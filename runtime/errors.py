"""The container runtime's exception family."""


class RuntimeErr(Exception):
    """Base of every error runtime raises for a user to read."""

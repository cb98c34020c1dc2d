"""The container runtime's exception family.

Every message is one complete line naming what failed and where: the syscall
or start step, the path it touched and the errno text, e.g.
``exec "/bin/nope": no such file or directory``.
"""

from __future__ import annotations

import os


class RuntimeErr(Exception):
    """Base of every error runtime raises for a user to read."""


def errno_text(err: int) -> str:
    """`ENOENT` -> ``no such file or directory`` (runc's lower-case style)."""
    text = os.strerror(err) if err else "unknown error"
    return text[:1].lower() + text[1:]


class SyscallError(RuntimeErr):
    """A syscall failed: which one, on which path, with which errno."""

    def __init__(self, syscall: str, path: str | None, err: int, detail: str = "") -> None:
        self.syscall = syscall
        self.path = path
        self.errno = err
        where = f' "{path}"' if path else ""
        extra = f" ({detail})" if detail else ""
        super().__init__(f"{syscall}{where}: {errno_text(err)}{extra}")


class SpecError(RuntimeErr):
    """The container spec is invalid; names the field."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"invalid container spec: {field}: {message}")


class _StepFailed(RuntimeErr):
    """A child failed before exec: which step, which path, errno (from its report)."""

    def __init__(
        self, container_id: str, step: str, path: str | None, err: int, detail: str = ""
    ) -> None:
        self.container_id = container_id
        self.step = step
        self.path = path
        self.errno = err
        where = f' "{path}"' if path else ""
        reason = errno_text(err) if err else detail
        extra = f" ({detail})" if detail and err else ""
        super().__init__(f"{self._prefix(container_id, step)}{step}{where}: {reason}{extra}")

    @staticmethod
    def _prefix(container_id: str, step: str) -> str:
        return f"container {container_id}: "


class StartError(_StepFailed):
    """The container's init failed before exec: which step, which path, errno.

    Raised in the caller from the structured report the child sends over its
    close-on-exec pipe (see runtime.init).
    """


class CgroupError(RuntimeErr):
    """A cgroup operation failed (path and reason)."""


class ContainerNotFound(RuntimeErr):
    def __init__(self, state_dir: str) -> None:
        super().__init__(f"no container state in {state_dir}")


class ContainerStateError(RuntimeErr):
    """The operation does not fit the container's state (e.g. start twice)."""


class NotParentError(RuntimeErr):
    """Exit status asked of a container this process is not the parent of."""


class ExecError(_StepFailed):
    """A process exec'd into a container failed before exec (from its report).

    The exec step itself reads as runc's ``exec "/bin/nope": no such file or
    directory``; an earlier step names the container and the step.
    """

    @staticmethod
    def _prefix(container_id: str, step: str) -> str:
        return "" if step == "exec" else f"container {container_id}: exec: "

"""Where a container's stdout and stderr go: its log file."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator


@contextlib.contextmanager
def open_log(log_path: str | None) -> Iterator[tuple[int | None, int | None]]:
    """fds for the container's stdout and stderr, valid inside the block (None: /dev/null)."""
    if log_path is None:
        yield None, None
        return
    os.makedirs(os.path.dirname(log_path), exist_ok=True)
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o640)
    try:
        yield fd, fd
    finally:
        os.close(fd)

"""The per-container state file: what another process needs to find a container.

<state dir>/state.json holds id, pid + pid start time (a pid alone may be
reused), status, cgroup, rootfs and host-side mounts.  Written atomically
(temp file, rename) so a reader never sees half a file.  No fsync, on
purpose: the file describes live processes, and the only event that loses
unsynced pages (a machine crash) ends those processes too; what must survive
is an agent crash, and the page cache outlives that.  (~1 ms saved per write.)
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import tempfile
from dataclasses import dataclass, field
from typing import Any

from runtime.errors import ContainerNotFound, RuntimeErr

STATE_FILE = "state.json"

CREATED = "created"
RUNNING = "running"
STOPPED = "stopped"


@dataclass
class State:
    id: str
    pid: int
    pid_start_time: int
    status: str
    cgroup: dict[str, Any]
    rootfs: str
    # mounts made in the host's mount namespace, undone by delete; everything
    # else lives in the container's own mount namespace and dies with it
    mounts: list[str] = field(default_factory=list)
    namespaces: dict[str, str] = field(default_factory=dict)  # type -> /proc/PID/ns/...
    # the init's resolved process (args, env, cwd, uid, gid, additional_gids,
    # capabilities, no_new_privileges, rlimits, oom_score_adj): what an exec'd
    # process inherits.  The env may hold secrets: the file is mode 0600.
    process: dict[str, Any] = field(default_factory=dict)
    created: float = 0.0
    started: float | None = None
    # known only to the parent (see Container.wait), recorded here for others
    exit_code: int | None = None
    exit_signal: int | None = None
    oom_killed: bool | None = None
    finished: float | None = None


def state_path(state_dir: str) -> str:
    return os.path.join(state_dir, STATE_FILE)


def save(state_dir: str, state: State) -> None:
    os.makedirs(state_dir, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".state-", dir=state_dir)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(dataclasses.asdict(state), f, indent=1)
        os.rename(tmp, state_path(state_dir))
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load(state_dir: str) -> State:
    try:
        with open(state_path(state_dir)) as f:
            data = json.load(f)
    except FileNotFoundError:
        raise ContainerNotFound(state_dir) from None
    except (OSError, ValueError) as e:
        raise RuntimeErr(f"container state {state_path(state_dir)}: unreadable: {e}") from None
    return State(**data)


def remove(state_dir: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(state_path(state_dir))
    with contextlib.suppress(OSError):  # the caller's files are there too: keep it
        os.rmdir(state_dir)

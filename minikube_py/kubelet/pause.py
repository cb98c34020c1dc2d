"""The pause container: holds a pod's namespaces, reaps, exits on SIGINT/SIGTERM.

What Kubernetes' pause image does, as the runtime's builtin "pause" (runtime.init.pause):
the container's init, forked from the runtime's forker, never execs, so there is no
binary or interpreter to start and nothing to read from its root.  The runtime makes it a
container like any other (new net, ipc, uts, pid and mount namespaces, the pod's hostname,
its own cgroup, no capabilities); its root is an empty read-only directory.
"""

from __future__ import annotations

import os

from runtime.spec import Capabilities, Namespace, Process, Root, Spec


def prepare_rootfs(rootfs: str) -> None:
    """Make `rootfs`, the pause's empty root (idempotent, safe for pods starting at once)."""
    os.makedirs(rootfs, mode=0o555, exist_ok=True)


def pause_spec(rootfs: str, hostname: str, cgroups_path: str) -> Spec:
    prepare_rootfs(rootfs)
    return Spec(
        process=Process(
            args=["pause"],
            builtin="pause",
            env=[],
            capabilities=Capabilities(base=[]),
            no_new_privileges=True,
        ),
        root=Root(path=rootfs, readonly=True),
        hostname=hostname,
        mounts=[],
        namespaces=[Namespace(t) for t in ("pid", "network", "ipc", "uts", "mount")],
        cgroups_path=cgroups_path,
        masked_paths=[],
        readonly_paths=[],
        default_devices=False,
    )

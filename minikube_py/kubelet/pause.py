"""The pause container: holds a pod's namespaces, reaps, exits on SIGINT/SIGTERM.

What Kubernetes' pause.c does, as a few lines the host's interpreter runs.  The
runtime makes it a container like any other (new net, ipc, uts, pid and mount
namespaces, the pod's hostname, its own cgroup, no capabilities).  Its root is
an empty directory with read-only binds of the host's /usr and the interpreter's
prefix (the host's top-level lib/bin symlinks mirrored), so it needs no image.
"""

from __future__ import annotations

import os
import sys

from runtime.spec import Capabilities, Mount, Namespace, Process, Root, Spec

# Top-level host paths the interpreter may need; symlinks (merged /usr) are mirrored.
_HOST_PATHS = ("usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32")

PAUSE_PROGRAM = """
import os, signal
def down(signum, frame):
    os._exit(0)
def reap(signum, frame):
    try:
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass
    except ChildProcessError:
        pass
signal.signal(signal.SIGINT, down)
signal.signal(signal.SIGTERM, down)
signal.signal(signal.SIGCHLD, reap)
while True:
    signal.pause()
"""


def _interpreter() -> tuple[str, str]:
    """The real interpreter binary and the prefix it needs (not a venv's symlink)."""
    return os.path.realpath(sys.executable), os.path.realpath(sys.base_prefix)


def prepare_rootfs(rootfs: str) -> list[Mount]:
    """Make `rootfs` the pause's root (idempotent); return the binds it needs."""
    os.makedirs(rootfs, exist_ok=True)
    mounts = [Mount("/proc", "proc", "proc", ["nosuid", "noexec", "nodev"])]
    for name in _HOST_PATHS:
        host, inside = f"/{name}", os.path.join(rootfs, name)
        if os.path.islink(host):
            target = os.readlink(host)
            try:
                os.symlink(target, inside)
            except FileExistsError:  # made already, maybe by a pod starting concurrently
                if not (os.path.islink(inside) and os.readlink(inside) == target):
                    raise
        elif os.path.isdir(host):
            mounts.append(Mount(host, "bind", host, ["rbind", "ro"]))
    _, prefix = _interpreter()
    binds = [m.source for m in mounts if m.type == "bind"]
    if not any(prefix == b or prefix.startswith(b + "/") for b in binds):
        mounts.append(Mount(prefix, "bind", prefix, ["rbind", "ro"]))
    return mounts


def pause_spec(rootfs: str, hostname: str, cgroups_path: str) -> Spec:
    mounts = prepare_rootfs(rootfs)
    return Spec(
        process=Process(
            args=[_interpreter()[0], "-E", "-S", "-c", PAUSE_PROGRAM],
            env=["PATH=/usr/bin:/bin"],
            capabilities=Capabilities(base=[]),
            no_new_privileges=True,
        ),
        root=Root(path=rootfs, readonly=True),
        hostname=hostname,
        mounts=mounts,
        namespaces=[Namespace(t) for t in ("pid", "network", "ipc", "uts", "mount")],
        cgroups_path=cgroups_path,
        masked_paths=[],
        readonly_paths=[],
        default_devices=False,
    )

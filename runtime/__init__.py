"""Containers: namespaces, cgroups, rootfs, process start/stop/wait.

Knows nothing of images or pods: it is handed a spec and a rootfs.

    spec.py       the container spec (typed OCI runtime-spec subset), validation
    defaults.py   Docker's default capabilities, runc's masked/read-only paths, /dev
    container.py  create / start / wait / kill / delete / load (the verbs)
    exec.py       exec: a new process in a running container (exec_init.py: its child side)
    state.py      the per-container state file another process can load
    forker.py     the caller's side of the start path (see init.py for why)
    init.py       the forker process, the intermediate and the container's init
    mounts.py     mount options -> mount(2) plans;  paths.py: resolve inside a root
    linux.py      every raw syscall (ctypes), errors carry syscall, path, errno
    cgroups/      one interface, a v1 and a v2 driver, detected at run time

Nothing here imports minikube_py or oci; importing this package is cheap
(the forker imports runtime.init with `python -S`).
"""

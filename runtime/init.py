"""What runs before the container's exec: the forker, the intermediate, the init.

Why this start path.  The agent that calls us is multi-threaded (API server,
pod workers); os.fork() there copies one thread and whatever locks the others
held (the import lock, logging, malloc arenas), and running Python in such a
child can deadlock.  So the agent never runs Python after a fork: it starts
*this* module once, with subprocess (fork+exec in C, safe), as the
**forker**: a single-threaded `python -E -S` process that only serves
requests.  Per container the forker forks

    forker --fork--> intermediate: setns(joined) + unshare(new namespaces)
                       --fork--> init (PID 1 in a new pid namespace):
                                 cgroup join, mounts, pivot_root, /dev,
                                 masked paths, hostname, rlimits, uid/gid,
                                 capabilities, no_new_privs, fds, cwd, exec

An exec into a running container (runtime.exec) takes the same way, with
runtime.exec_init as its intermediate and process.  A "call" (runtime.forker.call)
does too, for a helper process of the caller's that is no container: the forker
imports the named Python function once, and each call forks a child that runs
it (a log writer: ~1 ms, where a fresh interpreter costs 15-40 ms of CPU).

The intermediate exists because unshare(CLONE_NEWPID) and setns(pid) only
apply to children.  It exits at once; its child is reparented to the nearest
child-subreaper ancestor, which the caller made itself (runtime.forker), so
the agent (later: the shim) is the container's parent and can waitpid() it.
Forking the pre-imported forker costs ~1 ms; exec'ing a fresh interpreter
and importing this costs 40-70 ms here.  bench/runtime measures both against
`runc run` (forker ~15 ms, one-shot interpreter ~85 ms, runc ~22-28 ms for
create+start+wait+delete of /bin/true).

Errors before exec travel to the caller as one JSON line
{"error": {"step", "path", "errno", "detail"}} over a close-on-exec pipe;
a successful exec closes it (EOF).  Nothing here imports runtime.spec or the
cgroup drivers: the caller sends a fully resolved plan (runtime.container).
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import resource
import signal
import socket
import stat
import sys
from collections.abc import Callable, Iterator
from typing import Any

import prctl

from runtime import linux
from runtime.errors import SyscallError
from runtime.paths import secure_join

MAX_REQUEST = 1 << 20


class StepFailed(Exception):
    def __init__(self, step: str, path: str | None, err: int, detail: str = "") -> None:
        super().__init__(step, path, err, detail)
        self.report = {"step": step, "path": path, "errno": err, "detail": detail}


@contextlib.contextmanager
def step(name: str, path: str | None = None) -> Iterator[None]:
    try:
        yield
    except StepFailed:
        raise
    except SyscallError as e:
        detail = "" if e.syscall == name.split()[0] else e.syscall
        raise StepFailed(name, path or e.path, e.errno, detail) from None
    except OSError as e:
        raise StepFailed(name, path or e.filename, e.errno or 0, "") from None
    except (ValueError, KeyError, TypeError) as e:
        raise StepFailed(name, path, 0, str(e)) from None


def _send(fd: int, obj: dict[str, Any]) -> None:
    data = (json.dumps(obj) + "\n").encode()
    while data:
        data = data[os.write(fd, data) :]


# ---- the forker ---------------------------------------------------------


def serve(sock_fd: int) -> None:
    """Serve spawn requests until the caller closes its end (or dies)."""
    # No PR_SET_PDEATHSIG: it fires when the *thread* that started us exits,
    # and the caller's threads come and go.  EOF on the socket means the
    # caller is gone (closed it or died); containers are unaffected either way.
    prctl.set_name("runtime-forker")
    from runtime import exec_init  # here: it imports this module

    starts = {"create": intermediate, "exec": exec_init.intermediate, "call": call_intermediate}
    sock = socket.socket(fileno=sock_fd)
    while True:
        try:
            msg, fds, _, _ = socket.recv_fds(sock, MAX_REQUEST, 8)
        except ConnectionResetError:
            return
        if not msg:
            return
        try:
            config = json.loads(msg)
            reply = _prepare_call(config)
            if reply is None:
                reply = _spawn(starts[config.get("kind", "create")], config, fds)
        except OSError as e:  # fork/pipe failed (EAGAIN under a pids limit...)
            reply = {"pid": 0, "error": {"step": "fork", "path": None, "errno": e.errno or 0}}
        finally:
            for fd in fds:
                os.close(fd)
        sock.send(json.dumps(reply).encode())


def _spawn(start: Callable[..., None], config: dict[str, Any], fds: list[int]) -> dict[str, Any]:
    pid_r, pid_w = os.pipe2(os.O_CLOEXEC)
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.close(pid_r)
            start(config, fds, pid_w)
        except BaseException:  # never return into the forker's loop
            code = 2
        finally:
            os._exit(code)
    os.close(pid_w)
    with os.fdopen(pid_r, "rb") as f:
        data = f.read()
    _, status = os.waitpid(pid, 0)
    return {"pid": int(data) if data.strip() else 0, "intermediate_status": status}


# ---- the intermediate ---------------------------------------------------


def intermediate(config: dict[str, Any], fds: list[int], pid_w: int) -> None:
    stdio, report_w, start_r = fds[:3], fds[3], fds[4]
    # fds received over SCM_RIGHTS are not close-on-exec; these two must be
    os.set_inheritable(report_w, False)
    os.set_inheritable(start_r, False)
    try:
        for ns in config["join"]:
            with step("open namespace", ns["path"]):
                fd = os.open(ns["path"], os.O_RDONLY | os.O_CLOEXEC)
            with step("setns", ns["path"]):
                linux.setns(fd, linux.NAMESPACE_FLAGS[ns["type"]], ns["path"])
            os.close(fd)
        with step("unshare"):
            linux.unshare(config["unshare"])
    except StepFailed as e:
        _send(report_w, {"error": e.report})
        os._exit(1)
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.close(pid_w)
            container_init(config, stdio, report_w, start_r)
        finally:
            os._exit(code)
    os.write(pid_w, str(pid).encode())
    os._exit(0)


# ---- a call --------------------------------------------------------------


def _callable(target: str, path: list[str]) -> Callable[[list[int], list[str]], None]:
    """ "module:function", imported in the forker (once: every later fork shares it)."""
    for entry in reversed(path):
        if entry not in sys.path:
            sys.path.insert(0, entry)
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def _prepare_call(config: dict[str, Any]) -> dict[str, Any] | None:
    """For a call: import its function here, once, not in every child; an error reply if
    that fails (None: go on)."""
    if config.get("kind") != "call":
        return None
    try:
        _callable(config["target"], config.get("path", []))
    except Exception as e:  # ImportError, AttributeError...: the forker goes on serving
        error = {"step": "import", "path": config.get("target"), "errno": 0, "detail": repr(e)}
        return {"pid": 0, "error": error}
    return None


def call_intermediate(config: dict[str, Any], fds: list[int], pid_w: int) -> None:
    """Fork the child that runs config["target"](fds, config["args"]) in a session of its
    own, cwd /, stdio on /dev/null, holding only `fds`; report its pid and exit."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.close(pid_w)
            os.setsid()
            os.chdir("/")
            null = os.open(os.devnull, os.O_RDWR)
            for std in (0, 1, 2):
                os.dup2(null, std)
            linux.close_fds_except({0, 1, 2, *fds})
            for fd in fds:
                os.set_inheritable(fd, False)
            _callable(config["target"], [])(fds, config["args"])
            code = 0
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 1
        finally:
            os._exit(code)
    os.write(pid_w, str(pid).encode())
    os._exit(0)


# ---- the container's init -----------------------------------------------


def container_init(config: dict[str, Any], stdio: list[int], report_w: int, start_r: int) -> None:
    """Become the container's process; never returns."""
    try:
        path, args, env = prepare(config, stdio, keep={0, 1, 2, report_w, start_r})
        _send(report_w, {"ready": True})
        if os.read(start_r, 1) != b"x":
            os._exit(0)  # the caller gave up: never exec
        os.close(start_r)
        if config["spec"]["process"].get("builtin") == "pause":
            pause(report_w)
        exec_now(path, args, env)
    except StepFailed as e:
        _send(report_w, {"error": e.report})
    except BaseException as e:
        _send(report_w, {"error": {"step": "init", "path": None, "errno": 0, "detail": repr(e)}})
    os._exit(127)


def pause(report_w: int) -> None:
    """The builtin "pause": hold the namespaces, reap, exit 0 on SIGINT/SIGTERM; never
    returns.  What Kubernetes' pause does, by the init itself: no interpreter or binary to
    start (a fork of the forker, its pages shared), nothing of the root to read."""

    def down(signum: int, frame: Any) -> None:
        os._exit(0)

    def reap(signum: int, frame: Any) -> None:
        with contextlib.suppress(ChildProcessError):
            while os.waitpid(-1, os.WNOHANG)[0] > 0:
                pass

    prctl.set_name("pause")
    signal.signal(signal.SIGINT, down)
    signal.signal(signal.SIGTERM, down)
    signal.signal(signal.SIGCHLD, reap)
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    os.close(report_w)  # EOF: started, as a successful exec says it
    while True:
        signal.pause()


def exec_now(path: str, args: list[str], env: list[str]) -> None:
    """The last step of a container's init or an exec'd process: default signal
    dispositions and an empty mask (ignored signals survive exec), then execve."""
    for sig in (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGINT):
        signal.signal(sig, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    with step("exec", args[0]):
        os.execve(path, args, dict(e.split("=", 1) for e in env))


def prepare(
    config: dict[str, Any], stdio: list[int], keep: set[int]
) -> tuple[str, list[str], list[str]]:
    """Everything up to exec; returns (resolved executable, argv, envp)."""
    spec = config["spec"]
    proc = spec["process"]
    with step("setsid"):
        os.setsid()
    dup_stdio(stdio)
    for procs in config["cgroup_procs"]:
        with step("join cgroup", procs), open(procs, "w") as f:
            f.write("0")
    if config["new_cgroupns"]:
        with step("unshare cgroup namespace"):
            linux.unshare(linux.CLONE_NEWCGROUP)
    rootfs = spec["root"]["path"]
    with step("make mounts private", "/"):
        linux.mount(None, "/", None, linux.MS_REC | linux.MS_PRIVATE)
    _mount_root(config, rootfs)
    for m in config["mounts"]:
        _mount(rootfs, m)
    if spec["default_devices"]:
        _make_devices(rootfs, config)
    _pivot_root(rootfs)
    _mask_paths(spec)
    if spec["root"]["readonly"]:
        with step("remount root read-only", "/"):
            linux.mount(None, "/", None, linux.MS_BIND | linux.MS_REMOUNT | linux.MS_RDONLY)
    if spec["hostname"] is not None:
        with step("sethostname", spec["hostname"]):
            linux.sethostname(spec["hostname"])
    for rl in proc["rlimits"]:
        with step("setrlimit", rl["type"]):
            resource.setrlimit(getattr(resource, rl["type"]), (rl["soft"], rl["hard"]))
    if proc["oom_score_adj"] is not None:
        adj = "/proc/self/oom_score_adj"
        with step("write oom_score_adj", adj), open(adj, "w") as f:
            f.write(str(proc["oom_score_adj"]))
    # before chdir: no fd of ours may serve as a way out (CVE-2024-21626)
    with step("close fds"):
        linux.close_fds_except(keep)
    _set_user_and_caps(proc, config["capabilities"])
    with step("chdir", proc["cwd"]):
        os.chdir(proc["cwd"])
    _check_cwd_inside_root(proc["cwd"])
    path = "" if proc.get("builtin") else _find_executable(proc["args"][0], proc["env"])
    if proc["no_new_privileges"]:
        with step("set no_new_privs"):
            prctl.set_no_new_privs(1)
    return path, proc["args"], proc["env"]


def dup_stdio(stdio: list[int]) -> None:
    with step("dup stdio"):
        high = [os.dup(fd) for fd in stdio]  # the passed fds may sit on 0-2
        for i, fd in enumerate(high):
            os.dup2(fd, i, inheritable=True)
            os.close(fd)


def _check_cwd_inside_root(cwd: str) -> None:
    """Refuse a cwd outside the root (reached through an fd, e.g. /proc/self/fd/N).

    The kernel reports such a cwd as "(unreachable)/..." (glibc: ENOENT):
    exec'ing there would hand the host's filesystem to the container.
    """
    try:
        real = os.getcwd()
    except OSError:
        real = ""
    if not real.startswith("/"):
        raise StepFailed("chdir", cwd, 0, "working directory is outside the container root")


def _mount_root(config: dict[str, Any], rootfs: str) -> None:
    overlay = config["overlay"]
    if overlay is not None:
        with step("mount overlay", rootfs):
            linux.mount("overlay", rootfs, "overlay", 0, overlay)
    else:
        with step("bind mount rootfs", rootfs):
            linux.mount(rootfs, rootfs, None, linux.MS_BIND | linux.MS_REC)


def _mount(rootfs: str, m: dict[str, Any]) -> None:
    with step("resolve mount destination", m["destination"]):
        dest = secure_join(rootfs, m["destination"])
    with step("create mount point", m["destination"]):
        if m["source_is_file"]:
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            if not os.path.exists(dest):
                os.close(os.open(dest, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o644))
        else:
            os.makedirs(dest, exist_ok=True)
    what = f"mount {m['type']}"
    with step(what, m["destination"]):
        if m["type"] == "cgroup":
            _mount_cgroup(dest, m)
        elif m["type"] == "bind":
            linux.mount(m["source"], dest, None, m["flags"] & (linux.MS_BIND | linux.MS_REC))
            if m["remount_flags"]:
                linux.mount(None, dest, None, linux.MS_BIND | linux.MS_REMOUNT | m["remount_flags"])
        else:
            linux.mount(m["source"], dest, m["type"], m["flags"], m["data"])
        if m["propagation"]:
            linux.mount(None, dest, None, m["propagation"])


def _mount_cgroup(dest: str, m: dict[str, Any]) -> None:
    sources = m["cgroup_sources"]
    bind_flags = linux.MS_BIND | linux.MS_REMOUNT | (m["flags"] & ~linux.MS_BIND)
    if "" in sources:  # v2: the container's cgroup is the mount
        linux.mount(sources[""], dest, None, linux.MS_BIND)
        linux.mount(None, dest, None, bind_flags)
        return
    linux.mount(
        "tmpfs", dest, "tmpfs", linux.MS_NOSUID | linux.MS_NODEV | linux.MS_NOEXEC, "mode=755"
    )
    for name, src in sources.items():
        sub = os.path.join(dest, name)
        os.makedirs(sub, exist_ok=True)
        linux.mount(src, sub, None, linux.MS_BIND)
        linux.mount(None, sub, None, bind_flags)
    if m["flags"] & linux.MS_RDONLY:
        linux.mount(None, dest, None, linux.MS_REMOUNT | m["flags"] & ~linux.MS_BIND)


def _make_devices(rootfs: str, config: dict[str, Any]) -> None:
    dev = os.path.join(rootfs, "dev")
    for name, major, minor, mode in config["devices"]:
        path = os.path.join(dev, name)
        with step("mknod", f"/dev/{name}"):
            if os.path.lexists(path):
                os.unlink(path)
            linux.mknod(path, stat.S_IFCHR | mode, major, minor)
            os.chmod(path, mode)  # mknod applies the umask
    for target, name in config["dev_symlinks"]:
        path = os.path.join(dev, name)
        with step("symlink", f"/dev/{name}"):
            if not os.path.lexists(path):
                os.symlink(target, path)


def _pivot_root(rootfs: str) -> None:
    # pivot_root(".", ".") stacks the old root on top of the new one; the
    # detach then drops it without needing a directory for it (no chroot,
    # which a process can escape).
    with step("pivot_root", rootfs):
        os.chdir(rootfs)
        linux.pivot_root(".", ".")
        linux.mount(None, ".", None, linux.MS_SLAVE | linux.MS_REC)
        linux.umount2(".", linux.MNT_DETACH)
        os.chdir("/")


def _mask_paths(spec: dict[str, Any]) -> None:
    for p in spec["masked_paths"]:
        if not os.path.lexists(p):
            continue
        with step("mask path", p):
            if os.path.isdir(p) and not os.path.islink(p):
                linux.mount("tmpfs", p, "tmpfs", linux.MS_RDONLY, "size=0")
            else:
                linux.mount("/dev/null", p, None, linux.MS_BIND)
    ro = linux.MS_BIND | linux.MS_REMOUNT | linux.MS_RDONLY | linux.MS_REC
    for p in spec["readonly_paths"]:
        if not os.path.lexists(p):
            continue
        with step("make path read-only", p):
            linux.mount(p, p, None, linux.MS_BIND | linux.MS_REC)
            flags = ro | (linux.MS_NOSUID | linux.MS_NODEV | linux.MS_NOEXEC)
            linux.mount(None, p, None, flags if p.startswith("/proc") else ro)


def _set_user_and_caps(proc: dict[str, Any], keep: list[str]) -> None:
    # a cap the caller lacks (e.g. CAP_SYS_RESOURCE in some sandboxes) cannot
    # be granted: "privileged" means everything the caller has
    keep_names = [n for n in (c[4:].lower() for c in keep) if getattr(prctl.cap_permitted, n)]
    drop = [c for c in prctl.ALL_CAP_NAMES if c not in keep_names]
    with step("drop bounding capabilities"):
        prctl.capbset.drop(*drop)
    with step("setgroups"):
        os.setgroups(proc["additional_gids"])
    with step("setresgid", str(proc["gid"])):
        os.setresgid(proc["gid"], proc["gid"], proc["gid"])
    with step("setresuid", str(proc["uid"])):
        os.setresuid(proc["uid"], proc["uid"], proc["uid"])
    # uid 0 keeps its sets through setresuid: cut them to `keep`.  Any other
    # uid has just lost them all, and exec grants it none (no ambient caps).
    if proc["uid"] == 0:
        with step("capset"):
            eff_perm = [prctl.CAP_EFFECTIVE, prctl.CAP_PERMITTED]
            prctl.set_caps(
                (keep_names, eff_perm, True),
                (drop, eff_perm, False),
                (prctl.ALL_CAP_NAMES, prctl.CAP_INHERITABLE, False),
            )


def _find_executable(arg0: str, env: list[str]) -> str:
    """The path exec will use: arg0, or arg0 looked up in the container's PATH."""
    if "/" in arg0:
        candidates = [arg0]
    else:
        path_var = next((e[5:] for e in env if e.startswith("PATH=")), "/usr/bin:/bin")
        candidates = [os.path.join(d or ".", arg0) for d in path_var.split(":")]
    for c in candidates:
        try:
            st = os.stat(c)
        except FileNotFoundError:
            continue
        except OSError as e:
            raise StepFailed("exec", arg0, e.errno or 0) from None
        if stat.S_ISDIR(st.st_mode):
            raise StepFailed("exec", arg0, 21)  # EISDIR
        if not os.access(c, os.X_OK):
            raise StepFailed("exec", arg0, 13)  # EACCES
        return c
    if "/" in arg0:
        raise StepFailed("exec", arg0, 2)  # ENOENT
    raise StepFailed("exec", arg0, 2, "not found in $PATH")


def main() -> None:
    serve(int(sys.argv[1]))


if __name__ == "__main__":
    main()

"""The forker side of exec: a new process joining a running container.

    forker --fork--> intermediate: cgroup join, open every namespace of the
                       container's init, check it is still that process,
                       setns into each (mount last)
                       --fork--> the process (in the container's pid
                                 namespace: setns(pid) applies to children):
                                 setsid, pty or stdio, rlimits, fds, uid/gid,
                                 capabilities, cwd, no_new_privs, exec

As for a create (runtime.init), the intermediate exits at once and the
process is re-parented to the caller, a child subreaper, which alone learns
its exit status.  The mounts, masked paths and hostname come with the
namespaces; what belongs to a process (user, capabilities, rlimits, env) is
replayed from the container's state, resolved by the caller (runtime.exec).

With a tty the pty is opened *inside* the container (its /dev/ptmx, its
devpts instance) and the master travels back over a socket, as runc's
console socket does: a host pty would show inside as an unknown device
(`tty` would say "not a tty").
"""

from __future__ import annotations

import errno
import fcntl
import os
import resource
import socket
import stat
import struct
import termios
from typing import Any

import prctl

from runtime import linux
from runtime.init import (
    StepFailed,
    _check_cwd_inside_root,
    _find_executable,
    _send,
    _set_user_and_caps,
    dup_stdio,
    exec_now,
    step,
)

# asm-generic/ioctls.h (x86_64 and arm64 alike); Python's termios lacks them
TIOCSPTLCK = 0x40045431  # (un)lock the slave: unlockpt()
TIOCGPTPEER = 0x5441  # open the slave of a master without a path lookup (4.13+)

# mount last: after it, /proc/<pid> and the host's paths are out of reach
_JOIN_ORDER = ("cgroup", "ipc", "uts", "network", "pid", "mount")


def intermediate(config: dict[str, Any], fds: list[int], pid_w: int) -> None:
    stdio, report_w = fds[:3], fds[3]
    console = fds[4] if config["tty"] else None
    for fd in (report_w, console):
        if fd is not None:
            os.set_inheritable(fd, False)
    try:
        # Until exec this process holds host fds and every capability while
        # visible inside the container's pid namespace: not ptrace-able, and
        # its /proc files owned by root (exec makes it dumpable again).
        prctl.set_dumpable(0)
        for procs in config["cgroup_procs"]:
            with step("join cgroup", procs), open(procs, "w") as f:
                f.write("0")
        opened = []
        for ns in sorted(config["join"], key=lambda n: _JOIN_ORDER.index(n["type"])):
            with step("open namespace", ns["path"]):
                opened.append((ns, os.open(ns["path"], os.O_RDONLY | os.O_CLOEXEC)))
        pid = config["pid"]
        # checked after opening: the fds now pin that very process's namespaces
        if linux.proc_start_time(pid) != config["pid_start_time"]:
            raise StepFailed("find container process", f"/proc/{pid}", errno.ESRCH)
        for ns, fd in opened:
            with step("setns", ns["path"]):
                linux.setns(fd, linux.NAMESPACE_FLAGS[ns["type"]], ns["path"])
            os.close(fd)
    except StepFailed as e:
        _send(report_w, {"error": e.report})
        os._exit(1)
    pid = os.fork()
    if pid == 0:
        try:
            os.close(pid_w)
            exec_process(config, stdio, report_w, console)
        finally:
            os._exit(127)
    os.write(pid_w, str(pid).encode())
    os._exit(0)


def exec_process(
    config: dict[str, Any], stdio: list[int], report_w: int, console: int | None
) -> None:
    """Become the exec'd process; never returns."""
    proc = config["process"]
    try:
        with step("setsid"):
            os.setsid()
        if console is not None:
            _open_tty(console, proc["uid"], config["tty_size"])
        else:
            dup_stdio(stdio)
        for rl in proc["rlimits"]:
            with step("setrlimit", rl["type"]):
                resource.setrlimit(getattr(resource, rl["type"]), (rl["soft"], rl["hard"]))
        if proc["oom_score_adj"] is not None:
            adj = "/proc/self/oom_score_adj"
            with step("write oom_score_adj", adj), open(adj, "w") as f:
                f.write(str(proc["oom_score_adj"]))
        with step("close fds"):
            linux.close_fds_except({0, 1, 2, report_w})
        _set_user_and_caps(proc, proc["capabilities"])
        with step("chdir", proc["cwd"]):
            os.chdir(proc["cwd"])
        _check_cwd_inside_root(proc["cwd"])
        args, env = proc["args"], proc["env"]
        path = _find_executable(args[0], env)
        if proc["no_new_privileges"]:
            with step("set no_new_privs"):
                prctl.set_no_new_privs(1)
        exec_now(path, args, env)
    except StepFailed as e:
        _send(report_w, {"error": e.report})
    except BaseException as e:
        _send(report_w, {"error": {"step": "exec", "path": None, "errno": 0, "detail": repr(e)}})
    os._exit(127)


def _open_tty(console: int, uid: int, size: list[int] | None) -> None:
    """A pty of the container's devpts: slave as controlling tty and stdio, master sent back."""
    with step("open pty", "/dev/ptmx"):
        master = os.open("/dev/ptmx", os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
        # the container owns its /dev: only the pty multiplexer (5:2) will do
        st = os.fstat(master)
        if not stat.S_ISCHR(st.st_mode) or (os.major(st.st_rdev), os.minor(st.st_rdev)) != (5, 2):
            raise StepFailed("open pty", "/dev/ptmx", errno.ENOTTY, "not the pty multiplexer")
        fcntl.ioctl(master, TIOCSPTLCK, struct.pack("i", 0))  # unlockpt
        slave = fcntl.ioctl(master, TIOCGPTPEER, os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
        os.fchown(slave, uid, -1)  # the user's own terminal, as login does
        if size:
            rows, cols = size
            fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    with step("send pty master"):
        socket.send_fds(socket.socket(fileno=console), [b"pty"], [master])
    os.close(master)
    with step("set controlling terminal"):
        fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
    dup_stdio([slave, slave, slave])
    os.close(slave)

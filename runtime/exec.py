"""exec: run a new process inside a running container, as `runc exec` does.

    p = exec_process(container_or_state_dir, ["sh", "-c", "hostname"], stdout=fd)
    code = p.wait()            # exit code, or 128+signal

    p = exec_process(c, ["sh"], tty=True, tty_size=(24, 80))
    p.pty                      # the master: ours to read, write, resize, close

The process joins every namespace the container's init has (found by
comparing /proc/<init>/ns/* with ours, so the pod-shared ones count too),
every cgroup it sits in, and takes its process description from the state
file: user, groups, capabilities (the init's resolved set), no_new_privs,
rlimits, oom_score_adj, env and cwd.  The caller may override env (entries
merged by name, as `runc exec --env`), cwd, uid, gid and the extra groups.
It is forked by the same forker as a container's init (fork-safe in a
multi-threaded caller; see runtime.init) and becomes the caller's child
(the caller is a child subreaper), so wait() gets its status.  If the caller
dies first, the process lives on (as with runc exec), re-parented to the
nearest subreaper above the caller, or init: a subreaper must reap such
orphans, because the kernel reaps a pid namespace's init only after every
other process of the namespace.

A failure before exec raises ExecError, one line naming the step:
``exec "/bin/nope": no such file or directory``.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import socket
from typing import Any

from runtime import cgroups, forker, linux
from runtime.container import Container, _read_line
from runtime.errors import ContainerStateError, ExecError, RuntimeErr, SyscallError
from runtime.state import STOPPED


class ExecProcess:
    """A process exec'd into a container; this process is its parent."""

    def __init__(self, container_id: str, pid: int, pty: int | None) -> None:
        self.container_id = container_id
        self.pid = pid
        self.pty = pty  # the pty master (tty=True); closed by close()
        self._pidfd: int | None = linux.pidfd_open(pid)
        self._code: int | None = None

    def fileno(self) -> int:
        """The pidfd: readable once the process has exited (for select/poll)."""
        if self._pidfd is None:
            raise ValueError("exec process closed")
        return self._pidfd

    def wait(self, timeout: float | None = None) -> int | None:
        """Exit code, or 128+signal when killed; None on timeout."""
        if self._code is not None:
            return self._code
        if timeout is not None and self._pidfd is not None:
            p = select.poll()
            p.register(self._pidfd, select.POLLIN)
            if not p.poll(int(timeout * 1000)):
                return None
        _, raw = os.waitpid(self.pid, 0)
        code = os.waitstatus_to_exitcode(raw)
        self._code = 128 - code if code < 0 else code
        return self._code

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self._code is None and self._pidfd is not None:
            with contextlib.suppress(SyscallError):  # exited meanwhile
                linux.pidfd_send_signal(self._pidfd, sig)

    def close(self) -> None:
        """Release the pidfd and pty master (does not kill or reap)."""
        for fd in (self._pidfd, self.pty):
            if fd is not None:
                os.close(fd)
        self._pidfd = self.pty = None

    def __enter__(self) -> ExecProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._code is None:
            self.kill()
            self.wait()
        self.close()


def exec_process(
    container: Container | str,
    args: list[str],
    *,
    env: list[str] | None = None,
    cwd: str | None = None,
    uid: int | None = None,
    gid: int | None = None,
    additional_gids: list[int] | None = None,
    tty: bool = False,
    tty_size: tuple[int, int] | None = None,
    stdin: int | None = None,
    stdout: int | None = None,
    stderr: int | None = None,
    use_forker: forker.Forker | None = None,
) -> ExecProcess:
    """Start `args` inside `container` (a Container or its state dir).

    stdin/stdout/stderr are fds given to the process as 0, 1 and 2 (None:
    /dev/null); with tty=True they are ignored and the process gets a pty
    (rows, cols = tty_size) as its controlling terminal and stdio.
    """
    c = container if isinstance(container, Container) else Container.load(container)
    config = exec_config(
        c,
        args,
        env=env,
        cwd=cwd,
        uid=uid,
        gid=gid,
        additional_gids=additional_gids,
        tty=tty,
        tty_size=tty_size,
    )
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET) if tty else (None, None)
    devnull = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
    report_r, report_w = os.pipe2(os.O_CLOEXEC)
    pid = 0
    try:
        stdio = [devnull if fd is None or tty else fd for fd in (stdin, stdout, stderr)]
        fds = [*stdio, report_w, *([theirs.fileno()] if theirs else [])]
        reply = (use_forker or forker.default_forker()).spawn(config, fds)
        os.close(report_w)
        report_w = -1
        if theirs is not None:
            theirs.close()
        pid = reply.get("pid", 0)
        msg = _read_line(report_r)  # EOF: exec'd (the pipe is close-on-exec)
        if msg is not None or not pid:
            raise _exec_error(c.id, msg, reply)
        pty = _receive_pty(c.id, ours) if ours is not None else None
        return ExecProcess(c.id, pid, pty)
    except BaseException:
        if pid:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(OSError):
                os.waitpid(pid, 0)
        raise
    finally:
        for fd in (devnull, report_r, report_w):
            if fd >= 0:
                os.close(fd)
        for s in (ours, theirs):
            if s is not None:
                s.close()


def exec_config(
    c: Container,
    args: list[str],
    *,
    env: list[str] | None = None,
    cwd: str | None = None,
    uid: int | None = None,
    gid: int | None = None,
    additional_gids: list[int] | None = None,
    tty: bool = False,
    tty_size: tuple[int, int] | None = None,
) -> dict[str, Any]:
    """The fully resolved plan runtime.exec_init replays."""
    if not args or not args[0]:
        raise ExecError(c.id, "exec", None, 0, "no command given")
    if c.status() == STOPPED:
        raise ContainerStateError(
            f"container {c.id}: not running: cannot exec in a stopped container"
        )
    if not c.state.process:
        raise RuntimeErr(
            f"container {c.id}: its state ({c.state_dir}) has no process description "
            "(created by an older runtime): cannot exec into it"
        )
    proc = dict(c.state.process)
    proc["args"] = list(args)
    if env:
        proc["env"] = merge_env(proc["env"], env)
    if cwd is not None:
        if not cwd.startswith("/"):
            raise ExecError(c.id, "chdir", cwd, 0, "working directory must be absolute")
        proc["cwd"] = cwd
    for name, value in (("uid", uid), ("gid", gid), ("additional_gids", additional_gids)):
        if value is not None:
            proc[name] = value
    pid = c.pid
    join = namespaces_to_join(pid)
    cgroup_procs = cgroups.procs_files_joining(
        _read(f"/proc/{pid}/cgroup"), _read("/proc/self/cgroup"), _read("/proc/self/mountinfo")
    )
    # after reading /proc/<pid>/*: what was read belongs to the container's init
    if linux.proc_start_time(pid) != c.state.pid_start_time:
        raise ContainerStateError(f"container {c.id}: not running (its init has exited)")
    return {
        "kind": "exec",
        "id": c.id,
        "pid": pid,
        "pid_start_time": c.state.pid_start_time,
        "join": join,
        "cgroup_procs": cgroup_procs,
        "process": proc,
        "tty": tty,
        "tty_size": list(tty_size) if tty and tty_size else None,
    }


def merge_env(base: list[str], overrides: list[str]) -> list[str]:
    """`base` with each NAME=value of `overrides` replacing or appended (order kept)."""
    merged = {e.split("=", 1)[0]: e for e in base}
    for e in overrides:
        if "=" not in e:
            raise RuntimeErr(f"exec: env {e!r} is not NAME=value")
        merged[e.split("=", 1)[0]] = e
    return list(merged.values())


def namespaces_to_join(pid: int) -> list[dict[str, str]]:
    """Each namespace of `pid` that differs from ours, as {"type", "path"}."""
    join = []
    for type_, name in linux.NAMESPACE_PROC_NAMES.items():
        path = f"/proc/{pid}/ns/{name}"
        try:
            theirs = os.stat(path)
        except FileNotFoundError:
            if type_ == "cgroup":  # a kernel without cgroup namespaces
                continue
            raise ContainerStateError(f"container process {pid}: gone ({path})") from None
        ours = os.stat(f"/proc/self/ns/{name}")
        if (theirs.st_dev, theirs.st_ino) != (ours.st_dev, ours.st_ino):
            join.append({"type": type_, "path": path})
    return join


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        raise ContainerStateError(f"{path}: no such file (the process has exited)") from None


def _receive_pty(container_id: str, sock: socket.socket) -> int:
    sock.setblocking(False)  # sent before exec, so already queued
    try:
        _, fds, _, _ = socket.recv_fds(sock, 16, 1)
    except BlockingIOError:
        fds = []
    if not fds:
        raise ExecError(container_id, "receive pty master", None, 0, "the process sent none")
    return fds[0]


def _exec_error(container_id: str, msg: dict[str, Any] | None, reply: dict[str, Any]) -> ExecError:
    e = (msg or {}).get("error") or reply.get("error")
    if not e:
        return ExecError(container_id, "exec setup", None, 0, "exited before reporting")
    return ExecError(
        container_id, e.get("step", "exec"), e.get("path"), e.get("errno", 0), e.get("detail", "")
    )

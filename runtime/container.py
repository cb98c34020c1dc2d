"""A container's life: create, start, wait, kill, delete, state.

    c = Container.create("web", spec, state_dir, stdout=fd)   # init waits before exec
    c.start()                                                  # exec the process
    status = c.wait()                                          # parent only
    c.delete()

Another process (a restarted agent, a CLI) uses Container.load(state_dir):
status(), kill(), wait_exit() (pidfd: learns *that* it exited) and delete()
work there; the exit *code* is only known to the parent, which records it in
the state file when it waits.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import threading
import time
from dataclasses import dataclass
from typing import Any

import prctl

from runtime import cgroups, defaults, forker, linux, state
from runtime.errors import (
    ContainerStateError,
    NotParentError,
    RuntimeErr,
    SpecError,
    StartError,
    SyscallError,
)
from runtime.mounts import overlay_data, plan_mount
from runtime.spec import Mount, Spec
from runtime.state import CREATED, RUNNING, STOPPED, State


@dataclass
class ExitStatus:
    code: int | None  # exit code, None when killed by a signal
    signal: int | None
    oom_killed: bool

    @property
    def reason(self) -> str:
        if self.oom_killed:
            return "OOMKilled"
        return "Completed" if self.code == 0 else "Error"


def _read_line(fd: int) -> dict[str, Any] | None:
    """One JSON line from the init's report pipe; None at EOF (= exec done)."""
    import json

    buf = b""
    while not buf.endswith(b"\n"):
        chunk = os.read(fd, 4096)
        if not chunk:
            return None if not buf else {"error": {"step": "report", "detail": "truncated"}}
        buf += chunk
    return json.loads(buf)


def build_config(container_id: str, spec: Spec, cgroup: cgroups.Cgroup) -> dict[str, Any]:
    """The fully resolved plan runtime.init replays (it parses nothing)."""
    join = [{"type": n.type, "path": n.path} for n in spec.namespaces if n.path]
    flags = 0
    for n in spec.namespaces:
        if n.path is None and n.type != "cgroup":
            flags |= linux.NAMESPACE_FLAGS[n.type]
    cgroupns = spec.namespace("cgroup")
    has_dev = any(m.destination.rstrip("/") == "/dev" for m in spec.mounts)
    return {
        "id": container_id,
        "spec": spec.to_dict(),
        "join": join,
        "unshare": flags,
        "new_cgroupns": cgroupns is not None and cgroupns.path is None,
        "cgroup_procs": cgroup.procs_files(),
        "overlay": overlay_data(spec.root) if spec.root.is_overlay else None,
        "mounts": [_plan(m, i, cgroup) for i, m in enumerate(spec.mounts)],
        # only into a /dev of our own (a tmpfs), never into the rootfs itself
        "devices": [list(d) for d in defaults.DEFAULT_DEVICES] if has_dev else [],
        "dev_symlinks": [list(s) for s in defaults.DEFAULT_DEV_SYMLINKS] if has_dev else [],
        "capabilities": spec.process.capabilities.resolve(
            ["CAP_" + c.upper() for c in prctl.ALL_CAP_NAMES]
        ),
    }


class Container:
    def __init__(self, state_dir: str, st: State) -> None:
        self.state_dir = state_dir
        self.state = st
        self.cgroup = cgroups.load_cgroup(st.cgroup)
        self._report_r: int | None = None
        self._start_w: int | None = None
        self._pidfd: int | None = None
        self._exit: ExitStatus | None = None
        self._reap_lock = threading.Lock()  # one waitpid per container, any thread

    @property
    def id(self) -> str:
        return self.state.id

    @property
    def pid(self) -> int:
        return self.state.pid

    # ---- create / start ---------------------------------------------------

    @classmethod
    def create(
        cls,
        container_id: str,
        spec: Spec,
        state_dir: str,
        *,
        stdin: int | None = None,
        stdout: int | None = None,
        stderr: int | None = None,
        use_forker: forker.Forker | None = None,
    ) -> Container:
        """Set the container up to just before exec; it waits for start().

        stdin/stdout/stderr are fds (files, pipes, a pty) that become the
        process's 0, 1 and 2; None means /dev/null.  On any failure nothing
        is left behind (process, cgroup, state) and the error names the step.
        """
        if not container_id or "/" in container_id or container_id.startswith("."):
            raise SpecError("id", f"{container_id!r} is not a valid container id")
        spec.validate()
        if os.path.exists(state.state_path(state_dir)):
            raise ContainerStateError(f"container {container_id}: state exists in {state_dir}")
        cg = cgroups.open_cgroup(
            spec.cgroups_path or f"{defaults.DEFAULT_CGROUP_PARENT}/{container_id}"
        )
        config = build_config(container_id, spec, cg)
        pid = 0
        pidfd = None
        fds: list[int] = []
        try:
            cg.create()
            cg.apply(spec.resources)
            devnull = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
            fds.append(devnull)
            report_r, report_w = os.pipe2(os.O_CLOEXEC)
            start_r, start_w = os.pipe2(os.O_CLOEXEC)
            fds += [report_r, report_w, start_r, start_w]
            stdio = [devnull if fd is None else fd for fd in (stdin, stdout, stderr)]
            reply = (use_forker or forker.default_forker()).spawn(
                config, [*stdio, report_w, start_r]
            )
            for fd in (devnull, report_w, start_r):
                os.close(fd)
                fds.remove(fd)
            pid = reply["pid"]
            if reply.get("error"):
                raise _start_error(container_id, reply)
            start_time = linux.proc_start_time(pid) if pid else None
            pidfd = linux.pidfd_open(pid) if start_time is not None else None
            msg = _read_line(report_r)
            if msg is None or "error" in msg or not pid:
                raise _start_error(container_id, msg)
        except BaseException:
            if pid:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)
            with contextlib.suppress(RuntimeErr):
                cg.kill_all()
            with contextlib.suppress(RuntimeErr):  # the first error is the one to report
                cg.destroy()
            for fd in [*fds, *([pidfd] if pidfd is not None else [])]:
                os.close(fd)
            raise
        assert start_time is not None
        st = State(
            id=container_id,
            pid=pid,
            pid_start_time=start_time,
            status=CREATED,
            cgroup=cg.to_state(),
            rootfs=spec.root.path,
            namespaces=_namespace_paths(pid, spec),
            process=_exec_defaults(config),
            created=time.time(),
        )
        state.save(state_dir, st)
        c = cls(state_dir, st)
        c._report_r, c._start_w, c._pidfd = report_r, start_w, pidfd
        return c

    def start(self) -> None:
        """Let the init exec; raises StartError (and cleans up) if exec fails."""
        if self._start_w is None or self._report_r is None:
            raise ContainerStateError(
                f"container {self.id}: start only from the process that created it, once"
            )
        with contextlib.suppress(BrokenPipeError):  # died: the report pipe says why
            os.write(self._start_w, b"x")
        os.close(self._start_w)
        self._start_w = None
        msg = _read_line(self._report_r)
        os.close(self._report_r)
        self._report_r = None
        if msg is not None:
            err = _start_error(self.id, msg)
            self.delete()
            raise err
        self.state.status = RUNNING
        self.state.started = time.time()
        state.save(self.state_dir, self.state)

    @classmethod
    def run(cls, container_id: str, spec: Spec, state_dir: str, **kw: Any) -> Container:
        c = cls.create(container_id, spec, state_dir, **kw)
        c.start()
        return c

    # ---- for any process --------------------------------------------------

    @classmethod
    def load(cls, state_dir: str) -> Container:
        return cls(state_dir, state.load(state_dir))

    def alive(self) -> bool:
        """True while the init process runs (a zombie counts as exited)."""
        st = linux.proc_start_time(self.pid)
        return st == self.state.pid_start_time and linux.proc_state(self.pid) not in (
            None,
            "Z",
            "X",
        )

    def status(self) -> str:
        if self.state.status == STOPPED or not self.alive():
            return STOPPED
        return self.state.status

    def kill(self, sig: int = signal.SIGTERM, *, all_processes: bool = False) -> None:
        """Signal the init (or every process in the cgroup)."""
        if all_processes:
            for pid in self.cgroup.pids():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)
            return
        fd = self._pidfd_for_signal()
        if fd is None:
            raise ContainerStateError(f"container {self.id}: not running")
        try:
            linux.pidfd_send_signal(fd, sig)
        except SyscallError as e:
            raise ContainerStateError(f"container {self.id}: signal {sig}: {e}") from None
        finally:
            if fd != self._pidfd:
                os.close(fd)

    def _pidfd_for_signal(self) -> int | None:
        if self._pidfd is not None:
            return self._pidfd
        try:
            fd = linux.pidfd_open(self.pid)
        except SyscallError:
            return None
        # checked after opening: the pidfd then pins this very process
        if linux.proc_start_time(self.pid) != self.state.pid_start_time:
            os.close(fd)
            return None
        return fd

    def wait_exit(self, timeout: float | None = None) -> bool:
        """Block until the init has exited (works for a non-parent too).

        Returns False on timeout.  Only the parent learns the exit code
        (wait()); others read it from the state file once the parent saved it.
        """
        fd = self._pidfd_for_signal()
        if fd is None:
            return True
        try:
            p = select.poll()
            p.register(fd, select.POLLIN)
            return bool(p.poll(None if timeout is None else int(timeout * 1000)))
        finally:
            if fd != self._pidfd:
                os.close(fd)

    def stats(self) -> cgroups.Stats:
        return self.cgroup.stats()

    # ---- for the parent ---------------------------------------------------

    def is_parent(self) -> bool:
        try:
            with open(f"/proc/{self.pid}/status") as f:
                for line in f:
                    if line.startswith("PPid:"):
                        return int(line.split()[1]) == os.getpid() and self._same_process()
        except FileNotFoundError:
            pass
        return False

    def _same_process(self) -> bool:
        return linux.proc_start_time(self.pid) == self.state.pid_start_time

    def wait(self, timeout: float | None = None) -> ExitStatus | None:
        """Reap the init: exit code or signal, and whether an OOM kill happened.

        Parent only (NotParentError otherwise).  None on timeout.
        """
        if self._exit is not None:
            return self._exit
        if not self.is_parent():
            raise NotParentError(
                f"container {self.id}: pid {self.pid} is not a child of this process "
                "(use wait_exit(); the exit code is known to the parent only)"
            )
        if timeout is not None and not self.wait_exit(timeout):
            return None
        return self._reap()

    def _reap(self) -> ExitStatus:
        with self._reap_lock:
            if self._exit is None:
                _, raw = os.waitpid(self.pid, 0)
                self._record_exit(raw)
        assert self._exit is not None
        return self._exit

    def _record_exit(self, raw: int) -> ExitStatus:
        code = os.WEXITSTATUS(raw) if os.WIFEXITED(raw) else None
        sig = os.WTERMSIG(raw) if os.WIFSIGNALED(raw) else None
        oom = False
        with contextlib.suppress(OSError, RuntimeErr):
            oom = self.cgroup.oom_kills() > 0
        self._exit = ExitStatus(code, sig, oom)
        self.state.status = STOPPED
        self.state.exit_code, self.state.exit_signal = code, sig
        self.state.oom_killed = oom
        self.state.finished = time.time()
        if os.path.exists(state.state_path(self.state_dir)):
            state.save(self.state_dir, self.state)
        return self._exit

    # ---- delete -----------------------------------------------------------

    def delete(self, *, force: bool = True) -> None:
        """Kill everything in the cgroup, unmount, remove the cgroup and state.

        Without force a running container is refused.  Idempotent.
        """
        if not force and self.status() != STOPPED:
            raise ContainerStateError(f"container {self.id}: running (delete with force)")
        for fd in (self._start_w, self._report_r):
            if fd is not None:
                os.close(fd)  # a created-but-never-started init exits on EOF
        self._start_w = self._report_r = None
        if self._same_process() and linux.proc_state(self.pid) not in ("Z", None):
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
        self.cgroup.kill_all()
        if self._exit is None and self.is_parent():
            self._reap()
        for m in reversed(self.state.mounts):
            with contextlib.suppress(SyscallError):
                linux.umount2(m, linux.MNT_DETACH)
        self.cgroup.destroy()
        if self._pidfd is not None:
            os.close(self._pidfd)
            self._pidfd = None
        state.remove(self.state_dir)


def _plan(m: Mount, index: int, cgroup: cgroups.Cgroup) -> dict[str, Any]:
    step = plan_mount(m, index)
    if m.type == "cgroup":
        # the container's own cgroup directories, bind-mounted (read-only
        # unless "rw"): limits and usage can be read from inside
        step["cgroup_sources"] = cgroup.mount_sources()
    return step


def _namespace_paths(pid: int, spec: Spec) -> dict[str, str]:
    return {
        n.type: n.path or f"/proc/{pid}/ns/{linux.NAMESPACE_PROC_NAMES[n.type]}"
        for n in spec.namespaces
    }


def _exec_defaults(config: dict[str, Any]) -> dict[str, Any]:
    """What `exec` inherits from the init: its process, capabilities resolved."""
    proc = dict(config["spec"]["process"])
    proc["capabilities"] = config["capabilities"]
    return proc


def _start_error(container_id: str, msg: dict[str, Any] | None) -> StartError:
    if msg is None:
        return StartError(container_id, "init", None, 0, "exited before reporting")
    e = msg.get("error") or {}
    return StartError(
        container_id, e.get("step", "init"), e.get("path"), e.get("errno", 0), e.get("detail", "")
    )

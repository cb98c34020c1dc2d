"""exec into a running container: its namespaces, cgroups, user, capabilities, pty.

A container runs `sleep` on an overlay of the busybox fixture (with a file
only it has, written by its init); each test execs into it with
runtime.exec and checks what the new process sees.  Containers are deleted
and checked for leftovers by the Runner of test_runtime.
"""

from __future__ import annotations

import fcntl
import os
import select
import signal
import struct
import termios
import time
import uuid
from collections.abc import Iterator

import pytest

from runtime.cgroups import open_cgroup
from runtime.container import Container
from runtime.errors import ContainerStateError, ExecError
from runtime.exec import ExecProcess, exec_process
from tests.integration.test_runtime import Runner, _drain, read_until


@pytest.fixture(scope="session")
def exec_cgroup_parent() -> Iterator[str]:
    name = f"minikube-py-exec-test-{os.getpid()}"
    yield name
    open_cgroup(name).destroy()  # fails (EBUSY) if a container cgroup was left in it


@pytest.fixture
def rt(busybox_rootfs, exec_cgroup_parent, tmp_path) -> Iterator[Runner]:
    runner = Runner(busybox_rootfs, exec_cgroup_parent, str(tmp_path / "state"))
    yield runner
    runner.cleanup()


INIT = "echo inside > /only-here; echo READY; exec sleep 1000"


def start_box(rt: Runner, tmp_path, **process) -> Container:
    """A running container (hostname "box"), its init sleeping after writing /only-here."""
    s = rt.spec("/bin/sh", "-c", INIT)
    s.root = rt.overlay(tmp_path / f"root-{uuid.uuid4().hex[:6]}")
    s.process.env.append("FOO=bar")
    s.process.cwd = "/tmp"
    for k, v in process.items():
        setattr(s.process, k, v)
    c, out = rt.start(s)
    read_until(out, "READY")
    os.close(out)
    return c


@pytest.fixture
def box(rt, tmp_path) -> Container:
    return start_box(rt, tmp_path)


def run(c: Container, *args: str, stdin: int | None = None, **kw) -> tuple[int, str]:
    """exec `args`, return (exit code, stdout+stderr)."""
    r, w = os.pipe()
    try:
        p = exec_process(c, list(args), stdin=stdin, stdout=w, stderr=w, **kw)
    finally:
        os.close(w)
    with p:
        out = _drain(r)
        code = p.wait(timeout=20)
    assert code is not None, f"{args} did not exit"
    return code, out


def sh(c: Container, script: str, **kw) -> str:
    code, out = run(c, "/bin/sh", "-c", script, **kw)
    assert code == 0, f"{script!r} exited {code}: {out}"
    return out


def test_exec_sees_the_containers_hostname_processes_and_files(box):
    out = sh(box, "hostname; cat /only-here; ps -o pid,args")
    lines = out.splitlines()
    assert lines[0] == "box"
    assert lines[1] == "inside"
    pids = {line.split()[0]: line for line in lines[3:]}
    assert "sleep 1000" in pids["1"], out  # pid namespace: the init is 1
    assert len(pids) == 2, out  # sleep and sh (exec'd into ps): nothing of the host's


def test_exec_is_in_every_namespace_and_cgroup_of_the_init(box):
    r, w = os.pipe()
    p = exec_process(box, ["/bin/sh", "-c", "echo UP; exec sleep 100"], stdout=w)
    os.close(w)
    with p:
        read_until(r, "UP")
        for ns in ("mnt", "pid", "net", "ipc", "uts", "cgroup"):
            ours = os.stat(f"/proc/{p.pid}/ns/{ns}").st_ino
            assert ours == os.stat(f"/proc/{box.pid}/ns/{ns}").st_ino, ns
        with open(f"/proc/{p.pid}/cgroup") as a, open(f"/proc/{box.pid}/cgroup") as b:
            assert a.read() == b.read()
        assert p.pid in box.cgroup.pids()
    os.close(r)


def test_exec_reads_the_same_cgroup_and_mounts_from_inside(box):
    out = sh(box, "cat /proc/self/cgroup; echo --; cat /proc/1/cgroup")
    own, init = out.split("--\n")
    assert own == init
    out = sh(box, "cat /proc/self/mountinfo; echo --; cat /proc/1/mountinfo")
    own, init = out.split("--\n")
    assert own == init
    assert " /tmp " not in own.replace("/tmp/", "")  # no host mount leaks in


def test_exec_inherits_env_and_cwd_and_may_override_them(box):
    assert sh(box, 'echo "$FOO"; pwd').split() == ["bar", "/tmp"]
    out = sh(box, 'echo "$FOO $NEW"; pwd', env=["FOO=baz", "NEW=1"], cwd="/")
    assert out.split() == ["baz", "1", "/"]


def test_exec_runs_as_the_containers_user_with_its_capabilities(rt, tmp_path):
    c = start_box(rt, tmp_path, uid=1000, gid=1000, additional_gids=[65534])
    out = sh(c, "id -u; id -g; id -G; grep -E '^(CapEff|CapBnd|NoNewPrivs)' /proc/self/status")
    assert out.splitlines()[:3] == ["1000", "1000", "1000 65534"]
    with open(f"/proc/{c.pid}/status") as f:
        init = [ln for ln in f.read().splitlines() if ln.startswith(("CapEff", "CapBnd", "NoNew"))]
    assert out.splitlines()[3:] == init
    assert "CapEff:\t0000000000000000" in out


def test_root_exec_has_the_inits_capability_set_and_no_new_privs(box):
    out = sh(
        box,
        "grep -E '^(Cap|NoNewPrivs)' /proc/self/status; echo --; "
        "grep -E '^(Cap|NoNewPrivs)' /proc/1/status",
    )
    own, init = out.split("--\n")
    assert own == init
    assert "CapEff:\t00000000a80425fb" in own  # Docker's default set
    assert "NoNewPrivs:\t1" in own


def test_no_new_privs_off_in_the_container_is_off_in_exec(rt, tmp_path):
    c = start_box(rt, tmp_path, no_new_privileges=False)
    assert "NoNewPrivs:\t0" in sh(c, "grep NoNewPrivs /proc/self/status")


def test_exit_code_and_signal_pass_through(box):
    assert run(box, "/bin/sh", "-c", "exit 7")[0] == 7
    assert run(box, "/bin/sh", "-c", "kill -9 $$")[0] == 128 + 9
    assert run(box, "true")[0] == 0


def test_stdin_is_the_given_fd_and_dev_null_otherwise(box):
    r, w = os.pipe()
    os.write(w, b"hello from the host\n")
    os.close(w)
    assert run(box, "cat", stdin=r) == (0, "hello from the host\n")
    os.close(r)
    assert run(box, "cat") == (0, "")


def test_only_fds_0_to_2_reach_the_process(box):
    assert sh(box, "ls /proc/self/fd").split() == ["0", "1", "2", "3"]  # 3: ls's own dir


def test_missing_executable_is_one_precise_line(box):
    with pytest.raises(ExecError) as e:
        exec_process(box, ["/bin/nope"])
    assert str(e.value) == 'exec "/bin/nope": no such file or directory'
    with pytest.raises(ExecError) as e:
        exec_process(box, ["nope"])
    assert str(e.value) == 'exec "nope": no such file or directory (not found in $PATH)'
    with pytest.raises(ExecError) as e:
        exec_process(box, ["/tmp"])
    assert str(e.value) == 'exec "/tmp": is a directory'
    assert box.cgroup.pids() == [box.pid]  # nothing left running


def test_exec_into_a_stopped_container_is_refused(rt, box):
    box.kill(signal.SIGKILL)
    box.wait()
    with pytest.raises(ContainerStateError, match=f"container {box.id}: not running"):
        exec_process(box.state_dir, ["true"])


def test_another_process_execs_by_state_dir(box):
    r, w = os.pipe()
    with exec_process(box.state_dir, ["hostname"], stdout=w) as p:
        os.close(w)
        assert p.wait(timeout=10) == 0
    assert _drain(r) == "box\n"


# ---- tty ------------------------------------------------------------------


def read_pty(fd: int, marker: str, timeout: float = 10) -> str:
    buf = ""
    deadline = time.monotonic() + timeout
    while marker not in buf:
        left = deadline - time.monotonic()
        assert left > 0, f"no {marker!r} on the pty: {buf!r}"
        if select.select([fd], [], [], left)[0]:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # EIO: the slave side is closed
                chunk = b""
            assert chunk, f"pty closed before {marker!r}: {buf!r}"
            buf += chunk.decode(errors="replace")
    return buf


def tty_exec(c: Container, script: str, size=(33, 99)) -> ExecProcess:
    return exec_process(c, ["/bin/sh", "-c", script], tty=True, tty_size=size)


def test_tty_is_a_pty_of_the_container_with_the_given_size(box):
    with tty_exec(box, "tty; stty size; echo DONE") as p:
        out = read_pty(p.pty, "DONE")
        assert p.wait(timeout=10) == 0
    lines = out.replace("\r", "").splitlines()
    assert lines[0].startswith("/dev/pts/"), out
    assert lines[1] == "33 99"


def test_resizing_the_master_reaches_the_process(box):
    with tty_exec(box, "trap 'stty size' WINCH; echo READY; while :; do sleep 0.05; done") as p:
        read_pty(p.pty, "READY")
        fcntl.ioctl(p.pty, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 120, 0, 0))
        read_pty(p.pty, "50 120")
        p.kill()
        assert p.wait(timeout=10) == 128 + 9


def test_ctrl_c_typed_on_the_pty_interrupts_the_process(box):
    with exec_process(box, ["sleep", "100"], tty=True) as p:
        time.sleep(0.2)  # the pty's line discipline needs sleep to be the foreground
        os.write(p.pty, b"\x03")
        assert p.wait(timeout=10) == 130


def test_tty_process_is_a_session_leader_with_the_pty_as_controlling_terminal(box):
    with tty_exec(box, "cat /proc/$$/stat; echo; echo DONE") as p:
        out = read_pty(p.pty, "DONE")
        p.wait(timeout=10)
    fields = out[out.rindex(")") + 2 :].split()
    pid, sid, tty_nr = int(out.split()[0]), int(fields[3]), int(fields[4])
    assert sid == pid and tty_nr != 0


def test_tty_refuses_a_dev_ptmx_that_is_not_the_pty_multiplexer(box):
    sh(box, "rm /dev/ptmx && ln -s /dev/null /dev/ptmx")  # the container owns its /dev
    with pytest.raises(ExecError) as e:
        exec_process(box, ["true"], tty=True)
    assert str(e.value) == (
        f'container {box.id}: exec: open pty "/dev/ptmx": '
        "inappropriate ioctl for device (not the pty multiplexer)"
    )
    assert box.cgroup.pids() == [box.pid]


def test_concurrent_execs_from_many_threads_each_get_their_own_exit_code(box):
    from concurrent.futures import ThreadPoolExecutor

    def one(n: int) -> int:
        return run(box, "/bin/sh", "-c", f"sleep 0.0{n}; exit {n}")[0]

    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(one, range(1, 17))) == list(range(1, 17))
    assert box.cgroup.pids() == [box.pid]

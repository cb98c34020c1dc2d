"""`minikube-py exec` end to end, against a stand-in for the agent's API.

A real container runs (runtime, busybox fixture) with its state where the
agent keeps it (<run-dir>/containers/<id>); a small HTTP server on
<run-dir>/api.sock answers GET for one pod whose status points at it, as the
agent would.  The CLI runs as a subprocess; for -t it gets an outer pty
(`setsid -c`: the pty is its controlling terminal) that the test drives like
a user's terminal: resizes, Ctrl-C.
"""

from __future__ import annotations

import fcntl
import http.server
import json
import os
import select
import shutil
import socketserver
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Iterator

import pytest

from runtime.cgroups import open_cgroup
from runtime.container import Container
from tests.integration.test_runtime import Runner, read_until

CLI = [sys.executable, "-m", "minikube_py"]


class _UnixHTTPServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


class FakeAgent:
    """Serves GET /api/v1/namespaces/default/pods/<name> from `pods`."""

    def __init__(self, sock_path: str) -> None:
        self.pods: dict[str, dict] = {}
        pods = self.pods

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                name = self.path.split("?")[0].rsplit("/", 1)[-1]
                if self.path.startswith("/api/v1/namespaces/default/pods/") and name in pods:
                    code, body = 200, pods[name]
                else:
                    code, body = (
                        404,
                        {
                            "kind": "Status",
                            "apiVersion": "v1",
                            "status": "Failure",
                            "message": f'pods "{name}" not found',
                            "reason": "NotFound",
                            "code": 404,
                        },
                    )
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        self.server = _UnixHTTPServer(sock_path, Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="session")
def exec_cli_cgroup_parent() -> Iterator[str]:
    name = f"minikube-py-exec-cli-test-{os.getpid()}"
    yield name
    open_cgroup(name).destroy()


@pytest.fixture
def node(busybox_rootfs, exec_cli_cgroup_parent, tmp_path) -> Iterator[tuple[str, Container]]:
    """(run dir, running container) with pod "web" (containers app, running; side, not)."""
    run_dir = str(tmp_path / "run")
    rt = Runner(busybox_rootfs, exec_cli_cgroup_parent, os.path.join(run_dir, "containers"))
    s = rt.spec("/bin/sh", "-c", "echo READY; exec sleep 1000")
    s.root = rt.overlay(tmp_path / "root")
    c, out = rt.start(s)
    read_until(out, "READY")
    os.close(out)
    agent = FakeAgent(os.path.join(run_dir, "api.sock"))
    agent.pods["web"] = pod("web", c.id)
    agent.pods["annotated"] = pod(
        "annotated",
        c.id,
        {"kubectl.kubernetes.io/default-container": "app"},
        order=("side", "app"),
    )
    agent.pods["done"] = pod("done", c.id, phase="Succeeded")
    try:
        yield run_dir, c
    finally:
        agent.close()
        reap_orphans(c)
        rt.cleanup()


def reap_orphans(c: Container) -> None:
    """Kill and reap processes of `c` that a dead CLI left to us.

    This test process is a child subreaper (it runs containers) and the CLI's
    ancestor, so a process exec'd by a CLI that died is re-parented here.  The
    kernel reaps a pid namespace's init only once every process of the
    namespace is reaped: left alone, such an orphan would hang the delete.
    """
    try:
        pidns = os.stat(f"/proc/{c.pid}/ns/pid").st_ino
    except FileNotFoundError:
        return  # the init is gone (and so is everything of its namespace)
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == c.pid:
            continue
        try:
            with open(f"/proc/{entry}/status") as f:
                ppid = next(int(ln.split()[1]) for ln in f if ln.startswith("PPid:"))
            same_ns = os.stat(f"/proc/{entry}/ns/pid").st_ino == pidns
        except (OSError, StopIteration):
            continue
        if ppid == os.getpid() and same_ns:
            os.kill(int(entry), 9)
            os.waitpid(int(entry), 0)


def pod(
    name: str,
    cid: str,
    annotations: dict | None = None,
    phase: str = "Running",
    order: tuple[str, ...] = ("app", "side"),
) -> dict:
    return {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": {"name": name, "namespace": "default", "annotations": annotations or {}},
        "spec": {"containers": [{"name": n} for n in order]},
        "status": {
            "phase": phase,
            "containerStatuses": [
                {
                    "name": "app",
                    "containerID": f"minikube-py://{cid}",
                    "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}},
                },
                {"name": "side", "state": {"waiting": {"reason": "ContainerCreating"}}},
            ],
        },
    }


def cli(run_dir: str, *args: str, input: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*CLI, "--run-dir", run_dir, "exec", *args],
        input=input,
        capture_output=True,
        timeout=30,
        stdin=None if input is not None else subprocess.DEVNULL,
    )


def test_exec_runs_in_the_default_container_and_says_so(node):
    run_dir, _ = node
    r = cli(run_dir, "web", "--", "hostname")
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"box\n"
    assert r.stderr.decode() == 'Defaulted container "app" out of: app, side\n'


def test_default_container_annotation_is_honoured_silently(node):
    run_dir, _ = node
    r = cli(run_dir, "annotated", "--", "hostname")  # "side" comes first but is not running
    assert (r.returncode, r.stdout, r.stderr) == (0, b"box\n", b"")


def test_quiet_drops_the_defaulted_message_and_pod_slash_name_works(node):
    run_dir, _ = node
    r = cli(run_dir, "-q", "pod/web", "--", "hostname")
    assert (r.returncode, r.stdout, r.stderr) == (0, b"box\n", b"")


def test_exit_code_is_the_commands(node):
    run_dir, _ = node
    r = cli(run_dir, "web", "-c", "app", "--", "sh", "-c", "echo out; echo err >&2; exit 7")
    assert r.returncode == 7
    assert r.stdout == b"out\n"
    assert r.stderr == b"err\ncommand terminated with exit code 7\n"


def test_stdin_only_with_i(node):
    run_dir, _ = node
    r = cli(run_dir, "-i", "web", "-c", "app", "--", "cat", input=b"typed\n")
    assert (r.returncode, r.stdout) == (0, b"typed\n")
    r = cli(run_dir, "web", "-c", "app", "--", "cat", input=b"typed\n")
    assert (r.returncode, r.stdout) == (0, b"")


def test_t_without_a_terminal_falls_back_to_pipes_as_kubectl(node):
    run_dir, _ = node
    r = cli(run_dir, "-it", "web", "-c", "app", "--", "sh", "-c", "tty; cat", input=b"x\n")
    assert r.returncode == 0
    assert r.stdout == b"not a tty\nx\n"
    assert b"Unable to use a TTY - input is not a terminal" in r.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope", "--", "true"], 'error: pods "nope" not found'),
        (["web", "-c", "nope", "--", "true"], "error: container nope is not valid for pod web"),
        (
            ["web", "-c", "side", "--", "true"],
            'error: unable to upgrade connection: container not found ("side")',
        ),
        (
            ["web", "-c", "app", "--", "/bin/nope"],
            'error: exec "/bin/nope": no such file or directory',
        ),
    ],
)
def test_errors_are_one_line_and_exit_1(node, args, message):
    run_dir, _ = node
    r = cli(run_dir, *args)
    assert r.returncode == 1
    assert r.stderr.decode().splitlines() == [message]


def test_a_stopped_container_is_not_found(node):
    run_dir, c = node
    c.kill(9)
    c.wait()
    r = cli(run_dir, "web", "-c", "app", "--", "true")
    assert r.returncode == 1
    assert r.stderr == b'error: unable to upgrade connection: container not found ("app")\n'


def test_completed_pod_is_refused_like_kubectl(node):
    run_dir, _ = node
    r = cli(run_dir, "done", "--", "true")
    assert r.returncode == 1
    assert r.stderr == (
        b"error: cannot exec into a container in a completed pod; current phase is Succeeded\n"
    )


# ---- -t: a user's terminal, simulated by an outer pty -----------------------


class Terminal:
    """The CLI on the slave of a pty (its controlling terminal); we hold the master."""

    def __init__(self, run_dir: str, *args: str, rows: int = 40, cols: int = 132) -> None:
        self.master, self.slave = os.openpty()
        self.resize(rows, cols)
        self.saved = termios.tcgetattr(self.slave)
        self.proc = subprocess.Popen(
            [shutil.which("setsid") or "setsid", "-c", *CLI, "--run-dir", run_dir, "exec", *args],
            stdin=self.slave,
            stdout=self.slave,
            stderr=self.slave,
        )
        self.buf = ""

    def resize(self, rows: int, cols: int) -> None:
        fcntl.ioctl(self.master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def type(self, data: bytes) -> None:
        os.write(self.master, data)

    def expect(self, marker: str, timeout: float = 20) -> str:
        deadline = time.monotonic() + timeout
        while marker not in self.buf:
            left = deadline - time.monotonic()
            assert left > 0, f"no {marker!r} on the terminal: {self.buf!r}"
            if select.select([self.master], [], [], left)[0]:
                try:
                    chunk = os.read(self.master, 4096)
                except OSError:
                    chunk = b""
                assert chunk, f"terminal closed before {marker!r}: {self.buf!r}"
                self.buf += chunk.decode(errors="replace")
        return self.buf

    def close(self) -> int:
        try:
            code = self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self.restored = termios.tcgetattr(self.slave) == self.saved
        os.close(self.slave)
        os.close(self.master)
        return code


def test_tty_resize_and_ctrl_c_through_the_cli(node):
    run_dir, c = node
    script = (
        "tty; stty size; trap 'stty size' WINCH; echo READY; "
        "while [ ! -e /tmp/go ]; do sleep 0.05; done; exec sleep 100"
    )
    term = Terminal(run_dir, "-it", "web", "-c", "app", "--", "sh", "-c", script)
    try:
        out = term.expect("READY")
        lines = [ln for ln in out.replace("\r", "").splitlines() if ln]
        assert lines[0].startswith("/dev/pts/"), out  # a pty of the container's devpts
        assert lines[1] == "40 132"
        term.resize(50, 100)  # the CLI gets SIGWINCH and passes the size on
        term.expect("50 100")
        assert c.cgroup.pids() and _touch(c)
        time.sleep(0.3)  # sleep 100 is now the pty's foreground process
        term.type(b"\x03")  # Ctrl-C, as a byte: raw mode locally, SIGINT inside
        term.expect("command terminated with exit code 130")
    finally:
        code = term.close()
    assert code == 130
    assert term.restored, "the local terminal was left in raw mode"
    assert c.cgroup.pids() == [c.pid]  # the exec'd process is gone


def _touch(c: Container) -> bool:
    from runtime.exec import exec_process

    with exec_process(c, ["touch", "/tmp/go"]) as p:
        return p.wait(timeout=10) == 0


def test_tty_exit_code_and_output(node):
    run_dir, _ = node
    term = Terminal(run_dir, "-it", "-q", "web", "--", "sh", "-c", "echo hi; exit 3")
    try:
        term.expect("hi")
    finally:
        code = term.close()
    assert code == 3
    assert term.restored


def test_sigterm_to_the_cli_reaches_the_process(node):
    run_dir, c = node
    proc = subprocess.Popen(
        [
            *CLI,
            "--run-dir",
            run_dir,
            "exec",
            "-q",
            "web",
            "--",
            "sh",
            "-c",
            "echo UP; exec sleep 100",
        ],
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    try:
        assert proc.stdout.readline() == b"UP\n"
        proc.send_signal(15)
        assert proc.wait(timeout=20) == 128 + 15
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
    assert c.cgroup.pids() == [c.pid]

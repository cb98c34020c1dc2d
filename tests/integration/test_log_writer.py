"""The log writer process with real children: format, order, rotation, surviving the agent.

These need no root, but they start real processes (tests/integration is root-marked).
Every process a test starts is ended by its pid.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from minikube_py.logs.cri import (
    MAX_RECORD_CONTENT,
    log_writer_active,
    parse_line,
    read_log,
    rotated_logs,
)
from minikube_py.logs.writer import LogWriterError, start_log_writer
from tests.fixtures.node import process_gone

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _records(path: str) -> list:
    with open(path, "rb") as f:
        return [parse_line(line) for line in f]


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    with contextlib.suppress(ChildProcessError):  # not ours: init or a subreaper reaps it
        os.waitpid(pid, 0)


def _wait_gone(pred, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.02)
    return False


@pytest.fixture
def writer(tmp_path):
    started = []

    def start(name: str = "0.log", **kw):
        w = start_log_writer(str(tmp_path / "c" / name), **kw)
        started.append(w)
        return w

    yield start
    for w in started:
        w.close_pipes()
        if w.wait(5) is None:
            _kill(w.pid)
            w.wait(5)


def _child(w, script: str, **kw) -> subprocess.Popen:
    proc = subprocess.Popen(["sh", "-c", script], stdout=w.stdout_fd, stderr=w.stderr_fd, **kw)
    w.close_pipes()  # as the agent does once the container has its copies
    return proc


def test_log_holds_both_streams_in_order_long_line_and_unterminated_last_line(writer):
    w = writer()
    # the child waits on stdin between streams until the previous line is in the log,
    # so the order in the file is the order it wrote in
    child = _child(
        w,
        "echo out1; read x; echo err1 >&2; read x; echo out2; read x;"
        f" head -c {2 * MAX_RECORD_CONTENT + 100} /dev/zero | tr '\\0' x; echo;"
        " printf 'no newline' >&2",
        stdin=subprocess.PIPE,
    )
    try:
        for expected in (1, 2, 3):
            assert _wait_gone(lambda n=expected: len(_records(w.log_path)) >= n)
            child.stdin.write(b"\n")
            child.stdin.flush()
        child.stdin.close()
        assert child.wait(10) == 0
        assert w.wait(10) == 0  # both pipes at EOF: the writer ends by itself
    finally:
        _kill(child.pid)
    records = _records(w.log_path)
    head = [(r.stream, r.partial, r.content) for r in records[:3]]
    assert head == [
        (b"stdout", False, b"out1"),
        (b"stderr", False, b"err1"),
        (b"stdout", False, b"out2"),
    ]
    long = [r for r in records[3:] if r.stream == b"stdout"]
    assert all(r.partial for r in long[:-1]) and not long[-1].partial
    assert all(len(r.content) <= MAX_RECORD_CONTENT for r in long)
    assert b"".join(r.content for r in long) == b"x" * (2 * MAX_RECORD_CONTENT + 100)
    last = records[-1]
    assert (last.stream, last.partial, last.content) == (b"stderr", True, b"no newline")
    assert list(read_log(w.log_path)) == [
        b"out1\n",
        b"err1\n",
        b"out2\n",
        b"x" * (2 * MAX_RECORD_CONTENT + 100) + b"\n",
        b"no newline",
    ]
    assert not log_writer_active(w.log_path)
    assert not os.path.exists(os.path.join(os.path.dirname(w.log_path), ".0.log.writer.lock"))


def test_rotation_keeps_at_most_max_files_and_reads_back_in_order(writer):
    w = writer(max_size=2000, max_files=3)
    child = _child(w, "i=0; while [ $i -lt 400 ]; do echo line$i; i=$((i+1)); done")
    assert child.wait(10) == 0
    assert w.wait(10) == 0
    files = [*rotated_logs(w.log_path), w.log_path]
    assert len(files) == 3
    assert all(os.path.getsize(f) <= 2000 for f in files)
    lines = list(read_log(w.log_path))
    numbers = [int(x[4:]) for x in lines]
    # the oldest files are gone; what is left is the end of the output, in order
    assert numbers == list(range(400 - len(numbers), 400))
    assert len(numbers) > 40
    assert list(read_log(w.log_path, tail_lines=5)) == [b"line%d\n" % i for i in range(395, 400)]


_AGENT = textwrap.dedent(
    """
    import json, os, subprocess, sys, time
    sys.path.insert(0, {repo!r})
    from minikube_py.logs.writer import start_log_writer
    w = start_log_writer({log!r})
    child = subprocess.Popen(
        ["sh", "-c", "echo before; while [ ! -e {flag} ]; do sleep 0.02; done; echo after"],
        stdout=w.stdout_fd, stderr=w.stderr_fd, start_new_session=True)
    w.close_pipes()
    print(json.dumps({{"writer": w.pid, "child": child.pid}}), flush=True)
    time.sleep(600)
    """
)


def test_writer_outlives_a_sigkilled_agent_and_keeps_logging(tmp_path):
    log = str(tmp_path / "c" / "0.log")
    flag = tmp_path / "flag"
    agent = subprocess.Popen(
        [sys.executable, "-c", _AGENT.format(repo=REPO, log=log, flag=flag)],
        stdout=subprocess.PIPE,
    )
    pids = {}
    try:
        pids = json.loads(agent.stdout.readline())
        assert _wait_gone(lambda: os.path.exists(log) and os.path.getsize(log) > 0)
        agent.kill()  # SIGKILL: no cleanup of any kind in the agent
        agent.wait(10)
        assert os.getsid(pids["writer"]) == pids["writer"]  # its own session
        assert log_writer_active(log)
        flag.touch()  # the container writes again, with no agent around
        lines = list(read_log(log, follow=True))  # ends when the writer lets go
        assert lines == [b"before\n", b"after\n"]
        assert _wait_gone(lambda: process_gone(pids["writer"]))
    finally:
        agent.kill()
        agent.wait()
        for pid in pids.values():
            _kill(pid)


def test_writer_holds_only_its_pipes_log_and_lock_and_ignores_sigint(writer):
    w = writer()
    child = _child(w, "cat >/dev/null", stdin=subprocess.PIPE)
    try:
        fd_dir = f"/proc/{w.pid}/fd"
        targets = sorted(os.readlink(f"{fd_dir}/{fd}") for fd in os.listdir(fd_dir))
        null, pipes = targets.count("/dev/null"), [t for t in targets if t.startswith("pipe:")]
        files = [t for t in targets if t.startswith("/") and t != "/dev/null"]
        assert null == 3 and len(pipes) == 2
        assert sorted(os.path.basename(f) for f in files) == [".0.log.writer.lock", "0.log"]
        os.kill(w.pid, signal.SIGINT)
        os.kill(w.pid, signal.SIGHUP)
        assert w.wait(0.3) is None  # still running
        child.stdin.close()
        assert child.wait(10) == 0
        assert w.wait(10) == 0
    finally:
        _kill(child.pid)


def test_follow_sees_a_new_line_within_200ms(writer):
    w = writer()
    child = _child(w, 'while read x; do echo "$x"; done', stdin=subprocess.PIPE)
    got: list[tuple[float, bytes]] = []
    arrived = threading.Condition()
    stop = threading.Event()

    def follow():
        for line in read_log(w.log_path, follow=True, stop_event=stop):
            with arrived:
                got.append((time.monotonic(), line))
                arrived.notify_all()

    reader = threading.Thread(target=follow, daemon=True)
    reader.start()
    try:
        time.sleep(0.3)  # the reader is now blocked waiting for the file to change
        latencies = []
        for i in range(5):
            sent = time.monotonic()
            child.stdin.write(b"ping%d\n" % i)
            child.stdin.flush()
            with arrived:
                assert arrived.wait_for(lambda n=i: len(got) > n, 5)
            latencies.append(got[i][0] - sent)
            time.sleep(0.05)
        assert [line for _, line in got] == [b"ping%d\n" % i for i in range(5)]
        assert max(latencies) < 0.2, latencies
        child.stdin.close()
        assert child.wait(10) == 0
        reader.join(5)  # the writer exits at EOF, the follower with it
        assert not reader.is_alive()
    finally:
        stop.set()
        _kill(child.pid)


def test_second_writer_for_the_same_log_is_refused(writer):
    w = writer()
    with pytest.raises(LogWriterError, match=r"another log writer holds .*\.0\.log\.writer\.lock"):
        start_log_writer(w.log_path)


def test_unwritable_log_directory_is_reported(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(LogWriterError, match="cannot create log directory"):
        start_log_writer(str(blocker / "c" / "0.log"))


def test_owner_lets_a_non_root_container_reopen_dev_stdout(writer):
    # nginx-style images log to /dev/stdout; the pipe must belong to the container's user
    w = writer(owner=(65534, 65534))
    child = subprocess.Popen(
        ["sh", "-c", "echo hi > /dev/stdout; echo err > /dev/stderr"],
        stdout=w.stdout_fd,
        stderr=w.stderr_fd,
        user=65534,
        group=65534,
        extra_groups=[],
    )
    w.close_pipes()
    assert child.wait(10) == 0
    assert w.wait(10) == 0
    assert list(read_log(w.log_path)) == [b"hi\n", b"err\n"]

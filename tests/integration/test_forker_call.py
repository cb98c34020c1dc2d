"""runtime.forker.call: a Python function run as a detached child of ours, forked from the
forker (no interpreter start), holding only the fds it is given."""

import json
import os
import subprocess

import pytest

from runtime import forker
from runtime.errors import RuntimeErr

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TARGET = "tests.fixtures.callee:report_then_wait"


def _call(code: int):
    out_r, out_w = os.pipe()
    hold_r, hold_w = os.pipe()
    try:
        child = forker.call(TARGET, [str(code)], [out_w, hold_r], path=[REPO])
    finally:
        os.close(out_w)
        os.close(hold_r)
    with os.fdopen(out_r, "rb") as f:
        info = json.loads(f.read())
    return child, info, hold_w


def test_the_function_runs_detached_with_only_its_fds_and_its_exit_code_comes_back():
    child, info, hold_w = _call(7)
    try:
        assert info["pid"] == child.pid
        assert info["sid"] == child.pid  # a session of its own
        assert info["cwd"] == "/"
        assert info["stdio"] == ["/dev/null"] * 3
        assert info["args"] == ["7"]
        # 0-2 and the two fds it was given; nothing else of ours or the forker's
        # (the one more is the fd that listed /proc/self/fd)
        assert set(info["fds"]) - {0, 1, 2, *info["fds_given"]} <= {max(info["fds"])}
        assert len(info["fds"]) == 6
        assert child.poll() is None
        with pytest.raises(subprocess.TimeoutExpired):
            child.wait(0.2)
    finally:
        os.close(hold_w)  # EOF: it exits
    assert child.wait(10) == 7
    assert child.poll() == 7


def test_kill_and_a_target_that_does_not_import():
    child, _, hold_w = _call(0)
    try:
        child.kill()
        assert child.wait(10) == -9
    finally:
        os.close(hold_w)
    with pytest.raises(RuntimeErr, match="cannot start no_such_module:f: import"):
        forker.call("no_such_module:f", [], [], path=[REPO])
    child, _, hold_w = _call(3)  # the forker serves on
    os.close(hold_w)
    assert child.wait(10) == 3

"""The quick path reads exactly the apply command lines it understands, as click would,
and leaves every other command line to click."""

import os

import pytest

from minikube_py.cli import DEFAULT_RUN_DIR, quick


@pytest.fixture(autouse=True)
def no_env(monkeypatch):
    monkeypatch.delenv("MINIKUBE_PY_RUN_DIR", raising=False)


@pytest.mark.parametrize(
    "args, expected",
    [
        (["apply", "-f", "p.yaml"], (DEFAULT_RUN_DIR, ["p.yaml"], None)),
        (["apply", "-fp.yaml"], (DEFAULT_RUN_DIR, ["p.yaml"], None)),
        (["apply", "--filename=p.yaml"], (DEFAULT_RUN_DIR, ["p.yaml"], None)),
        (["apply", "--filename", "-"], (DEFAULT_RUN_DIR, ["-"], None)),
        (["apply", "-f", "a", "-n", "team", "-f", "b"], (DEFAULT_RUN_DIR, ["a", "b"], "team")),
        (["apply", "--namespace=team", "-f", "a"], (DEFAULT_RUN_DIR, ["a"], "team")),
        (["apply", "-nteam", "-f", "a"], (DEFAULT_RUN_DIR, ["a"], "team")),
        (["--run-dir", "/r", "apply", "-f", "a"], ("/r", ["a"], None)),
        (["--run-dir=/r", "--root", "/x", "--log-dir=/l", "apply", "-f", "a"], ("/r", ["a"], None)),
    ],
)
def test_the_apply_command_lines_it_reads(args, expected):
    assert quick.parse(args) == expected


def test_relative_run_dir_and_the_environment(monkeypatch):
    assert quick.parse(["--run-dir", "rel", "apply", "-f", "a"])[0] == os.path.abspath("rel")
    monkeypatch.setenv("MINIKUBE_PY_RUN_DIR", "/from/env")
    assert quick.parse(["apply", "-f", "a"])[0] == "/from/env"
    assert quick.parse(["--run-dir", "/opt", "apply", "-f", "a"])[0] == "/opt"


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["get", "pods"],
        ["apply"],  # no -f: click's usage error
        ["apply", "-f"],  # a missing value
        ["apply", "-f", "a", "-n"],
        ["apply", "-f", "a", "--help"],
        ["apply", "-h"],
        ["apply", "-f", "a", "extra"],  # an argument click refuses
        ["apply", "-f=a"],  # click reads the value "=a": let it say so
        ["apply", "-f", "a", "--dry-run"],
        ["--debug", "apply", "-f", "a"],
        ["--insecure-registry", "r", "apply", "-f", "a"],
        ["--run-dir", "apply", "-f", "a"],  # --run-dir takes "apply" as its value
        ["--run-dir="],
        ["--help"],
        ["version"],
    ],
)
def test_everything_else_is_left_to_click(args):
    assert quick.parse(args) is None
    assert quick.run(args) is None

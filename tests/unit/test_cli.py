"""The CLI entry point: help, version, and errors as one line."""

from __future__ import annotations

import subprocess
import sys

from minikube_py import __version__


def run_cli(*args: str, **env) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "minikube_py", *args], capture_output=True, text=True, timeout=60
    )


def test_help_lists_commands_and_global_options():
    proc = run_cli("--help")
    assert proc.returncode == 0
    for word in ("--root", "--run-dir", "--log-dir", "--insecure-registry", "version"):
        assert word in proc.stdout


def test_version_prints_the_package_version():
    proc = run_cli("version")
    assert proc.returncode == 0
    assert proc.stdout.startswith(f"minikube-py {__version__}")


def test_console_script_is_installed():
    import shutil

    exe = shutil.which("minikube-py") or f"{sys.prefix}/bin/minikube-py"
    proc = subprocess.run([exe, "version"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and __version__ in proc.stdout


def test_unknown_command_fails_with_one_clear_line():
    proc = run_cli("frobnicate")
    assert proc.returncode == 1  # as kubectl
    assert "No such command 'frobnicate'" in proc.stderr
    assert "Traceback" not in proc.stderr

"""The `minikube-py` command line.

`main` is the console script.  The full command line is click's (`minikube_py.cli.app`);
the commands on the path to a running pod (`apply -f`) first get a look from a small parser
of their own (`minikube_py.cli.quick`), which runs them without importing click when the
command line is one it fully understands, and leaves everything else to click.  Python's
start-up counts against every command, and click alone costs more than the whole request.
"""

from __future__ import annotations

import os
import sys

DEFAULT_ROOT = "/var/lib/minikube-py"
DEFAULT_RUN_DIR = "/run/minikube-py"
DEFAULT_LOG_DIR = "/var/log/pods"


def user_error_message(e: BaseException) -> str | None:
    """The one line a user sees for an error of ours (None: not one of ours, or
    MINIKUBE_PY_DEBUG asks for the traceback)."""
    if os.environ.get("MINIKUBE_PY_DEBUG"):
        return None
    from minikube_py.errors import MinikubeError
    from oci.errors import OCIError
    from runtime.errors import RuntimeErr

    if isinstance(e, MinikubeError | OCIError | RuntimeErr):
        return f"error: {e}"
    if isinstance(e, PermissionError):
        return f"error: permission denied: {e.filename or e} (run as root: sudo minikube-py ...)"
    return None


def main(argv: list[str] | None = None) -> None:
    """Entry point: every user-facing error becomes one line on stderr and exit 1."""
    args = sys.argv[1:] if argv is None else list(argv)
    from minikube_py.cli import quick

    code = quick.run(args)
    if code is not None:
        sys.exit(code)
    from minikube_py.cli.app import main as full

    full(args)

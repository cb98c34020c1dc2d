"""The quick path: `minikube-py [global options] apply -f FILE...` without click.

click's import alone takes longer than an apply's whole request to the agent, and applying
a pod is what a user waits on.  This reads only command lines of exactly this shape:

    [--root DIR] [--run-dir DIR] [--log-dir DIR]   (also as --opt=DIR; env MINIKUBE_PY_*)
    apply (-f|--filename FILE | -n|--namespace NS)...   (also -fFILE, --filename=FILE, ...)

and returns None for anything else (help, another command, an option it does not know, a
missing value), which click then handles as always: the quick path never decides what a
command line means differently from click, it only runs a subset of them sooner.
"""

from __future__ import annotations

import os
import sys

from minikube_py.cli import DEFAULT_RUN_DIR, user_error_message

# global options that take a value -> is it the run dir (the only one apply uses)
_GLOBAL_VALUES = {"--root": False, "--run-dir": True, "--log-dir": False}
_APPLY_VALUES = {"-f": "filenames", "--filename": "filenames", "-n": "namespace",
                 "--namespace": "namespace"}  # fmt: skip


def parse(args: list[str]) -> tuple[str, list[str], str | None] | None:
    """(run dir, filenames, namespace) of an apply command line; None: not for us."""
    run_dir = os.environ.get("MINIKUBE_PY_RUN_DIR") or DEFAULT_RUN_DIR
    i = 0
    while i < len(args) and args[i] != "apply":
        name, value, i = _option(args, i, _GLOBAL_VALUES)
        if name is None:
            return None
        if _GLOBAL_VALUES[name]:
            run_dir = value
    if i == len(args):
        return None
    i += 1
    filenames: list[str] = []
    namespace: str | None = None
    while i < len(args):
        name, value, i = _option(args, i, _APPLY_VALUES)
        if name is None:
            return None
        if _APPLY_VALUES[name] == "filenames":
            filenames.append(value)
        else:
            namespace = value
    if not filenames or not run_dir:
        return None
    return os.path.abspath(run_dir), filenames, namespace


def _option(args: list[str], i: int, known: dict) -> tuple[str | None, str, int]:
    """The option at args[i] with its value: (name, value, next index); name None if it is
    not one of `known`, or its value is missing."""
    arg = args[i]
    if arg.startswith("--"):
        name, eq, value = arg.partition("=")
        if name not in known:
            return None, "", i
        if eq:
            return name, value, i + 1
    elif len(arg) > 2 and arg[:2] in known and arg[2] != "=":  # -fFILE (click: -f=X is "=X")
        return arg[:2], arg[2:], i + 1
    elif arg in known:
        name = arg
    else:
        return None, "", i
    if i + 1 >= len(args):
        return None, "", i
    return name, args[i + 1], i + 2


def run(args: list[str]) -> int | None:
    """Run the command line if it is an apply this module reads; its exit code, else None."""
    parsed = parse(args)
    if parsed is None:
        return None
    run_dir, filenames, namespace = parsed
    try:
        from minikube_py.cli.apply import apply_files

        return apply_files(os.path.join(run_dir, "api.sock"), filenames, namespace)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 1
    except Exception as e:
        from minikube_py.apiserver.errors import APIError

        message = e.kubectl_message() if isinstance(e, APIError) else user_error_message(e)
        if message is None:
            raise
        print(message, file=sys.stderr, flush=True)
        return 1

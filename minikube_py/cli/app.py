"""The full `minikube-py` command line (click), behind `minikube_py.cli.main`.

Commands are loaded lazily from the table below, so `minikube-py get pods` does
not pay for importing the image or runtime layers.
"""

from __future__ import annotations

import importlib
import os
import sys
from dataclasses import dataclass, field

import click

from minikube_py.cli import DEFAULT_LOG_DIR, DEFAULT_ROOT, DEFAULT_RUN_DIR, user_error_message

# command name -> "module:attribute" of a click command.  One line per command.
COMMANDS: dict[str, str] = {
    "version": "minikube_py.cli.version:version",
    "pull": "minikube_py.cli.images:pull",
    "images": "minikube_py.cli.images:images",
    "rmi": "minikube_py.cli.images:rmi",
    "unpack": "minikube_py.cli.unpack:unpack",
    "run": "minikube_py.cli.run:run",
    "apply": "minikube_py.cli.kubectl:apply",
    "get": "minikube_py.cli.kubectl:get",
    "describe": "minikube_py.cli.kubectl:describe",
    "logs": "minikube_py.cli.kubectl:logs",
    "delete": "minikube_py.cli.kubectl:delete",
    "exec": "minikube_py.cli.exec:exec_",
    "agent": "minikube_py.cli.agent:agent",
}


@dataclass
class GlobalOptions:
    """Options every command sees (ctx.obj)."""

    root: str = DEFAULT_ROOT
    run_dir: str = DEFAULT_RUN_DIR
    log_dir: str = DEFAULT_LOG_DIR
    insecure_registries: tuple[str, ...] = ()
    registry_config: str | None = None
    debug: bool = False
    extra: dict = field(default_factory=dict)


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        return getattr(importlib.import_module(module_name), attr)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--root",
    envvar="MINIKUBE_PY_ROOT",
    default=DEFAULT_ROOT,
    show_default=True,
    help="State root: images, snapshots, pods.",
)
@click.option(
    "--run-dir",
    envvar="MINIKUBE_PY_RUN_DIR",
    default=DEFAULT_RUN_DIR,
    show_default=True,
    help="Runtime dir: the agent's api.sock, pid files, netns mounts.",
)
@click.option(
    "--log-dir",
    envvar="MINIKUBE_PY_LOG_DIR",
    default=DEFAULT_LOG_DIR,
    show_default=True,
    help="Container logs (CRI format).",
)
@click.option(
    "--insecure-registry",
    "insecure_registries",
    multiple=True,
    metavar="HOST[:PORT]",
    help="Talk plain HTTP to this registry (loopback registries always are).",
)
@click.option(
    "--registry-config",
    type=click.Path(dir_okay=False),
    default=None,
    help="Docker-style config.json with registry credentials.",
)
@click.option("--debug", is_flag=True, envvar="MINIKUBE_PY_DEBUG", help="Show tracebacks.")
@click.pass_context
def cli(
    ctx: click.Context,
    root: str,
    run_dir: str,
    log_dir: str,
    insecure_registries: tuple[str, ...],
    registry_config: str | None,
    debug: bool,
) -> None:
    """minikube-py: a mini-kubelet that runs Kubernetes pods as real Linux containers."""
    ctx.obj = GlobalOptions(
        root=os.path.abspath(root),
        run_dir=os.path.abspath(run_dir),
        log_dir=os.path.abspath(log_dir),
        insecure_registries=insecure_registries,
        registry_config=registry_config,
        debug=debug,
    )


def main(argv: list[str] | None = None) -> None:
    """Run a command line; every user-facing error becomes one line on stderr and exit 1."""
    try:
        cli.main(args=argv, prog_name="minikube-py", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as e:
        e.show()
        sys.exit(1)  # kubectl: every error, usage errors too, exits 1
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as e:
        message = user_error_message(e)
        if message is None:
            raise
        click.echo(message, err=True)
        sys.exit(1)
    sys.exit(0)

import platform

import click

from minikube_py import __version__


@click.command()
def version() -> None:
    """Print the version of minikube-py."""
    click.echo(f"minikube-py {__version__} (python {platform.python_version()})")

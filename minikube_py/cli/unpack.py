"""`minikube-py unpack REF DIR`: an image's flattened root filesystem, for inspection.

The same tree `umoci unpack` gives in its bundle's rootfs: every layer applied in order,
whiteouts deleting.  The image is pulled first if the local store does not have it.
"""

from __future__ import annotations

import os
import shutil
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from minikube_py.cli.app import GlobalOptions


@click.command()
@click.argument("ref")
@click.argument("dest", metavar="DIR", type=click.Path(file_okay=False))
@click.option("--platform", metavar="OS/ARCH[/VARIANT]", help="Platform to pull if not stored.")
@click.pass_obj
def unpack(opts: GlobalOptions, ref: str, dest: str, platform: str | None) -> None:
    """Write the root filesystem of image REF into DIR (new or empty)."""
    from minikube_py.errors import MinikubeError
    from oci.errors import ImageNotFound
    from oci.image import ImageService

    dest = os.path.abspath(dest)
    created = not os.path.lexists(dest)
    if not created and (not os.path.isdir(dest) or os.path.islink(dest) or os.listdir(dest)):
        raise MinikubeError(f"unpack: {dest} exists and is not an empty directory")
    with ImageService(
        opts.root,
        insecure_registries=opts.insecure_registries,
        registry_config=opts.registry_config,
    ) as service:
        try:
            service.store.image(ref)
        except ImageNotFound:
            from oci.pull import pull

            pull(
                ref,
                service.store,
                platform=platform,
                insecure_registries=opts.insecure_registries,
                registry_config=opts.registry_config,
            )
        if created:
            os.mkdir(dest, 0o755)
        try:
            image = service.unpack_flat(ref, dest)
        except BaseException:
            if created:
                shutil.rmtree(dest, ignore_errors=True)
            raise
    click.echo(f"Unpacked {image.ref} ({len(image.layers)} layers) into {dest}")

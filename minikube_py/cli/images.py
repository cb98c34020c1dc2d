"""`minikube-py pull`, `images` and `rmi`: the local image store from the command line.

Images live in an OCI image layout at <root>/images.  The oci package is imported inside the
commands so that other commands do not pay for it.
"""

from __future__ import annotations

import os
import threading
import time
from typing import TYPE_CHECKING, TextIO

import click

if TYPE_CHECKING:
    from minikube_py.cli.app import GlobalOptions
    from oci.pull import PullEvent
    from oci.store import ContentStore


def _store(opts: GlobalOptions) -> ContentStore:
    from oci.store import ContentStore

    return ContentStore(os.path.join(opts.root, "images"))


def human_size(n: float) -> str:
    """Bytes in SI units, as docker shows them: 812 B, 1.23 MB, 45.6 MB."""
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.3g} {unit}"
        n /= 1000
    return f"{n:.3g} TB"


def _short(digest: str) -> str:
    return digest.partition(":")[2][:12]


def _rate(done: int, elapsed: float) -> str:
    return human_size(done / elapsed) + "/s" if elapsed > 0 else "-"


class LineProgress:
    """One plain line per layer when it is stored or found present (for logs and pipes)."""

    def __init__(self, out: TextIO):
        self.out = out
        self.lock = threading.Lock()

    def __call__(self, event: PullEvent) -> None:
        if event.index < 0 or event.kind not in ("exists", "done"):
            return
        label = f"layer {event.index + 1} {_short(event.digest)}"
        if event.kind == "exists":
            line = f"{label}: already present ({human_size(event.size)})"
        else:
            line = (
                f"{label}: pulled {human_size(event.size)} in {event.elapsed:.2f} s "
                f"({_rate(event.size, event.elapsed)})"
            )
        with self.lock:
            self.out.write(line + "\n")
            self.out.flush()

    def finish(self) -> None:
        pass


class TerminalProgress:
    """A live line per layer (bytes so far, total, rate), redrawn in place at most 10 times/s."""

    def __init__(self, out: TextIO):
        self.out = out
        self.lock = threading.Lock()
        self.lines: dict[int, str] = {}
        self.drawn = 0
        self.last = 0.0

    def __call__(self, event: PullEvent) -> None:
        if event.index < 0:
            return
        label = f"layer {event.index + 1} {_short(event.digest)}"
        if event.kind == "exists":
            text = f"{label}: already present"
        elif event.kind == "done":
            text = f"{label}: done {human_size(event.size)} ({_rate(event.size, event.elapsed)})"
        elif event.kind == "start":
            text = f"{label}: waiting"
        else:
            percent = 100 * event.done / event.size if event.size else 100
            text = (
                f"{label}: {human_size(event.done)} / {human_size(event.size)} "
                f"{percent:3.0f}%  {_rate(event.done, event.elapsed)}"
            )
        with self.lock:
            self.lines[event.index] = text
            now = time.monotonic()
            if event.kind == "bytes" and now - self.last < 0.1:
                return
            self.last = now
            self._draw()

    def _draw(self) -> None:
        if self.drawn:
            self.out.write(f"\x1b[{self.drawn}A")
        for index in sorted(self.lines):
            self.out.write("\r\x1b[2K" + self.lines[index] + "\n")
        self.drawn = len(self.lines)
        self.out.flush()

    def finish(self) -> None:
        with self.lock:
            if self.lines:
                self._draw()


@click.command()
@click.argument("ref")
@click.option(
    "--platform",
    metavar="OS/ARCH[/VARIANT]",
    default=None,
    help="Platform to pull from a multi-platform image (default: this host's).",
)
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors.")
@click.pass_obj
def pull(opts: GlobalOptions, ref: str, platform: str | None, quiet: bool) -> None:
    """Pull image REF from its registry into the local store, and unpack its layers
    into snapshots so that a pod can start from it at once (as `crictl pull` does)."""
    from oci.image import ImageService

    stdout = click.get_text_stream("stdout")
    reporter = None
    if not quiet:
        reporter = TerminalProgress(stdout) if stdout.isatty() else LineProgress(stdout)
    with ImageService(
        opts.root,
        insecure_registries=opts.insecure_registries,
        registry_config=opts.registry_config,
    ) as service:
        prepared = service.pull_and_unpack(ref, platform=platform, progress=reporter)
        image = service.store.image(prepared.ref)
    if reporter is not None:
        reporter.finish()
    if not quiet:
        click.echo(f"Digest: {image.repo_digest}")
        click.echo(f"Pulled {image.ref} ({image.platform}, {human_size(image.size)})")


@click.command()
@click.option("-q", "--quiet", is_flag=True, help="Print the image digests only.")
@click.pass_obj
def images(opts: GlobalOptions, quiet: bool) -> None:
    """List the images in the local store."""
    stored = sorted(_store(opts).list_images(), key=lambda i: (i.ref.name, str(i.ref)))
    if quiet:
        for image in stored:
            click.echo(image.repo_digest)
        return
    rows = [("REPOSITORY", "TAG", "DIGEST", "SIZE")]
    for image in stored:
        rows.append(
            (image.ref.name, image.ref.tag or "<none>", image.repo_digest, human_size(image.size))
        )
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        click.echo(
            "   ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:3])) + "   " + row[3]
        )


@click.command()
@click.argument("refs", nargs=-1, required=True, metavar="REF...")
@click.pass_obj
def rmi(opts: GlobalOptions, refs: tuple[str, ...]) -> None:
    """Remove image references, and the blobs no remaining image uses."""
    from oci.errors import ImageNotFound

    store = _store(opts)
    missing: list[str] = []
    for ref in refs:
        try:
            for name in store.remove(ref):
                click.echo(f"Untagged: {name}")
        except ImageNotFound as e:
            missing.append(str(e).removeprefix("image not found: "))
    for digest in store.gc():
        click.echo(f"Deleted: {digest}")
    from oci.image import ImageService  # snapshots (applied layers) no image uses any more

    with ImageService(opts.root) as service:
        service.gc_snapshots()
    if missing:
        raise ImageNotFound("image not found: " + ", ".join(missing))


__all__ = ["images", "pull", "rmi"]

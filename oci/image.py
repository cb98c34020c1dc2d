"""Images ready to run: pulled, layers applied into snapshots, config read.

This is what runtime/ and the agent use:

    svc = ImageService(state_root, insecure_registries=...)
    img = svc.pull_and_unpack("127.0.0.1:5000/app:1.0")   # or svc.prepare(ref) if stored
    mount("overlay", ..., f"lowerdir={img.lowerdir_option},upperdir=...,workdir=...")
    img.config.entrypoint, img.config.cmd, img.config.env, ...

`PreparedImage.lowerdirs` is in overlayfs order: the top layer first, the base last.

Pulling and unpacking overlap: each layer is applied as soon as its blob is stored
(`oci.pull`'s on_layer), several at once, each into its own temporary snapshot.  They are
then committed base first, which is when a hardlink into a lower layer is materialised
(the lower snapshots are complete by then) and each layer's digest is checked against
the config's rootfs.diff_ids.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from oci.errors import OCIError
from oci.layer import (
    FLAT,
    OVERLAY,
    DiffIDMismatch,
    LayerError,
    LayerResult,
    apply_layer,
    settle_on_lowers,
)
from oci.pull import pull
from oci.snapshots import SnapshotStore, chain_ids
from oci.store import ContentStore, StoredImage

# Layers applied at once.  Each also has a decompression thread; 2 cores like 2 layers.
DEFAULT_UNPACK_WORKERS = max(2, min(4, os.cpu_count() or 2))


class ImageConfigError(OCIError):
    """An image config that does not say what we need (rootfs.diff_ids)."""


@dataclass(frozen=True)
class ImageConfig:
    """The parts of an image config (image-spec config.md `config`) a container uses."""

    entrypoint: list[str] = field(default_factory=list)
    cmd: list[str] = field(default_factory=list)
    env: list[str] = field(default_factory=list)
    working_dir: str = ""
    user: str = ""
    exposed_ports: list[str] = field(default_factory=list)  # "8080/tcp", sorted
    stop_signal: str = ""
    labels: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_config(cls, config: dict) -> ImageConfig:
        c = config.get("config") or {}
        return cls(
            entrypoint=list(c.get("Entrypoint") or []),
            cmd=list(c.get("Cmd") or []),
            env=list(c.get("Env") or []),
            working_dir=c.get("WorkingDir") or "",
            user=c.get("User") or "",
            exposed_ports=sorted(c.get("ExposedPorts") or {}),
            stop_signal=c.get("StopSignal") or "",
            labels=dict(c.get("Labels") or {}),
        )


@dataclass
class PreparedImage:
    ref: str
    manifest_digest: str
    config_digest: str
    chain_ids: list[str]  # base first
    lowerdirs: list[str]  # snapshot dirs, TOP FIRST (overlayfs lowerdir= order)
    config: ImageConfig

    @property
    def lowerdir_option(self) -> str:
        """The value of overlayfs' lowerdir= option."""
        return ":".join(self.lowerdirs)


def diff_ids_of(image: StoredImage) -> list[str]:
    rootfs = image.config.get("rootfs") or {}
    diff_ids = rootfs.get("diff_ids")
    if not isinstance(diff_ids, list) or len(diff_ids) != len(image.layers):
        have = len(diff_ids) if isinstance(diff_ids, list) else "no"
        raise ImageConfigError(
            f"image {image.ref}: config {image.config_digest} has {have} rootfs.diff_ids for "
            f"{len(image.layers)} layers"
        )
    return [str(d) for d in diff_ids]


class _Unpacker:
    """Applies the layers of one image into temp snapshots, possibly before the image's
    config is known, then verifies and commits them base first."""

    def __init__(self, service: ImageService, hints: dict[tuple[int, str], str]):
        self.svc = service
        self.hints = hints  # (layer index, blob digest) -> chain ID of an existing snapshot
        self.jobs: dict[int, Future] = {}
        self.lock = threading.Lock()

    def on_layer(self, index: int, descriptor: dict, blob_path: str) -> None:
        hinted = self.hints.get((index, descriptor.get("digest", "")))
        if hinted and self.svc.snapshots.exists(hinted):
            return
        self.submit(index, descriptor, blob_path)

    def submit(self, index: int, descriptor: dict, blob_path: str) -> None:
        with self.lock:
            if index not in self.jobs:
                self.jobs[index] = self.svc._pool.submit(self._apply, index, descriptor, blob_path)

    def _apply(self, index: int, descriptor: dict, blob_path: str) -> tuple[str, LayerResult]:
        temp = self.svc.snapshots.new_temp()
        try:
            result = apply_layer(
                blob_path,
                temp,
                media_type=descriptor.get("mediaType"),
                mode=OVERLAY,
                what=descriptor.get("digest", blob_path),
            )
        except BaseException:
            self.svc.snapshots.discard(temp)
            raise
        return temp, result

    def finish(self, image: StoredImage) -> PreparedImage:
        """Wait for the layers, check them against the config, commit them base first."""
        snaps = self.svc.snapshots
        try:
            diff_ids = diff_ids_of(image)
            chains = chain_ids(diff_ids)
            for index, descriptor in enumerate(image.layers):
                if snaps.exists(chains[index]):
                    continue
                self.submit(index, descriptor, self.svc.store.blob_path(descriptor["digest"]))
            for index, chain_id in enumerate(chains):
                job = self.jobs.pop(index, None)
                if job is None:
                    continue  # snapshot existed
                temp, result = job.result()
                if snaps.exists(chain_id):
                    snaps.discard(temp)
                    continue
                try:
                    what = f"{image.layers[index]['digest']} of {image.ref}"
                    if result.diff_id != diff_ids[index]:
                        raise DiffIDMismatch(
                            f"layer {what}: uncompressed digest {result.diff_id} does not match "
                            f"the config's rootfs.diff_ids[{index}] {diff_ids[index]}"
                        )
                    lowers = [snaps.path(c) for c in reversed(chains[:index])]
                    settle_on_lowers(temp, result, lowers, what)
                    snaps.commit(temp, chain_id)
                except BaseException:
                    snaps.discard(temp)
                    raise
        finally:
            self.abandon()
        return PreparedImage(
            ref=str(image.ref),
            manifest_digest=image.manifest_digest,
            config_digest=image.config_digest,
            chain_ids=chains,
            lowerdirs=[snaps.path(c) for c in reversed(chains)],
            config=ImageConfig.from_config(image.config),
        )

    def abandon(self) -> None:
        """Throw away layers applied but not committed (after an error)."""
        with self.lock:
            jobs, self.jobs = self.jobs, {}
        for job in jobs.values():
            job.cancel()
        for job in jobs.values():
            if job.cancelled():
                continue
            try:
                temp, _ = job.result()
            except BaseException:
                continue
            self.svc.snapshots.discard(temp)


class ImageService:
    """Images under a state root: `<root>/images` (content store), `<root>/snapshots`."""

    def __init__(
        self,
        root: str,
        *,
        insecure_registries: Iterable[str] = (),
        registry_config: str | None = None,
        workers: int = DEFAULT_UNPACK_WORKERS,
    ):
        self.root = os.path.abspath(root)
        self.store = ContentStore(os.path.join(self.root, "images"))
        self.snapshots = SnapshotStore(os.path.join(self.root, "snapshots"))
        self.insecure_registries = tuple(insecure_registries)
        self.registry_config = registry_config
        self._pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="unpack")

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    def __enter__(self) -> ImageService:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _hints(self) -> dict[tuple[int, str], str]:
        """(layer index, blob digest) -> chain ID, from stored images whose snapshots exist:
        lets a pull skip layers it already has before it knows the new image's config."""
        hints: dict[tuple[int, str], str] = {}
        for image in self.store.list_images():
            try:
                chains = chain_ids(diff_ids_of(image))
            except ImageConfigError:
                continue
            for index, layer in enumerate(image.layers):
                hints[(index, layer.get("digest", ""))] = chains[index]
        return hints

    def prepare(self, ref: str) -> PreparedImage:
        """The stored image `ref` with every layer applied (ImageNotFound if not stored)."""
        image = self.store.image(ref)
        with self.snapshots.writing():
            return _Unpacker(self, {}).finish(image)

    def pull_and_unpack(
        self,
        ref: str,
        *,
        platform: str | None = None,
        progress: Callable | None = None,
    ) -> PreparedImage:
        """Pull `ref` (a tag is always asked of the registry) and apply its layers,
        each as soon as its blob is stored."""
        with self.snapshots.writing():
            unpacker = _Unpacker(self, self._hints())
            try:
                image = pull(
                    ref,
                    self.store,
                    platform=platform,
                    insecure_registries=self.insecure_registries,
                    registry_config=self.registry_config,
                    progress=progress,
                    on_layer=unpacker.on_layer,
                )
            except BaseException:
                unpacker.abandon()
                raise
            return unpacker.finish(image)

    def unpack_flat(self, ref: str, dest: str) -> StoredImage:
        """Apply every layer of the stored image `ref` into `dest`, one on top of the other,
        whiteouts deleting: a plain root filesystem (what `umoci unpack` makes)."""
        image = self.store.image(ref)
        diff_ids = diff_ids_of(image)
        for index, layer in enumerate(image.layers):
            apply_layer(
                self.store.blob_path(layer["digest"]),
                dest,
                media_type=layer.get("mediaType"),
                mode=FLAT,
                expected_diff_id=diff_ids[index],
                what=f"{layer['digest']} of {image.ref}",
            )
        return image

    def used_chain_ids(self) -> set[str]:
        used: set[str] = set()
        for image in self.store.list_images():
            try:
                used.update(chain_ids(diff_ids_of(image)))
            except ImageConfigError:
                continue
        return used

    def gc_snapshots(self, keep: Iterable[str] = ()) -> list[str]:
        """Remove snapshots no stored image uses (and none in `keep`, e.g. those running
        containers use); returns the chain IDs removed."""
        return self.snapshots.gc(self.used_chain_ids() | set(keep))


__all__ = [
    "ImageConfig",
    "ImageConfigError",
    "ImageService",
    "LayerError",
    "PreparedImage",
]

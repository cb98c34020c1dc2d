"""The local content store: an OCI image layout that skopeo and umoci can read.

    <images>/oci-layout             {"imageLayoutVersion": "1.0.0"}
    <images>/index.json             one descriptor per image reference, named by the
                                    org.opencontainers.image.ref.name annotation holding the
                                    full normalised reference (docker.io/library/busybox:latest)
    <images>/blobs/sha256/<hex>     manifests, configs, layers (and indexes), by digest

A blob enters ``blobs/`` only by rename after its digest and size were verified, so a blob that
is there is whole.  ``index.json`` is rewritten atomically under an exclusive flock.  Pulls hold
a shared flock for their whole run and ``gc`` an exclusive one, so gc never deletes a blob a
running pull has just written but not yet referenced.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from oci.errors import DigestMismatch, ImageNotFound, OCIError, StoreError
from oci.fsutil import TEMP_PREFIX, atomic_open, atomic_write_json
from oci.mediatypes import INDEX_TYPES, MANIFEST_TYPES, OCI_INDEX
from oci.platform import Platform, select_manifest
from oci.reference import Reference, validate_digest

REF_NAME = "org.opencontainers.image.ref.name"
# containerd's name for the same thing; set too, so its tools find our images.
CONTAINERD_NAME = "io.containerd.image.name"
# The digest the registry knows the image by: the index digest for a multi-platform image.
REPO_DIGEST = "io.minikube-py.image.repo-digest"

_LAYOUT = {"imageLayoutVersion": "1.0.0"}
_EMPTY_INDEX = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}


@dataclass
class StoredImage:
    """An image in the store: its reference, manifest, config and layers (base first)."""

    ref: Reference
    manifest_digest: str
    manifest: dict
    config_digest: str
    config: dict
    layers: list[dict]
    repo_digest: str
    descriptor: dict = field(repr=False)

    @property
    def size(self) -> int:
        """Bytes the image's blobs take in the store (manifest, config, compressed layers)."""
        return (
            int(self.descriptor.get("size", 0))
            + int(self.manifest["config"].get("size", 0))
            + sum(int(layer.get("size", 0)) for layer in self.layers)
        )

    @property
    def platform(self) -> str:
        parts = [self.config.get("os", ""), self.config.get("architecture", "")]
        if self.config.get("variant"):
            parts.append(self.config["variant"])
        return "/".join(parts)


class ContentStore:
    """An OCI image layout at ``images_dir`` (``<state-root>/images``)."""

    def __init__(self, images_dir: str):
        self.root = os.path.abspath(images_dir)
        self.index_path = os.path.join(self.root, "index.json")

    # -- blobs -------------------------------------------------------------------------------

    def blob_path(self, digest: str) -> str:
        validate_digest(digest)
        algorithm, _, hexpart = digest.partition(":")
        return os.path.join(self.root, "blobs", algorithm, hexpart)

    def has_blob(self, digest: str) -> bool:
        return os.path.exists(self.blob_path(digest))

    def read_blob(self, digest: str) -> bytes:
        try:
            with open(self.blob_path(digest), "rb") as f:
                return f.read()
        except FileNotFoundError:
            raise StoreError(f"blob {digest} is missing from the image store {self.root}") from None

    def read_json(self, digest: str) -> dict:
        data = self.read_blob(digest)
        try:
            document = json.loads(data)
        except ValueError as e:
            raise StoreError(f"blob {digest} in {self.root} is not valid JSON: {e}") from None
        if not isinstance(document, dict):
            raise StoreError(f"blob {digest} in {self.root} is not a JSON object")
        return document

    @contextlib.contextmanager
    def blob_writer(self, digest: str) -> Iterator[BinaryIO]:
        """A file that becomes blob ``digest`` if the block ends without raising.

        The caller verifies digest and size inside the block and raises to discard.
        """
        path = self.blob_path(digest)
        self.ensure()
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with atomic_open(path) as f:
            yield f

    def put_blob(self, data: bytes, digest: str | None = None) -> str:
        """Store ``data``; if ``digest`` is given, refuse data that does not hash to it."""
        actual = "sha256:" + hashlib.sha256(data).hexdigest()
        if digest is not None and digest != actual:
            algorithm = digest.partition(":")[0]
            if algorithm != "sha256":
                actual = f"{algorithm}:" + hashlib.new(algorithm, data).hexdigest()
            if digest != actual:
                raise DigestMismatch(f"digest mismatch for blob {digest}: content is {actual}")
        if not self.has_blob(actual if digest is None else digest):
            with self.blob_writer(digest or actual) as f:
                f.write(data)
        return digest or actual

    # -- layout and locks --------------------------------------------------------------------

    def ensure(self) -> None:
        """Create the layout (oci-layout, empty index.json, blobs/sha256) if it is not there."""
        if os.path.exists(self.index_path):
            return
        os.makedirs(os.path.join(self.root, "blobs", "sha256"), exist_ok=True)
        with self._lock(".index.lock", fcntl.LOCK_EX):
            layout = os.path.join(self.root, "oci-layout")
            if not os.path.exists(layout):
                atomic_write_json(layout, _LAYOUT)
            if not os.path.exists(self.index_path):
                atomic_write_json(self.index_path, _EMPTY_INDEX)

    @contextlib.contextmanager
    def _lock(self, name: str, how: int) -> Iterator[None]:
        os.makedirs(self.root, exist_ok=True)
        fd = os.open(os.path.join(self.root, name), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, how)
            yield
        finally:
            os.close(fd)

    @contextlib.contextmanager
    def pulling(self) -> Iterator[None]:
        """Held by a pull while it writes blobs it has not yet referenced: keeps gc away."""
        self.ensure()
        with self._lock(".gc.lock", fcntl.LOCK_SH):
            yield

    # -- index.json --------------------------------------------------------------------------

    def _read_index(self) -> dict:
        try:
            with open(self.index_path, "rb") as f:
                index = json.load(f)
        except FileNotFoundError:
            return json.loads(json.dumps(_EMPTY_INDEX))
        except ValueError as e:
            raise StoreError(f"{self.index_path} is not valid JSON: {e}") from None
        if not isinstance(index, dict) or not isinstance(index.get("manifests", []), list):
            raise StoreError(f"{self.index_path} is not an OCI image index")
        index.setdefault("manifests", [])
        return index

    def _entries(self) -> list[dict]:
        return [m for m in self._read_index()["manifests"] if isinstance(m, dict)]

    def tag(self, ref: Reference, descriptor: dict, repo_digest: str | None = None) -> None:
        """Point ``ref`` at ``descriptor`` (replacing what it pointed at)."""
        name = str(ref)
        entry = dict(descriptor)
        annotations = dict(entry.get("annotations") or {})
        annotations[REF_NAME] = name
        annotations[CONTAINERD_NAME] = name
        annotations[REPO_DIGEST] = repo_digest or descriptor["digest"]
        entry["annotations"] = annotations
        self.ensure()
        with self._lock(".index.lock", fcntl.LOCK_EX):
            index = self._read_index()
            kept = [m for m in index["manifests"] if _ref_name(m) != name]
            if len(kept) == len(index["manifests"]) - 1 and entry in index["manifests"]:
                return  # already so: a warm re-pull writes nothing
            index["manifests"] = [*kept, entry]
            atomic_write_json(self.index_path, index)

    def remove(self, ref: Reference | str) -> list[str]:
        """Untag ``ref``; returns the names removed.  Blobs stay until ``gc``."""
        ref = _as_ref(ref)
        with self._lock(".index.lock", fcntl.LOCK_EX):
            index = self._read_index()
            target = self._find(index["manifests"], ref)
            if target is None:
                raise ImageNotFound(f"image not found: {ref}")
            name = _ref_name(target)
            index["manifests"] = [m for m in index["manifests"] if _ref_name(m) != name]
            atomic_write_json(self.index_path, index)
        return [name] if name else []

    # -- lookups -----------------------------------------------------------------------------

    def resolve(self, ref: Reference | str) -> dict | None:
        """The index.json descriptor ``ref`` names, or None."""
        return self._find(self._entries(), _as_ref(ref))

    @staticmethod
    def _find(entries: list[dict], ref: Reference) -> dict | None:
        name = str(ref)
        for entry in entries:
            if _ref_name(entry) == name:
                return entry
        if ref.digest:
            # repo@digest also finds an image of that repository pulled by tag.
            for entry in entries:
                entry_ref = _parse_name(_ref_name(entry))
                if entry_ref is None or entry_ref.name != ref.name:
                    continue
                annotations = entry.get("annotations") or {}
                if ref.digest in (entry.get("digest"), annotations.get(REPO_DIGEST)):
                    return entry
        return None

    def image(self, ref: Reference | str) -> StoredImage:
        ref = _as_ref(ref)
        descriptor = self.resolve(ref)
        if descriptor is None:
            raise ImageNotFound(f"image not found: {ref}")
        return self._load(_parse_name(_ref_name(descriptor)) or ref, descriptor)

    def list_images(self) -> list[StoredImage]:
        images = []
        for entry in self._entries():
            ref = _parse_name(_ref_name(entry))
            if ref is None:
                continue  # a name some other tool gave; not a full reference
            with contextlib.suppress(StoreError):
                images.append(self._load(ref, entry))
        return images

    def _load(self, ref: Reference, descriptor: dict) -> StoredImage:
        manifest_descriptor = descriptor
        manifest = self.read_json(descriptor["digest"])
        if descriptor.get("mediaType") in INDEX_TYPES or "manifests" in manifest:
            # Someone (skopeo copy --all) stored a whole index under this name.
            manifest_descriptor = select_manifest(
                [m for m in manifest.get("manifests", []) if self.has_blob(m.get("digest", ""))],
                Platform.host(),
                MANIFEST_TYPES,
                str(ref),
            )
            manifest = self.read_json(manifest_descriptor["digest"])
        config_descriptor = manifest.get("config")
        if not isinstance(config_descriptor, dict) or "digest" not in config_descriptor:
            raise StoreError(f"manifest {manifest_descriptor['digest']} of {ref} has no config")
        annotations = descriptor.get("annotations") or {}
        return StoredImage(
            ref=ref,
            manifest_digest=manifest_descriptor["digest"],
            manifest=manifest,
            config_digest=config_descriptor["digest"],
            config=self.read_json(config_descriptor["digest"]),
            layers=list(manifest.get("layers") or []),
            repo_digest=annotations.get(REPO_DIGEST, descriptor["digest"]),
            descriptor=manifest_descriptor,
        )

    # -- garbage collection ------------------------------------------------------------------

    def gc(self) -> list[str]:
        """Delete every blob no image in index.json reaches; returns their digests."""
        if not os.path.isdir(self.root):
            return []
        removed: list[str] = []
        with self._lock(".gc.lock", fcntl.LOCK_EX), self._lock(".index.lock", fcntl.LOCK_EX):
            reachable = self._reachable()
            blobs_dir = os.path.join(self.root, "blobs")
            for algorithm in _listdir(blobs_dir):
                directory = os.path.join(blobs_dir, algorithm)
                for name in _listdir(directory):
                    if name.startswith(TEMP_PREFIX):
                        # No pull runs (we hold the gc lock): a crashed pull's leftovers.
                        _unlink(os.path.join(directory, name))
                        continue
                    digest = f"{algorithm}:{name}"
                    if digest not in reachable:
                        _unlink(os.path.join(directory, name))
                        removed.append(digest)
        return removed

    def _reachable(self) -> set[str]:
        reachable: set[str] = set()
        # (digest, is it a manifest or index whose children we must follow)
        pending: list[tuple[object, bool]] = []
        for entry in self._entries():
            pending.append((entry.get("digest"), True))
            pending.append(((entry.get("annotations") or {}).get(REPO_DIGEST), True))
        while pending:
            digest, follow = pending.pop()
            if not isinstance(digest, str) or digest in reachable:
                continue
            reachable.add(digest)
            if not follow:
                continue
            try:
                document = self.read_json(digest)
            except (StoreError, OCIError):
                continue
            for child in document.get("manifests") or []:
                if isinstance(child, dict):
                    pending.append((child.get("digest"), True))
            leaves = [document.get("config"), *(document.get("layers") or [])]
            pending.extend((c.get("digest"), False) for c in leaves if isinstance(c, dict))
        return reachable


def _ref_name(entry: dict) -> str | None:
    return (entry.get("annotations") or {}).get(REF_NAME)


def _parse_name(name: str | None) -> Reference | None:
    """A Reference for a full normalised name; None for short names like umoci's ``latest``."""
    if not name:
        return None
    try:
        ref = Reference.parse(name)
    except Exception:
        return None
    return ref if str(ref) == name else None


def _as_ref(ref: Reference | str) -> Reference:
    return ref if isinstance(ref, Reference) else Reference.parse(ref)


def _listdir(path: str) -> list[str]:
    try:
        return sorted(os.listdir(path))
    except FileNotFoundError:
        return []
    except NotADirectoryError:
        return []


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError as e:
        if e.errno != errno.ENOENT:
            raise StoreError(f"cannot remove {path}: {e.strerror}") from None

"""Pull an image from a registry into the content store.

    ping -> manifest (or index -> this platform's manifest) -> config + layers, concurrently
         -> manifest blobs -> index.json entry

Every blob is verified before it enters the store and a blob already there is never fetched
again; the index.json entry is written last, so a reference never names an incomplete image.
A tag is always resolved at the registry (it may have moved); a digest whose image is complete
in the store needs no registry at all.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass

import requests

from oci.auth import DockerConfig
from oci.errors import (
    DigestMismatch,
    InvalidReference,
    ManifestError,
    StoreError,
    UnsupportedManifest,
)
from oci.mediatypes import (
    DOCKER_MANIFEST,
    INDEX_TYPES,
    MANIFEST_TYPES,
    OCI_INDEX,
    OCI_MANIFEST,
    SCHEMA1_TYPES,
    docker_to_oci,
)
from oci.platform import Platform, select_manifest
from oci.reference import Reference, validate_digest
from oci.registry import Manifest, RegistryClient, RetryPolicy
from oci.store import ContentStore, StoredImage

# Layers fetched at once; a small pool keeps a 2-core machine and the registry comfortable.
DEFAULT_WORKERS = 3
_GENERIC_TYPES = ("", "application/json", "text/plain", "application/octet-stream")

OnLayer = Callable[[int, dict, str], None]


@dataclass(frozen=True)
class PullEvent:
    """What the progress callback hears.

    kind: "exists" (blob already stored), "start", "bytes" (``done`` so far), "done".
    index: the layer's position (base first), or -1 for the config.
    """

    kind: str
    index: int
    digest: str
    size: int
    done: int = 0
    elapsed: float = 0.0


Progress = Callable[[PullEvent], None]


def pull(
    ref: Reference | str,
    store: ContentStore,
    *,
    platform: Platform | str | None = None,
    insecure_registries: Iterable[str] = (),
    registry_config: str | None = None,
    progress: Progress | None = None,
    on_layer: OnLayer | None = None,
    retry: RetryPolicy | None = None,
    workers: int = DEFAULT_WORKERS,
    session: requests.Session | None = None,
) -> StoredImage:
    """Pull ``ref`` into ``store`` and return it as stored.

    ``on_layer(index, descriptor, blob_path)`` runs (maybe on a worker thread) as soon as a
    layer's blob is verified and stored, and at once for layers already present.
    """
    ref = ref if isinstance(ref, Reference) else Reference.parse(ref)
    want = Platform.parse(platform) if isinstance(platform, str) else platform or Platform.host()

    with store.pulling():
        if ref.digest and _pull_from_store(ref, store, want, progress, on_layer):
            return store.image(ref)
        client = RegistryClient(
            ref.domain,
            insecure_registries=insecure_registries,
            credentials=DockerConfig.load(registry_config).lookup(ref.domain),
            session=session,
            retry=retry,
        )
        client.ping()
        top = client.get_manifest(ref.path, ref.reference, str(ref))
        top_type, top_doc = _check_manifest(top, ref, client.domain, ref.digest)
        manifest_blobs = {top.digest: top.body}
        if top_type in INDEX_TYPES:
            manifest, descriptor = _manifest_from_index(
                client, store, ref, top_doc, want, manifest_blobs
            )
        else:
            manifest = top_doc
            descriptor = {"mediaType": top_type, "digest": top.digest, "size": len(top.body)}
        manifest, descriptor = _oci_form(manifest, descriptor, manifest_blobs)
        _fetch_blobs(client, store, ref, manifest, progress, on_layer, workers)
        for digest, body in manifest_blobs.items():
            store.put_blob(body, digest)
        store.tag(ref, descriptor, repo_digest=top.digest)
    return store.image(ref)


def _manifest_from_index(
    client: RegistryClient,
    store: ContentStore,
    ref: Reference,
    index: dict,
    want: Platform,
    manifest_blobs: dict[str, bytes],
) -> tuple[dict, dict]:
    """This platform's manifest from an index: from the store if there, else the registry."""
    chosen = select_manifest(index.get("manifests") or [], want, MANIFEST_TYPES, str(ref))
    digest = _descriptor_digest(chosen, ref)
    if store.has_blob(digest):
        body = store.read_blob(digest)
    else:
        child = client.get_manifest(ref.path, digest, str(ref))
        _check_manifest(child, ref, client.domain, digest)
        body = child.body
        if "size" in chosen and len(body) != chosen["size"]:
            raise DigestMismatch(
                f"size mismatch for manifest {digest} of {ref}: the index says "
                f"{chosen['size']} bytes, registry {client.domain} sent {len(body)}"
            )
        manifest_blobs[digest] = body
    descriptor = {
        "mediaType": chosen["mediaType"],
        "digest": digest,
        "size": len(body),
        "platform": chosen["platform"],
    }
    return _parse_manifest(body, ref, digest), descriptor


def _pull_from_store(
    ref: Reference,
    store: ContentStore,
    want: Platform,
    progress: Progress | None,
    on_layer: OnLayer | None,
) -> bool:
    """Tag ``ref`` (which has a digest) from the store alone, if all its blobs are there."""
    assert ref.digest
    if not store.has_blob(ref.digest):
        return False
    try:
        document = store.read_json(ref.digest)
    except StoreError:
        return False  # not a manifest: let the registry say what it is
    if "manifests" in document:
        chosen = select_manifest(document["manifests"], want, MANIFEST_TYPES, str(ref))
        if not store.has_blob(chosen["digest"]):
            return False
        descriptor = {
            k: chosen[k] for k in ("mediaType", "digest", "size", "platform") if k in chosen
        }
        manifest = store.read_json(chosen["digest"])
    else:
        manifest = document
        descriptor = {
            "mediaType": document.get("mediaType") or OCI_MANIFEST,
            "digest": ref.digest,
            "size": len(store.read_blob(ref.digest)),
        }
    converted: dict[str, bytes] = {}
    manifest, descriptor = _oci_form(manifest, descriptor, converted)
    needed = [manifest.get("config") or {}, *(manifest.get("layers") or [])]
    if not all(store.has_blob(d.get("digest", "")) for d in needed if isinstance(d, dict)):
        return False
    for digest, body in converted.items():
        store.put_blob(body, digest)
    for index, layer in enumerate([manifest["config"], *manifest["layers"]], start=-1):
        if progress:
            progress(PullEvent("exists", index, layer["digest"], layer.get("size", 0)))
        if on_layer and index >= 0:
            on_layer(index, layer, store.blob_path(layer["digest"]))
    store.tag(ref, descriptor, repo_digest=ref.digest)
    return True


def _oci_form(manifest: dict, descriptor: dict, blobs: dict[str, bytes]) -> tuple[dict, dict]:
    """A Docker schema 2 manifest becomes its OCI twin (added to ``blobs``); OCI stays as is."""
    if descriptor["mediaType"] != DOCKER_MANIFEST:
        return manifest, descriptor
    converted = docker_to_oci(manifest)
    body = json.dumps(converted, separators=(",", ":")).encode()
    digest = "sha256:" + hashlib.sha256(body).hexdigest()
    blobs[digest] = body
    oci_descriptor = dict(descriptor, mediaType=OCI_MANIFEST, digest=digest, size=len(body))
    return converted, oci_descriptor


def _check_manifest(
    manifest: Manifest, ref: Reference, domain: str, expected: str | None
) -> tuple[str, dict]:
    """Verify a manifest's digest and media type; return (media type, parsed document)."""
    if expected:
        algorithm = expected.partition(":")[0]
        actual = algorithm + ":" + hashlib.new(algorithm, manifest.body).hexdigest()
        if actual != expected:
            raise DigestMismatch(
                f"digest mismatch for manifest {expected} of {ref}: registry {domain} sent "
                f"content hashing to {actual}"
            )
    elif (manifest.header_digest or "sha256:").startswith(
        "sha256:"
    ) and manifest.header_digest not in (None, manifest.digest):
        raise DigestMismatch(
            f"digest mismatch for manifest of {ref}: registry {domain} says "
            f"{manifest.header_digest} but the content hashes to {manifest.digest}"
        )
    if manifest.media_type in SCHEMA1_TYPES:
        raise _schema1(ref)
    try:
        document = json.loads(manifest.body)
    except ValueError:
        raise ManifestError(f"manifest of {ref} from registry {domain} is not valid JSON") from None
    if not isinstance(document, dict):
        raise ManifestError(f"manifest of {ref} from registry {domain} is not a JSON object")
    if document.get("schemaVersion") == 1 or document.get("mediaType") in SCHEMA1_TYPES:
        raise _schema1(ref)
    declared = document.get("mediaType")
    sent = manifest.media_type
    if declared and sent not in _GENERIC_TYPES and declared != sent:
        raise ManifestError(
            f"manifest of {ref}: registry {domain} sent Content-Type {sent} but the "
            f"manifest's mediaType is {declared}"
        )
    media_type = declared or (sent if sent not in _GENERIC_TYPES else "")
    if not media_type:
        media_type = OCI_INDEX if "manifests" in document else OCI_MANIFEST
    if media_type not in INDEX_TYPES + MANIFEST_TYPES:
        raise UnsupportedManifest(f"manifest of {ref} has unsupported media type {media_type}")
    if media_type in MANIFEST_TYPES:
        _validate_manifest(document, ref)
    return media_type, document


def _schema1(ref: Reference) -> UnsupportedManifest:
    return UnsupportedManifest(
        f"{ref} has a Docker schema 1 manifest, which is not supported "
        "(push it again with a current docker, skopeo or buildah)"
    )


def _parse_manifest(body: bytes, ref: Reference, digest: str) -> dict:
    try:
        document = json.loads(body)
    except ValueError:
        raise ManifestError(f"manifest {digest} of {ref} is not valid JSON") from None
    _validate_manifest(document, ref)
    return document


def _validate_manifest(document: dict, ref: Reference) -> None:
    config = document.get("config")
    layers = document.get("layers")
    if not isinstance(config, dict) or not isinstance(layers, list):
        raise ManifestError(f"manifest of {ref} lacks a config descriptor or a layers list")
    for descriptor in [config, *layers]:
        if not isinstance(descriptor, dict) or not isinstance(descriptor.get("size"), int):
            raise ManifestError(f"manifest of {ref} has a descriptor without an integer size")
        _descriptor_digest(descriptor, ref)


def _descriptor_digest(descriptor: dict, ref: Reference) -> str:
    digest = descriptor.get("digest")
    try:
        return validate_digest(str(digest))
    except InvalidReference as e:
        raise ManifestError(f"manifest of {ref} has a bad descriptor: {e}") from None


def _fetch_blobs(
    client: RegistryClient,
    store: ContentStore,
    ref: Reference,
    manifest: dict,
    progress: Progress | None,
    on_layer: OnLayer | None,
    workers: int,
) -> None:
    """Fetch config and layers not yet stored, concurrently; report each layer when stored."""
    blobs = [manifest["config"], *manifest["layers"]]  # position 0 is the config (index -1)
    positions: dict[str, list[int]] = {}
    for position, descriptor in enumerate(blobs):
        positions.setdefault(descriptor["digest"], []).append(position - 1)
    cancelled = threading.Event()

    def stored(digest: str) -> None:
        if on_layer is None:
            return
        for index in positions[digest]:
            if index >= 0:
                on_layer(index, blobs[index + 1], store.blob_path(digest))

    def download(descriptor: dict, index: int) -> None:
        digest, size = descriptor["digest"], descriptor["size"]
        started = time.monotonic()
        done = 0
        if progress:
            progress(PullEvent("start", index, digest, size))

        def advance(n: int) -> None:
            nonlocal done
            done += n
            if progress:
                progress(PullEvent("bytes", index, digest, size, done, time.monotonic() - started))

        with store.blob_writer(digest) as out:
            client.fetch_blob(
                ref.path, digest, size, out, str(ref), progress=advance, cancelled=cancelled
            )
        if progress:
            progress(PullEvent("done", index, digest, size, size, time.monotonic() - started))
        stored(digest)

    missing = [d for d in positions if not store.has_blob(d)]
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="pull") as pool:
        futures: list[Future] = [
            pool.submit(download, blobs[positions[d][0] + 1], positions[d][0]) for d in missing
        ]
        try:
            for digest, indexes in positions.items():
                if digest in missing:
                    continue
                if progress:
                    for index in indexes:
                        descriptor = blobs[index + 1]
                        size = descriptor["size"]
                        progress(PullEvent("exists", index, digest, size, size))
                stored(digest)
            done, _ = wait(futures, return_when=FIRST_EXCEPTION)
            for future in done:
                future.result()
        except BaseException:
            cancelled.set()
            for future in futures:
                future.cancel()
            raise

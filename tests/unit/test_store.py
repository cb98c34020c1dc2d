"""The content store on its own: verified blobs, names in index.json, remove and gc."""

from __future__ import annotations

import hashlib
import json
import os

import pytest

from oci.errors import DigestMismatch, ImageNotFound
from oci.fsutil import atomic_open
from oci.reference import Reference
from oci.store import REF_NAME, ContentStore

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def add_image(store: ContentStore, name: str, layers: list[bytes]) -> dict:
    """Put a config, layers and manifest in the store and tag them as ``name``."""
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {}}).encode()
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "x", "digest": store.put_blob(config), "size": len(config)},
        "layers": [
            {"mediaType": "y", "digest": store.put_blob(layer), "size": len(layer)}
            for layer in layers
        ],
    }
    body = json.dumps(manifest).encode()
    descriptor = {"mediaType": OCI_MANIFEST, "digest": store.put_blob(body), "size": len(body)}
    store.tag(Reference.parse(name), descriptor)
    return descriptor


@pytest.fixture
def store(tmp_path):
    return ContentStore(str(tmp_path / "images"))


def test_layout_files_are_created_on_first_write(store):
    assert store.list_images() == [], "a store that does not exist yet is empty"
    store.put_blob(b"hello")
    with open(os.path.join(store.root, "oci-layout")) as f:
        assert json.load(f) == {"imageLayoutVersion": "1.0.0"}
    with open(os.path.join(store.root, "index.json")) as f:
        assert json.load(f)["manifests"] == []


def test_blob_with_wrong_digest_never_enters_the_store(store):
    wrong = "sha256:" + "1" * 64
    with pytest.raises(DigestMismatch, match=wrong):
        store.put_blob(b"content", wrong)
    assert not store.has_blob(wrong)
    assert not os.path.exists(store.root) or not os.listdir(
        os.path.join(store.root, "blobs", "sha256")
    )


def test_atomic_open_leaves_nothing_when_the_block_raises(tmp_path):
    target = tmp_path / "file"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_open(str(target)) as f:
        f.write(b"new, half written")
        raise RuntimeError("rejected")
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["file"]


def test_names_are_full_references_and_resolve_by_short_or_digest_form(store):
    descriptor = add_image(store, "busybox", [b"layer"])
    with open(store.index_path) as f:
        (entry,) = json.load(f)["manifests"]
    assert entry["annotations"][REF_NAME] == "docker.io/library/busybox:latest"
    assert store.resolve("busybox")["digest"] == descriptor["digest"]
    assert store.resolve("docker.io/library/busybox:latest") is not None
    assert store.resolve(f"busybox@{descriptor['digest']}") is not None
    assert store.resolve("busybox:other") is None
    image = store.image("busybox")
    assert image.layers[0]["digest"] == digest_of(b"layer")
    assert image.config["os"] == "linux"
    with pytest.raises(ImageNotFound, match=r"image not found: docker\.io/library/nope:latest"):
        store.image("nope")


def test_retagging_replaces_and_a_warm_tag_rewrites_nothing(store):
    add_image(store, "app:1", [b"a"])
    second = add_image(store, "app:1", [b"b"])
    assert [i.manifest_digest for i in store.list_images()] == [second["digest"]]
    before = os.stat(store.index_path).st_mtime_ns
    store.tag(Reference.parse("app:1"), second)
    assert os.stat(store.index_path).st_mtime_ns == before


def test_gc_removes_only_blobs_no_image_reaches(store):
    add_image(store, "one", [b"shared", b"only-one"])
    add_image(store, "two", [b"shared"])
    store.put_blob(b"stray")
    store.remove("one")
    removed = set(store.gc())
    assert digest_of(b"only-one") in removed and digest_of(b"stray") in removed
    assert store.has_blob(digest_of(b"shared"))
    assert [str(i.ref) for i in store.list_images()] == ["docker.io/library/two:latest"]
    with pytest.raises(ImageNotFound):
        store.remove("one")


def test_entries_other_tools_named_are_kept_and_not_listed(store):
    descriptor = add_image(store, "app", [b"x"])
    with open(store.index_path) as f:
        index = json.load(f)
    index["manifests"].append(dict(descriptor, annotations={REF_NAME: "latest"}))
    with open(store.index_path, "w") as f:
        json.dump(index, f)
    store.remove("app")
    assert store.gc() == [], "umoci's 'latest' still reaches the blobs"
    assert store.list_images() == []

"""Pulling the fixture images from the real registry into the OCI-layout content store."""

from __future__ import annotations

import json
import os
import subprocess
import time

import pytest

from oci.errors import ImageNotFound
from oci.platform import Platform
from oci.pull import pull
from oci.reference import Reference
from oci.store import ContentStore

FIXTURES = ("busybox", "multilayer", "multiarch", "gzip", "zstd", "uncompressed", "config")


@pytest.fixture
def store(tmp_path):
    return ContentStore(str(tmp_path / "images"))


def blob_gets(registry) -> int:
    """Blob GETs the registry has served so far (from its access log)."""
    return sum(
        1 for line in registry.log_text().splitlines() if '"GET /v2/' in line and "/blobs/" in line
    )


def skopeo_inspect(store: ContentStore, ref: str) -> dict:
    out = subprocess.run(
        ["skopeo", "inspect", f"oci:{store.root}:{ref}"], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@pytest.mark.parametrize("name", FIXTURES)
def test_pull_by_tag_stores_every_blob_verified_and_skopeo_reads_it(images, store, name):
    image = images[name]
    stored = pull(image.ref, store)

    assert str(stored.ref) == image.ref
    assert stored.repo_digest == image.digest
    assert stored.layers, "an image has at least one layer"
    for blob in [stored.manifest_digest, stored.config_digest, *(d["digest"] for d in stored.layers)]:
        assert store.has_blob(blob)
    inspected = skopeo_inspect(store, image.ref)
    assert inspected["Digest"] == stored.manifest_digest
    assert inspected["Layers"] == [d["digest"] for d in stored.layers]
    with open(os.path.join(store.root, "oci-layout")) as f:
        assert json.load(f) == {"imageLayoutVersion": "1.0.0"}

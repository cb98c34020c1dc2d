"""Pulling the fixture images from the real registry into the OCI-layout content store."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import subprocess
import threading
import time
import uuid

import pytest
import requests

from oci.errors import ImageNotFound, NoMatchingPlatform
from oci.pull import pull
from oci.store import ContentStore

FIXTURES = ("busybox", "multilayer", "multiarch", "gzip", "zstd", "uncompressed", "config")


@pytest.fixture
def store(tmp_path):
    return ContentStore(str(tmp_path / "images"))


def registry_requests(registry, *, kind: str = "", repo: str = "") -> list[str]:
    """The registry's access-log lines for GETs from us, once the log has caught up.

    A request with a unique User-Agent is sent last and waited for, so every earlier
    request is in the log when we count.
    """
    marker = f"sentinel-{uuid.uuid4()}"
    requests.get(f"{registry.url}/v2/", headers={"User-Agent": marker}, timeout=5)
    deadline = time.monotonic() + 5
    while marker not in registry.log_text():
        assert time.monotonic() < deadline, "registry access log did not catch up"
        time.sleep(0.01)
    return [
        line
        for line in registry.log_text().splitlines()
        if '"GET /v2/' in line
        and line.endswith('"minikube-py"')
        and kind in line
        and f"/v2/{repo}/" in line
    ]


def skopeo_inspect(store: ContentStore, ref: str) -> dict:
    out = subprocess.run(
        ["skopeo", "inspect", f"oci:{store.root}:{ref}"], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def assert_store_consistent(store: ContentStore) -> None:
    """Every blob hashes to its name; no temp files; index.json parses."""
    blobs = os.path.join(store.root, "blobs", "sha256")
    for name in os.listdir(blobs):
        assert not name.startswith("."), f"leftover temp file {name}"
        with open(os.path.join(blobs, name), "rb") as f:
            assert hashlib.sha256(f.read()).hexdigest() == name
    with open(os.path.join(store.root, "index.json")) as f:
        json.load(f)


@pytest.mark.parametrize("name", FIXTURES)
def test_pull_by_tag_stores_verified_blobs_that_skopeo_reads(images, store, name):
    image = images[name]
    stored = pull(image.ref, store)

    assert str(stored.ref) == image.ref
    assert stored.repo_digest == image.digest
    assert stored.platform == "linux/amd64"
    assert stored.layers
    all_blobs = [
        stored.manifest_digest,
        stored.config_digest,
        *(d["digest"] for d in stored.layers),
    ]
    assert all(store.has_blob(d) for d in all_blobs)
    assert_store_consistent(store)
    inspected = skopeo_inspect(store, image.ref)
    assert inspected["Digest"] == stored.manifest_digest
    assert inspected["Layers"] == [d["digest"] for d in stored.layers]
    assert inspected["Architecture"] == "amd64"
    with open(os.path.join(store.root, "oci-layout")) as f:
        assert json.load(f) == {"imageLayoutVersion": "1.0.0"}


@pytest.mark.parametrize("name", FIXTURES)
def test_pull_by_digest(images, store, name):
    image = images[name]
    by_digest = f"{image.ref.rsplit(':', 1)[0]}@{image.digest}"
    stored = pull(by_digest, store)

    assert str(stored.ref) == by_digest
    assert stored.repo_digest == image.digest
    assert skopeo_inspect(store, by_digest)["Digest"] == stored.manifest_digest
    assert [i.ref for i in store.list_images()] == [stored.ref]


def test_layer_media_types_are_kept(images, store):
    types = {
        name: {d["mediaType"] for d in pull(images[name].ref, store).layers}
        for name in ("gzip", "zstd", "uncompressed")
    }
    assert types == {
        "gzip": {"application/vnd.oci.image.layer.v1.tar+gzip"},
        "zstd": {"application/vnd.oci.image.layer.v1.tar+zstd"},
        "uncompressed": {"application/vnd.oci.image.layer.v1.tar"},
    }


def test_image_config_is_read_from_the_store(images, store):
    stored = pull(images.config.ref, store)
    config = store.image(images.config.ref).config["config"]
    assert stored.config["config"] == config
    assert config["Entrypoint"] == ["/bin/sh", "-c"]
    assert config["Cmd"] == ["echo hello"]
    assert "FOO=bar" in config["Env"]
    assert config["WorkingDir"] == "/work"
    assert config["User"] == "1000:1000"


def test_umoci_unpacks_an_image_from_the_store(images, store, tmp_path):
    pull(images.busybox.ref, store)
    bundle = tmp_path / "bundle"
    out = subprocess.run(
        ["umoci", "unpack", "--image", f"{store.root}:{images.busybox.ref}", str(bundle)],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    assert os.path.isfile(bundle / "rootfs" / "bin" / "busybox")
    assert json.loads((bundle / "config.json").read_text())["process"]["args"] == ["sh"]


def test_index_picks_this_host_or_the_platform_asked_for(images, store):
    ref = images.multiarch.ref
    assert pull(ref, store).config["architecture"] == "amd64"
    arm = pull(ref, store, platform="linux/arm64")
    assert arm.config["architecture"] == "arm64"
    assert arm.repo_digest == images.multiarch.digest, "both come from the same index"
    assert skopeo_inspect(store, ref)["Architecture"] == "arm64"
    index = json.loads(store.read_blob(images.multiarch.digest))
    assert arm.manifest_digest in [m["digest"] for m in index["manifests"]]


def test_index_without_the_platform_lists_those_available(images, store):
    with pytest.raises(NoMatchingPlatform) as raised:
        pull(images.multiarch.ref, store, platform="linux/s390x")
    assert str(raised.value) == (
        f"no manifest for platform linux/s390x in {images.multiarch.ref}; "
        "available platforms: linux/amd64, linux/arm64"
    )
    assert store.list_images() == []


def test_warm_repull_by_tag_asks_for_the_manifest_but_fetches_no_blob(images, registry, store):
    image = images.multilayer
    first = pull(image.ref, store)
    blobs_before = len(registry_requests(registry, kind="/blobs/", repo=image.repo))
    manifests_before = len(registry_requests(registry, kind="/manifests/", repo=image.repo))
    assert blobs_before >= len(first.layers) + 1

    started = time.perf_counter()
    second = pull(image.ref, store)
    elapsed = time.perf_counter() - started

    assert second.manifest_digest == first.manifest_digest
    assert len(registry_requests(registry, kind="/blobs/", repo=image.repo)) == blobs_before
    assert len(registry_requests(registry, kind="/manifests/", repo=image.repo)) == (
        manifests_before + 1
    ), "a tag may have moved: it is resolved again"
    print(f"warm re-pull of {image.ref}: {elapsed * 1000:.1f} ms")


def test_warm_repull_by_digest_needs_no_registry(images, registry, store):
    image = images.multiarch
    by_digest = f"{image.ref.rsplit(':', 1)[0]}@{image.digest}"
    pull(by_digest, store)
    before = len(registry_requests(registry, repo=image.repo))
    pull(by_digest, store)
    assert len(registry_requests(registry, repo=image.repo)) == before


def test_blobs_shared_with_a_present_image_are_not_fetched(images, registry, store):
    pull(images.busybox.ref, store)
    base_layer = store.image(images.busybox.ref).layers[0]["digest"]
    repo = images.multilayer.repo
    before = registry_requests(registry, kind=f"/blobs/{base_layer}", repo=repo)
    pull(images.multilayer.ref, store)
    assert store.image(images.multilayer.ref).layers[0]["digest"] == base_layer
    after = registry_requests(registry, kind=f"/blobs/{base_layer}", repo=repo)
    assert after == before, "the busybox base layer was already in the store"


def test_on_layer_reports_each_layer_once_with_its_stored_path(images, store):
    seen: list[tuple[int, str, str, str]] = []
    lock = threading.Lock()

    def on_layer(index, descriptor, path):
        assert os.path.isfile(path), "reported only once it is in the store"
        with lock:
            seen.append((index, descriptor["digest"], path, threading.current_thread().name))

    stored = pull(images.multilayer.ref, store, on_layer=on_layer)
    assert sorted(s[:3] for s in seen) == [
        (i, d["digest"], store.blob_path(d["digest"])) for i, d in enumerate(stored.layers)
    ]
    assert all(s[3].startswith("pull") for s in seen), "fresh layers report from the workers"

    seen.clear()
    pull(images.multilayer.ref, store, on_layer=on_layer)
    assert sorted(s[0] for s in seen) == list(range(len(stored.layers)))
    assert all(s[3] == threading.current_thread().name for s in seen), "present: at once"


def _pull_in_process(ref: str, root: str) -> str:
    return pull(ref, ContentStore(root)).manifest_digest


def test_concurrent_pulls_of_the_same_image_do_not_corrupt_each_other(images, store):
    ref = images.gzip.ref
    results: list[str] = []
    errors: list[BaseException] = []

    def in_thread():
        try:
            results.append(pull(ref, ContentStore(store.root)).manifest_digest)
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=in_thread) for _ in range(3)]
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(2) as pool:
        async_results = [pool.apply_async(_pull_in_process, (ref, store.root)) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        results += [r.get(timeout=120) for r in async_results]

    assert not errors
    assert len(set(results)) == 1 and len(results) == 5
    assert_store_consistent(store)
    with open(store.index_path) as f:
        entries = json.load(f)["manifests"]
    names = [m["annotations"]["org.opencontainers.image.ref.name"] for m in entries]
    assert names == [ref]


def test_remove_and_gc_keep_blobs_another_image_uses(images, store):
    busybox = pull(images.busybox.ref, store)
    multilayer = pull(images.multilayer.ref, store)
    shared = busybox.layers[0]["digest"]
    assert multilayer.layers[0]["digest"] == shared

    store.remove(images.busybox.ref)
    removed = store.gc()
    assert set(removed) == {busybox.manifest_digest, busybox.config_digest}
    assert store.has_blob(shared)
    with pytest.raises(ImageNotFound, match=f"image not found: {images.busybox.ref}"):
        store.image(images.busybox.ref)

    store.remove(images.multilayer.ref)
    store.gc()
    assert os.listdir(os.path.join(store.root, "blobs", "sha256")) == []
    assert store.list_images() == []


def test_digest_reference_finds_an_image_pulled_by_tag(images, store):
    stored = pull(images.busybox.ref, store)
    by_digest = f"{images.busybox.ref.rsplit(':', 1)[0]}@{images.busybox.digest}"
    assert store.image(by_digest).manifest_digest == stored.manifest_digest


@pytest.mark.parametrize("name", ["busybox", "multiarch"])
def test_docker_format_images_are_stored_in_oci_form(images, registry, store, name):
    """Docker schema 2 manifests and manifest lists (pushed with skopeo --format v2s2) are
    stored as OCI manifests, so skopeo's oci: transport reads them too."""
    image = images[name]
    ref = f"{registry.host}/fixtures-docker/{name}:v2s2"
    source = image.layout_tag if name != "multiarch" else "multiarch"
    subprocess.run(
        [
            "skopeo",
            "copy",
            "-q",
            "--all",
            "--dest-tls-verify=false",
            "--format",
            "v2s2",
            f"oci:{image.layout}:{source}",
            f"docker://{ref}",
        ],
        check=True,
    )
    stored = pull(ref, store)
    raw = json.loads(store.read_blob(stored.repo_digest))
    docker_type = "application/vnd.docker.distribution.manifest"
    assert raw["mediaType"] == f"{docker_type}.{'list.v2' if name == 'multiarch' else 'v2'}+json"
    assert stored.manifest["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    assert {d["mediaType"] for d in stored.layers} == {
        "application/vnd.oci.image.layer.v1.tar+gzip"
    }
    assert skopeo_inspect(store, ref)["Layers"] == [d["digest"] for d in stored.layers]
    assert stored.platform == "linux/amd64"


def test_gc_running_during_a_pull_does_not_take_its_blobs(images, store):
    """A pull's blobs are unreferenced until its index.json entry is written: gc waits."""
    stop = threading.Event()
    collected: list[str] = []

    def collect():
        while not stop.is_set():
            collected.extend(ContentStore(store.root).gc())

    store.ensure()
    collector = threading.Thread(target=collect)
    collector.start()
    try:
        stored = pull(images.multilayer.ref, store)
    finally:
        stop.set()
        collector.join()
    for digest in [
        stored.manifest_digest,
        stored.config_digest,
        *(d["digest"] for d in stored.layers),
    ]:
        assert store.has_blob(digest)
        assert digest not in collected
    assert_store_consistent(store)

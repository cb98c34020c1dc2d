"""The registry client against a local server: redirects, retries, resumes, manifest checks."""

from __future__ import annotations

import hashlib
import io
import json
import os

import pytest

from oci.errors import (
    BlobDownloadError,
    DigestMismatch,
    ImageNotFound,
    ManifestError,
    RegistryUnreachable,
    UnsupportedManifest,
)
from oci.pull import pull
from oci.registry import RegistryClient, RetryPolicy, is_insecure
from oci.store import ContentStore
from tests.unit.fake_registry import FakeServer, Reply

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
BLOB = os.urandom(200_000)
BLOB_DIGEST = "sha256:" + hashlib.sha256(BLOB).hexdigest()
BLOB_SIZE = len(BLOB)


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.fixture
def serve():
    servers: list[FakeServer] = []

    def make(route) -> FakeServer:
        server = FakeServer(route)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.close()


def quick_client(server: FakeServer, sleeps: list[float] | None = None, attempts=4):
    return RegistryClient(
        server.host,
        retry=RetryPolicy(attempts=attempts, backoff=0.01),
        sleep=(sleeps.append if sleeps is not None else lambda s: None),
    )


def fetch(client: RegistryClient, digest=BLOB_DIGEST, size=BLOB_SIZE) -> bytes:
    out = io.BytesIO()
    client.fetch_blob("app", digest, size, out, "app:v1")
    return out.getvalue()


def test_loopback_and_named_insecure_registries_use_plain_http():
    assert is_insecure("127.0.0.1:5000") and is_insecure("127.3.4.5") and is_insecure("[::1]:80")
    assert is_insecure("localhost:5000") and is_insecure("localhost")
    assert not is_insecure("registry.example.com")
    assert is_insecure("registry.example.com:5000", ["registry.example.com:5000"])
    assert is_insecure("registry.example.com:5000", ["registry.example.com"])
    assert not is_insecure("registry.example.com:5001", ["registry.example.com:5000"])
    assert is_insecure("10.1.2.3:5000", ["10.0.0.0/8"])
    assert RegistryClient("ghcr.io").base_url == "https://ghcr.io"
    assert RegistryClient("docker.io").base_url == "https://registry-1.docker.io"
    assert RegistryClient("127.0.0.1:5000").base_url == "http://127.0.0.1:5000"
    assert RegistryClient("ghcr.io").session.verify == "/etc/ssl/certs/ca-certificates.crt", (
        "HTTPS is checked against the system CAs"
    )


def test_manifest_request_accepts_oci_and_docker_manifests_and_indexes(serve):
    body = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST}).encode()
    server = serve(lambda s, seen: Reply(200, body, {"Content-Type": OCI_MANIFEST}))
    quick_client(server).get_manifest("app", "v1", "app:v1")
    accepted = {t.strip() for t in server.seen[0].headers["Accept"].split(",")}
    assert accepted == {
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    }


def test_redirected_blob_does_not_carry_authorization_to_another_host(serve):
    storage = serve(lambda server, seen: Reply(200, BLOB))

    def registry(server, seen):
        if seen.headers.get("Authorization") != "Bearer secret":
            return Reply(401, b"", {"WWW-Authenticate": f'Bearer realm="{server.url}/token"'})
        return Reply(307, b"", {"Location": f"{storage.url}/data/{BLOB_DIGEST}"})

    def token_or_registry(server, seen):
        if seen.path.startswith("/token"):
            return Reply(200, b'{"token": "secret"}')
        return registry(server, seen)

    reg = serve(token_or_registry)
    assert fetch(quick_client(reg)) == BLOB
    (storage_request,) = storage.seen
    assert "Authorization" not in storage_request.headers


@pytest.mark.parametrize(("status", "retry_after"), [(503, "2"), (429, "3"), (500, None)])
def test_5xx_and_429_are_retried_honouring_retry_after(serve, status, retry_after):
    calls = []

    def route(server, seen):
        calls.append(seen)
        if len(calls) == 1:
            return Reply(status, b"busy", {"Retry-After": retry_after} if retry_after else {})
        return Reply(200, BLOB)

    sleeps: list[float] = []
    assert fetch(quick_client(serve(route), sleeps)) == BLOB
    assert len(calls) == 2
    assert sleeps == [float(retry_after) if retry_after else 0.01]


def test_persistent_5xx_is_an_error_naming_the_registry(serve):
    server = serve(lambda s, seen: Reply(502, b"bad gateway"))
    with pytest.raises(Exception) as raised:
        fetch(quick_client(server))
    assert f"registry {server.host} answered 502" in str(raised.value)


def test_dropped_stream_resumes_with_range(serve):
    def route(server, seen):
        if len(server.seen) == 1:
            return Reply(200, BLOB, cut_after=70_000)
        start = int(seen.headers["Range"].removeprefix("bytes=").rstrip("-"))
        return Reply(
            206,
            BLOB[start:],
            {"Content-Range": f"bytes {start}-{len(BLOB) - 1}/{len(BLOB)}"},
        )

    server = serve(route)
    assert fetch(quick_client(server)) == BLOB
    assert [s.headers.get("Range") for s in server.seen] == [None, "bytes=70000-"]


def test_registry_ignoring_range_restarts_from_zero(serve):
    def route(server, seen):
        if len(server.seen) == 1:
            return Reply(200, BLOB, cut_after=50_000)
        return Reply(200, BLOB)

    assert fetch(quick_client(serve(route))) == BLOB


def test_stream_that_keeps_dropping_fails_after_the_retries(serve):
    server = serve(lambda s, seen: Reply(200, BLOB, cut_after=0))
    with pytest.raises(BlobDownloadError) as raised:
        fetch(quick_client(server, attempts=3))
    assert str(raised.value).startswith(
        f"download of blob {BLOB_DIGEST} for app:v1 from registry {server.host} failed after 3 "
        "attempts: connection"
    )
    assert len(server.seen) == 3


def test_blob_with_wrong_content_is_a_digest_mismatch(serve):
    tampered = bytearray(BLOB)
    tampered[100] ^= 0xFF
    server = serve(lambda s, seen: Reply(200, bytes(tampered)))
    with pytest.raises(DigestMismatch) as raised:
        fetch(quick_client(server))
    assert f"digest mismatch for blob {BLOB_DIGEST}" in str(raised.value)


def test_blob_longer_than_its_descriptor_is_refused_while_streaming(serve):
    server = serve(lambda s, seen: Reply(200, BLOB + b"extra"))
    with pytest.raises(DigestMismatch, match="more than the 200000 bytes"):
        fetch(quick_client(server))


def test_unreachable_registry(serve):
    server = serve(lambda s, seen: Reply(200))
    host = server.host
    server.close()
    with pytest.raises(RegistryUnreachable) as raised:
        quick_client(server).ping()
    assert str(raised.value) == f"cannot reach registry {host}: connection refused"


# -- manifest checks, through pull ----------------------------------------------------------


def manifest_server(serve, body: bytes, content_type: str, index: bytes | None = None):
    def route(server, seen):
        if seen.path == "/v2/":
            return Reply(200, b"{}")
        if "/manifests/" in seen.path:
            if index is not None and seen.path.endswith("/manifests/v1"):
                return Reply(
                    200, index, {"Content-Type": "application/vnd.oci.image.index.v1+json"}
                )
            return Reply(200, body, {"Content-Type": content_type})
        return Reply(404, b"{}")

    return serve(route)


def pull_from(server, tmp_path, ref="app:v1"):
    store = ContentStore(str(tmp_path / "images"))
    return pull(f"{server.host}/{ref}", store, retry=RetryPolicy(attempts=1))


def test_schema1_manifest_is_refused_clearly(serve, tmp_path):
    body = json.dumps({"schemaVersion": 1, "name": "app", "tag": "v1", "fsLayers": []}).encode()
    server = manifest_server(
        serve, body, "application/vnd.docker.distribution.manifest.v1+prettyjws"
    )
    with pytest.raises(UnsupportedManifest) as raised:
        pull_from(server, tmp_path)
    assert str(raised.value).startswith(
        f"{server.host}/app:v1 has a Docker schema 1 manifest, which is not supported"
    )


def test_content_type_must_match_the_manifest_media_type(serve, tmp_path):
    body = json.dumps(
        {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": {}, "layers": []}
    ).encode()
    server = manifest_server(serve, body, "application/vnd.docker.distribution.manifest.v2+json")
    with pytest.raises(ManifestError, match=r"sent Content-Type application/vnd\.docker"):
        pull_from(server, tmp_path)


def test_pull_by_digest_verifies_the_manifest_digest(serve, tmp_path):
    body = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST}).encode()
    server = manifest_server(serve, body, OCI_MANIFEST)
    wrong = "sha256:" + "1" * 64
    with pytest.raises(DigestMismatch) as raised:
        pull_from(server, tmp_path, f"app@{wrong}")
    assert f"digest mismatch for manifest {wrong}" in str(raised.value)


def test_index_without_this_platform_lists_what_it_has(serve, tmp_path):
    index = json.dumps(
        {
            "schemaVersion": 2,
            "manifests": [
                {
                    "mediaType": OCI_MANIFEST,
                    "digest": "sha256:" + "2" * 64,
                    "size": 3,
                    "platform": {"os": "linux", "architecture": "s390x"},
                },
                {
                    "mediaType": "application/vnd.example.unknown",
                    "digest": "sha256:" + "3" * 64,
                    "size": 3,
                    "platform": {"os": "linux", "architecture": "amd64"},
                },
            ],
        }
    ).encode()
    server = manifest_server(serve, b"", OCI_MANIFEST, index=index)
    with pytest.raises(ManifestError) as raised:
        pull_from(server, tmp_path)
    assert "available platforms: linux/s390x" in str(raised.value)


def test_unknown_tag_is_image_not_found(serve, tmp_path):
    def route(server, seen):
        if seen.path == "/v2/":
            return Reply(200, b"{}")
        return Reply(404, b'{"errors":[{"code":"MANIFEST_UNKNOWN"}]}')

    server = serve(route)
    with pytest.raises(ImageNotFound) as raised:
        pull_from(server, tmp_path, "team/app:nope")
    assert str(raised.value) == f"image not found: {server.host}/team/app:nope"


def test_manifest_cut_short_is_fetched_again(serve):
    body = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "layers": []}).encode()

    def route(server, seen):
        cut = 10 if len(server.seen) == 1 else None
        return Reply(200, body, {"Content-Type": OCI_MANIFEST}, cut_after=cut)

    server = serve(route)
    manifest = quick_client(server).get_manifest("app", "v1", "app:v1")
    assert manifest.body == body
    assert manifest.digest == digest_of(body)
    assert len(server.seen) == 2

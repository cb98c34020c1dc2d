"""Pull faults against the real registry: each one clear error, no trace left in the store."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import socket
import subprocess
import threading

import pytest

from oci.errors import (
    AuthenticationRequired,
    BlobDownloadError,
    DigestMismatch,
    ImageNotFound,
    RegistryUnreachable,
)
from oci.pull import pull
from oci.store import ContentStore
from tests.fixtures.registry import free_port


@pytest.fixture
def store(tmp_path):
    return ContentStore(str(tmp_path / "images"))


def push(image, registry, repo: str, creds: tuple[str, str] | None = None) -> str:
    """Copy a fixture image into another registry; returns its reference there."""
    ref = f"{registry.host}/{repo}:1.0"
    args = ["skopeo", "copy", "-q", "--dest-tls-verify=false"]
    if creds:
        args += ["--dest-creds", ":".join(creds)]
    subprocess.run([*args, f"oci:{image.layout}:{image.layout_tag}", f"docker://{ref}"], check=True)
    return ref


def assert_no_trace(store: ContentStore, digest: str | None = None) -> None:
    assert store.list_images() == []
    blobs = os.path.join(store.root, "blobs", "sha256")
    names = os.listdir(blobs) if os.path.isdir(blobs) else []
    assert not [n for n in names if n.startswith(".")], "no temp files left"
    if digest:
        assert not store.has_blob(digest)


# -- not found, unreachable -------------------------------------------------------------------


def test_unknown_repository_is_image_not_found(registry, store):
    ref = f"{registry.host}/fixtures/does-not-exist:1.0"
    with pytest.raises(ImageNotFound) as raised:
        pull(ref, store)
    assert str(raised.value) == f"image not found: {ref}"
    assert_no_trace(store)


def test_unknown_tag_is_image_not_found(images, store):
    ref = images.busybox.ref.rsplit(":", 1)[0] + ":no-such-tag"
    with pytest.raises(ImageNotFound) as raised:
        pull(ref, store)
    assert str(raised.value) == f"image not found: {ref}"


def test_unknown_digest_is_image_not_found(images, store):
    ref = images.busybox.ref.rsplit(":", 1)[0] + "@sha256:" + "0" * 64
    with pytest.raises(ImageNotFound, match="image not found: "):
        pull(ref, store)


def test_registry_not_listening_cannot_be_reached(store):
    host = f"127.0.0.1:{free_port()}"
    with pytest.raises(RegistryUnreachable) as raised:
        pull(f"{host}/app:1", store)
    assert str(raised.value) == f"cannot reach registry {host}: connection refused"
    assert_no_trace(store)


# -- htpasswd auth ---------------------------------------------------------------------------


def config_json(path, host: str, user: str, password: str) -> str:
    auth = base64.b64encode(f"{user}:{password}".encode()).decode()
    path.write_text(json.dumps({"auths": {host: {"auth": auth}}}))
    return str(path)


def test_auth_required_then_pulled_with_credentials(images, start_registry, store, tmp_path):
    registry = start_registry(htpasswd=("user", "pass"))
    ref = push(images.busybox, registry, "fixtures/busybox", creds=("user", "pass"))

    with pytest.raises(AuthenticationRequired) as raised:
        pull(ref, store)
    assert str(raised.value) == f"authentication required for {registry.host}/fixtures/busybox"
    assert_no_trace(store)

    wrong = config_json(tmp_path / "wrong.json", registry.host, "user", "nope")
    with pytest.raises(AuthenticationRequired, match="rejected the credentials of user user"):
        pull(ref, store, registry_config=wrong)

    good = config_json(tmp_path / "good.json", registry.host, "user", "pass")
    stored = pull(ref, store, registry_config=good)
    assert [i.ref for i in store.list_images()] == [stored.ref]


def test_credentials_from_docker_config_env(images, start_registry, store, tmp_path, monkeypatch):
    registry = start_registry(htpasswd=("user", "pass"))
    ref = push(images.busybox, registry, "fixtures/busybox", creds=("user", "pass"))
    config_dir = tmp_path / "docker"
    config_dir.mkdir()
    config_json(config_dir / "config.json", registry.host, "user", "pass")
    monkeypatch.setenv("DOCKER_CONFIG", str(config_dir))
    assert pull(ref, store).ref.name == f"{registry.host}/fixtures/busybox"


# -- corrupted blob --------------------------------------------------------------------------


def test_blob_altered_in_registry_storage_is_a_digest_mismatch(images, start_registry, store):
    registry = start_registry()
    ref = push(images.busybox, registry, "fixtures/busybox")
    manifest = json.loads(
        subprocess.run(
            ["skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://{ref}"],
            check=True,
            capture_output=True,
        ).stdout
    )
    layer = manifest["layers"][0]["digest"]
    with open(registry.blob_path(layer), "r+b") as f:
        f.seek(manifest["layers"][0]["size"] // 2)
        byte = f.read(1)
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([byte[0] ^ 0xFF]))

    with pytest.raises(DigestMismatch) as raised:
        pull(ref, store)
    assert str(raised.value).startswith(f"digest mismatch for blob {layer} of {ref}")
    assert_no_trace(store, layer)


# -- connection dropped mid-blob -------------------------------------------------------------


class CuttingProxy:
    """A TCP proxy to the registry that drops a connection once it has carried
    ``cut_after`` bytes of a blob response, for the first ``cuts`` blob responses."""

    def __init__(self, upstream: str, cut_after: int, cuts: int):
        host, port = upstream.rsplit(":", 1)
        self.upstream = (host, int(port))
        self.cut_after = cut_after
        self.cuts_left = cuts
        self.cut_count = 0
        self.requests: list[bytes] = []
        self.lock = threading.Lock()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.host = f"127.0.0.1:{self.listener.getsockname()[1]}"
        self.closed = False
        self.threads: list[threading.Thread] = []
        self._spawn(self._accept)

    def _spawn(self, target, *args):
        thread = threading.Thread(target=target, args=args, daemon=True)
        self.threads.append(thread)
        thread.start()

    def _accept(self):
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.upstream)
            state = {"blob": False}
            self._spawn(self._to_upstream, client, upstream, state)
            self._spawn(self._to_client, upstream, client, state)

    def _to_upstream(self, client, upstream, state):
        try:
            while data := client.recv(65536):
                with self.lock:
                    self.requests.append(data)
                if b"/blobs/" in data.split(b"\r\n", 1)[0]:
                    state["blob"] = True
                upstream.sendall(data)
        except OSError:
            pass
        finally:
            _close(upstream)

    def _to_client(self, upstream, client, state):
        sent = 0
        try:
            while data := upstream.recv(65536):
                if state["blob"]:
                    with self.lock:
                        cut = self.cuts_left > 0 and sent + len(data) > self.cut_after
                        if cut:
                            self.cuts_left -= 1
                            self.cut_count += 1
                    if cut:
                        client.sendall(data[: max(0, self.cut_after - sent)])
                        break
                    sent += len(data)
                client.sendall(data)
        except OSError:
            pass
        finally:
            _close(client)
            _close(upstream)

    def range_requests(self) -> list[bytes]:
        return [r for r in self.requests if b"\r\nRange: bytes=" in r]

    def close(self):
        self.closed = True
        _close(self.listener)


def _close(sock):
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


@pytest.fixture
def cutting_proxy(registry):
    proxies: list[CuttingProxy] = []

    def make(cut_after: int, cuts: int) -> CuttingProxy:
        proxy = CuttingProxy(registry.host, cut_after, cuts)
        proxies.append(proxy)
        return proxy

    yield make
    for proxy in proxies:
        proxy.close()


def test_dropped_blob_stream_is_resumed_and_completed(images, cutting_proxy, store):
    proxy = cutting_proxy(cut_after=200_000, cuts=1)
    ref = f"{proxy.host}/{images.busybox.repo}:{images.busybox.tag}"
    stored = pull(ref, store)
    assert proxy.cut_count == 1
    assert proxy.range_requests(), "the second attempt resumed where the first broke off"
    assert stored.repo_digest == images.busybox.digest
    with open(store.blob_path(stored.layers[0]["digest"]), "rb") as f:
        assert "sha256:" + hashlib.sha256(f.read()).hexdigest() == stored.layers[0]["digest"]


def test_blob_stream_that_keeps_dropping_fails_clearly_after_retries(images, cutting_proxy, store):
    # Headers and a little body get through each time, never the whole blob.
    proxy = cutting_proxy(cut_after=5000, cuts=1000)
    ref = f"{proxy.host}/{images.busybox.repo}:{images.busybox.tag}"
    with pytest.raises(BlobDownloadError) as raised:
        pull(ref, store)
    message = str(raised.value)
    assert message.startswith("download of blob sha256:")
    assert f"from registry {proxy.host} failed after 5 attempts: connection" in message
    assert "\n" not in message
    assert_no_trace(store)

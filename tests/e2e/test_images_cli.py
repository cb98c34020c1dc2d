"""`minikube-py pull / images / rmi` end to end, against the real registry."""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import socket
import subprocess
import sys
import threading

import pytest

from tests.fixtures.registry import free_port


def cli(
    *args: str, root: str | None = None, env: dict | None = None
) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "minikube_py"]
    if root:
        command += ["--root", root]
    run_env = {k: v for k, v in os.environ.items() if k != "MINIKUBE_PY_DEBUG"}
    run_env.update(env or {})
    return subprocess.run(
        [*command, *args], capture_output=True, text=True, env=run_env, timeout=120
    )


def assert_one_line_error(result: subprocess.CompletedProcess, expected: str) -> None:
    assert result.returncode == 1, result
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [f"error: {expected}"]


@pytest.fixture
def root(tmp_path):
    return str(tmp_path / "root")


def test_pull_prints_a_line_per_layer_then_images_and_rmi(images, root):
    image = images.multilayer
    pulled = cli("pull", image.ref, root=root)
    assert pulled.returncode == 0, pulled.stderr
    lines = pulled.stdout.splitlines()
    layer_lines = [line for line in lines if line.startswith("layer ")]
    assert len(layer_lines) == 4
    assert all(" pulled " in line and "/s)" in line for line in layer_lines)
    assert f"Digest: {image.digest}" in lines
    assert lines[-1].startswith(f"Pulled {image.ref} (linux/amd64, ")

    again = cli("pull", image.ref, root=root)
    assert again.returncode == 0
    assert sum("already present" in line for line in again.stdout.splitlines()) == 4

    listed = cli("images", root=root)
    assert listed.returncode == 0
    header, *rows = listed.stdout.splitlines()
    assert header.split() == ["REPOSITORY", "TAG", "DIGEST", "SIZE"]
    repo, tag, digest, size, unit = rows[0].split()
    assert (repo, tag, digest) == (f"{image.ref.rsplit(':', 1)[0]}", image.tag, image.digest)
    assert unit == "MB" and float(size) > 1

    quiet = cli("images", "-q", root=root)
    assert quiet.stdout.splitlines() == [image.digest]

    removed = cli("rmi", image.ref, root=root)
    assert removed.returncode == 0, removed.stderr
    out = removed.stdout.splitlines()
    assert out[0] == f"Untagged: {image.ref}"
    assert len([line for line in out if line.startswith("Deleted: sha256:")]) == 6  # 4+cfg+mf
    assert cli("images", "-q", root=root).stdout == ""
    assert os.listdir(os.path.join(root, "images", "blobs", "sha256")) == []

    assert_one_line_error(cli("rmi", image.ref, root=root), f"image not found: {image.ref}")


def test_rmi_keeps_layers_another_image_uses(images, root):
    for image in (images.busybox, images.multilayer):
        assert cli("pull", "-q", image.ref, root=root).returncode == 0
    removed = cli("rmi", images.busybox.ref, root=root)
    assert len([line for line in removed.stdout.splitlines() if "Deleted" in line]) == 2
    pulled = cli("pull", images.multilayer.ref, root=root)
    assert "already present" in pulled.stdout.splitlines()[0]


def test_state_root_from_environment(images, tmp_path):
    root = str(tmp_path / "env-root")
    result = cli("pull", "-q", images.busybox.ref, env={"MINIKUBE_PY_ROOT": root})
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    listed = cli("images", "-q", env={"MINIKUBE_PY_ROOT": root})
    assert listed.stdout.splitlines() == [images.busybox.digest]
    assert os.path.isfile(os.path.join(root, "images", "index.json"))


def test_pull_other_platform(images, root):
    result = cli("pull", "--platform", "linux/arm64", images.multiarch.ref, root=root)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1].startswith(f"Pulled {images.multiarch.ref} (linux/arm64")


def test_progress_is_redrawn_in_place_on_a_terminal(images, root):
    command = shlex.join(
        [sys.executable, "-m", "minikube_py", "--root", root, "pull", images.gzip.ref]
    )
    result = subprocess.run(
        ["script", "-qec", command, "/dev/null"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout
    assert "\x1b[2K" in result.stdout and "\x1b[2A" in result.stdout, "lines redrawn in place"
    assert "layer 2" in result.stdout and ": done " in result.stdout and "/s" in result.stdout


def test_faults_are_one_clear_line(images, registry, root):
    missing = f"{registry.host}/fixtures/nope:1.0"
    assert_one_line_error(cli("pull", missing, root=root), f"image not found: {missing}")

    host = f"127.0.0.1:{free_port()}"
    assert_one_line_error(
        cli("pull", f"{host}/app:1", root=root), f"cannot reach registry {host}: connection refused"
    )
    assert_one_line_error(
        cli("pull", "Busy/Box", root=root),
        'invalid reference "Busy/Box": repository name must be lowercase',
    )
    assert_one_line_error(
        cli("pull", "--platform", "linux", images.busybox.ref, root=root),
        'invalid platform "linux": want OS/ARCH[/VARIANT], e.g. linux/amd64',
    )
    result = cli("pull", "--platform", "linux/s390x", images.multiarch.ref, root=root)
    assert_one_line_error(
        result,
        f"no manifest for platform linux/s390x in {images.multiarch.ref}; "
        "available platforms: linux/amd64, linux/arm64",
    )


def test_auth_required_then_credentials_from_registry_config(
    images, start_registry, root, tmp_path
):
    registry = start_registry(htpasswd=("user", "pass"))
    ref = f"{registry.host}/fixtures/busybox:1.0"
    subprocess.run(
        [
            "skopeo",
            "copy",
            "-q",
            "--dest-tls-verify=false",
            "--dest-creds",
            "user:pass",
            f"oci:{images.busybox.layout}:{images.busybox.layout_tag}",
            f"docker://{ref}",
        ],
        check=True,
    )
    assert_one_line_error(
        cli("pull", ref, root=root), f"authentication required for {registry.host}/fixtures/busybox"
    )
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps({"auths": {registry.host: {"username": "user", "password": "pass"}}})
    )
    result = cli("--registry-config", str(config), "pull", ref, root=root)
    assert result.returncode == 0, result.stderr


def test_digest_mismatch_is_one_line(images, start_registry, root):
    registry = start_registry()
    ref = f"{registry.host}/fixtures/busybox:1.0"
    subprocess.run(
        [
            "skopeo",
            "copy",
            "-q",
            "--dest-tls-verify=false",
            f"oci:{images.busybox.layout}:{images.busybox.layout_tag}",
            f"docker://{ref}",
        ],
        check=True,
    )
    manifest = json.loads(
        subprocess.run(
            ["skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://{ref}"],
            check=True,
            capture_output=True,
        ).stdout
    )
    layer = manifest["layers"][0]["digest"]
    with open(registry.blob_path(layer), "r+b") as f:
        f.seek(1000)
        f.write(b"\0" * 16)
    result = cli("pull", ref, root=root)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith(f"error: digest mismatch for blob {layer} of {ref}")


class Forwarder:
    """Listens on a non-loopback address and forwards to the registry on 127.0.0.1."""

    def __init__(self, address: str, upstream: str):
        self.upstream = upstream.rsplit(":", 1)
        self.listener = socket.create_server((address, 0))
        self.host = f"{address}:{self.listener.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection((self.upstream[0], int(self.upstream[1])))
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src, dst):
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def close(self):
        self.listener.close()


def _non_loopback_address() -> str | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.254", 9))  # no packet is sent: this picks a source address
            address = s.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") else address


def test_insecure_registry_flag_allows_plain_http_to_a_non_loopback_registry(
    images, registry, root
):
    address = _non_loopback_address()
    if address is None:
        pytest.skip("this machine has no non-loopback IPv4 address")
    forwarder = Forwarder(address, registry.host)
    try:
        ref = f"{forwarder.host}/{images.busybox.repo}:{images.busybox.tag}"
        refused = cli("pull", ref, root=root)
        assert refused.returncode == 1
        assert refused.stderr.startswith(f"error: cannot reach registry {forwarder.host}: TLS")
        assert f"use --insecure-registry {forwarder.host}" in refused.stderr
        result = cli("--insecure-registry", forwarder.host, "pull", ref, root=root)
        assert result.returncode == 0, result.stderr
    finally:
        forwarder.close()

"""The fixtures are well-formed: a real registry serves real images with what they claim."""

from __future__ import annotations

import gzip
import io
import json
import subprocess
import tarfile

import pytest
import requests

SKOPEO = ["skopeo", "--override-os", "linux", "--override-arch", "amd64"]


def skopeo_inspect(ref: str, *opts: str) -> dict:
    out = subprocess.run(
        [*SKOPEO, "inspect", "--tls-verify=false", *opts, f"docker://{ref}"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out)


def raw_manifest(ref: str) -> dict:
    return skopeo_inspect(ref, "--raw")


def layer_members(registry, digest: str, media_type: str) -> list[tarfile.TarInfo]:
    with open(registry.blob_path(digest), "rb") as f:
        data = f.read()
    if media_type.endswith("+gzip"):
        data = gzip.decompress(data)
    # umoci insert's layers lack the final padding and end-of-archive blocks (see
    # tests/fixtures/images.py); pad them so tarfile reads them as Go's tar does.
    data += b"\0" * (-len(data) % 512 + 1024)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return tar.getmembers()


def test_registry_answers_the_distribution_api(registry):
    r = requests.get(f"{registry.url}/v2/", timeout=5)
    assert r.status_code == 200
    assert r.headers["Docker-Distribution-API-Version"] == "registry/2.0"


def test_registry_with_htpasswd_requires_credentials(start_registry):
    reg = start_registry(htpasswd=("alice", "s3cret"))
    assert requests.get(f"{reg.url}/v2/", timeout=5).status_code == 401
    assert requests.get(f"{reg.url}/v2/", auth=("alice", "s3cret"), timeout=5).status_code == 200
    assert requests.get(f"{reg.url}/v2/", auth=("alice", "wrong"), timeout=5).status_code == 401


@pytest.mark.parametrize(
    "name", ["busybox", "multilayer", "multiarch", "gzip", "zstd", "uncompressed", "config"]
)
def test_skopeo_inspects_every_fixture(images, name):
    image = images[name]
    info = skopeo_inspect(image.ref)
    assert info["Os"] == "linux"
    assert info["Architecture"] == "amd64"
    assert info["Layers"], f"{name} has no layers"
    # The reported digest is the one we recorded (for an index, that of the index).
    assert info["Digest"] == image.digest or name == "multiarch"


def test_busybox_is_one_layer_with_a_shell(images, registry):
    manifest = raw_manifest(images.busybox.ref)
    assert len(manifest["layers"]) == 1
    layer = manifest["layers"][0]
    names = {
        m.name.lstrip("./") for m in layer_members(registry, layer["digest"], layer["mediaType"])
    }
    assert {"bin/busybox", "bin/sh", "etc/passwd", "etc/group"} <= names
    assert skopeo_inspect(images.busybox.ref, "--config")["config"]["Cmd"] == ["sh"]


def test_multilayer_has_whiteouts_links_and_special_modes(images, registry):
    manifest = raw_manifest(images.multilayer.ref)
    assert len(manifest["layers"]) == 4
    members = {}
    for layer in manifest["layers"][1:]:
        for m in layer_members(registry, layer["digest"], layer["mediaType"]):
            members[m.name.lstrip("./")] = m
    assert "etc/.wh.deleteme" in members
    assert "opq/.wh..wh..opq" in members and "opq/new" in members
    a, b = members["data/hardlink-a"], members["data/hardlink-b"]
    assert (a.islnk() and a.linkname.lstrip("./").endswith("hardlink-b")) or (
        b.islnk() and b.linkname.lstrip("./").endswith("hardlink-a")
    )
    assert members["data/symlink"].issym() and members["data/symlink"].linkname == "../etc/passwd"
    assert members["data/setuid"].mode & 0o7777 == 0o4755
    assert (members["data/owned"].uid, members["data/owned"].gid) == (1000, 1000)
    assert members["data/sticky"].isdir() and members["data/sticky"].mode & 0o7777 == 0o1777


def test_multiarch_is_an_index_with_two_platforms(images):
    index = raw_manifest(images.multiarch.ref)
    assert index["mediaType"] == "application/vnd.oci.image.index.v1+json"
    platforms = {(m["platform"]["os"], m["platform"]["architecture"]) for m in index["manifests"]}
    assert platforms == {("linux", "amd64"), ("linux", "arm64")}
    arm = subprocess.run(
        [
            "skopeo",
            "--override-arch",
            "arm64",
            "inspect",
            "--tls-verify=false",
            f"docker://{images.multiarch.ref}",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert json.loads(arm)["Architecture"] == "arm64"


@pytest.mark.parametrize(
    ("name", "media_type"),
    [
        ("gzip", "application/vnd.oci.image.layer.v1.tar+gzip"),
        ("zstd", "application/vnd.oci.image.layer.v1.tar+zstd"),
        ("uncompressed", "application/vnd.oci.image.layer.v1.tar"),
    ],
)
def test_compression_variants_have_their_media_types(images, registry, name, media_type):
    manifest = raw_manifest(images[name].ref)
    assert len(manifest["layers"]) == 2
    assert {layer["mediaType"] for layer in manifest["layers"]} == {media_type}
    with open(registry.blob_path(manifest["layers"][0]["digest"]), "rb") as f:
        magic = f.read(4)
    expected_magic = {"gzip": b"\x1f\x8b", "zstd": b"\x28\xb5\x2f\xfd"}.get(name)
    if expected_magic:
        assert magic.startswith(expected_magic)
    else:
        assert magic not in (b"\x1f\x8b\x08\x00", b"\x28\xb5\x2f\xfd")


def test_config_image_sets_every_kubelet_field(images):
    config = skopeo_inspect(images.config.ref, "--config")["config"]
    assert config["Entrypoint"] == ["/bin/sh", "-c"]
    assert config["Cmd"] == ["echo hello"]
    assert "FOO=bar" in config["Env"]
    assert config["WorkingDir"] == "/work"
    assert config["User"] == "1000:1000"
    assert config["StopSignal"] == "SIGUSR1"
    assert "8080/tcp" in config["ExposedPorts"]
    assert config["Labels"] == {"org.example.fixture": "config"}


def test_umoci_unpacks_every_fixture_layout(images, tmp_path):
    """Each fixture's layout_tag gives umoci the same content (the cross-check baseline)."""
    for image in images:
        bundle = tmp_path / image.name
        subprocess.run(
            ["umoci", "unpack", "--image", f"{image.layout}:{image.layout_tag}", str(bundle)],
            check=True,
            capture_output=True,
        )
        assert (bundle / "rootfs").is_dir()
    assert (tmp_path / "multiarch/rootfs/arch").read_text() == "amd64\n"
    assert not (tmp_path / "multilayer/rootfs/etc/deleteme").exists()
    assert sorted(p.name for p in (tmp_path / "multilayer/rootfs/opq").iterdir()) == ["new"]
    for name in ("gzip", "zstd", "uncompressed"):
        assert (tmp_path / name / "rootfs/payload/hello.txt").read_text().startswith("hello")

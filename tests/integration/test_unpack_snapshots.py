"""Pull and unpack into snapshots: overlay-ready, shared, verified, collected by rmi."""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import stat
import subprocess
import sys

import pytest
import requests

from oci.image import ImageService
from oci.layer import DiffIDMismatch
from tests.layer_tars import (
    describe_tree,
    diff_trees,
    directory,
    file,
    hardlink,
    symlink,
    write_layer,
)

MS_RDONLY = 1
_libc = ctypes.CDLL(None, use_errno=True)


def mount_overlay(lowerdirs: list[str], target: str) -> None:
    options = ("lowerdir=" + ":".join(lowerdirs)).encode()
    if _libc.mount(b"overlay", target.encode(), b"overlay", MS_RDONLY, options) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount overlay on {target}: {os.strerror(err)}")


def umount(target: str) -> None:
    if _libc.umount2(target.encode(), 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"umount {target}: {os.strerror(err)}")


@pytest.fixture
def service(tmp_path):
    svc = ImageService(str(tmp_path / "state"))
    yield svc
    svc.close()


def test_multilayer_snapshots_mount_as_an_overlay(service, images, tmp_path):
    image = service.pull_and_unpack(images.multilayer.ref)
    assert len(image.lowerdirs) == 4
    assert image.lowerdirs == [service.snapshots.path(c) for c in reversed(image.chain_ids)]
    target = tmp_path / "merged"
    target.mkdir()
    mount_overlay(image.lowerdirs, str(target))
    try:
        assert not os.path.lexists(target / "etc/deleteme")
        assert (target / "etc/passwd").is_file()
        assert sorted(os.listdir(target / "opq")) == ["new"]
        a, b = os.lstat(target / "data/hardlink-a"), os.lstat(target / "data/hardlink-b")
        assert a.st_ino == b.st_ino
        assert os.readlink(target / "data/symlink") == "../etc/passwd"
        assert stat.S_IMODE(os.lstat(target / "data/setuid").st_mode) == 0o4755
        assert stat.S_IMODE(os.lstat(target / "data/sticky").st_mode) == 0o1777
        out = subprocess.run(
            [str(target / "bin/busybox"), "cat", str(target / "opq/new")],
            capture_output=True,
            text=True,
            check=True,
        )
        assert out.stdout == "new\n"
    finally:
        umount(str(target))


def test_snapshots_hold_overlay_whiteouts(service, images):
    image = service.pull_and_unpack(images.multilayer.ref)
    found_whiteout = found_opaque = False
    for snap in image.lowerdirs:
        path = os.path.join(snap, "etc/deleteme")
        if os.path.lexists(path):
            st = os.lstat(path)
            if stat.S_ISCHR(st.st_mode):
                assert st.st_rdev == 0
                found_whiteout = True
        opq = os.path.join(snap, "opq")
        if os.path.isdir(opq) and "trusted.overlay.opaque" in os.listxattr(opq):
            assert os.getxattr(opq, "trusted.overlay.opaque") == b"y"
            assert os.listdir(opq) == ["new"]
            found_opaque = True
    assert found_whiteout and found_opaque


def test_prepared_image_carries_the_image_config(service, images):
    image = service.pull_and_unpack(images.config.ref)
    c = image.config
    assert c.entrypoint == ["/bin/sh", "-c"]
    assert c.cmd == ["echo hello"]
    assert "FOO=bar" in c.env and any(e.startswith("PATH=") for e in c.env)
    assert c.working_dir == "/work"
    assert c.user == "1000:1000"
    assert c.stop_signal == "SIGUSR1"
    assert c.exposed_ports == ["8080/tcp"]
    assert c.labels == {"org.example.fixture": "config"}
    assert service.prepare(images.config.ref) == image


def test_images_with_the_same_base_share_its_snapshot(service, images):
    busybox = service.pull_and_unpack(images.busybox.ref)
    base = busybox.lowerdirs[-1]
    before = os.stat(base)
    config = service.pull_and_unpack(images.config.ref)
    assert config.lowerdirs[-1] == base
    assert config.chain_ids[0] == busybox.chain_ids[0]
    after = os.stat(base)
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert sorted(service.snapshots.list()) == sorted(set(busybox.chain_ids + config.chain_ids))


def test_warm_repull_fetches_no_blob_and_rewrites_no_snapshot(service, images, registry):
    first = service.pull_and_unpack(images.multilayer.ref)
    inodes = [os.stat(d).st_ino for d in first.lowerdirs]
    with open(registry.log_path) as f:
        log_before = f.read()
    second = service.pull_and_unpack(images.multilayer.ref)
    with open(registry.log_path) as f:
        new_log = f.read()[len(log_before) :]
    assert second == first
    assert [os.stat(d).st_ino for d in second.lowerdirs] == inodes
    assert "/blobs/" not in new_log
    assert os.listdir(service.snapshots.tmp_root) == []


def test_each_compression_gives_the_same_snapshots(service, images):
    results = [service.pull_and_unpack(images[n].ref) for n in ("gzip", "zstd", "uncompressed")]
    assert results[0].chain_ids == results[1].chain_ids == results[2].chain_ids
    with open(os.path.join(results[0].lowerdirs[0], "payload/hello.txt")) as f:
        assert f.read() == "hello from the payload layer\n"


# --- crafted images, pushed over the distribution API ---------------------------------------


def push_image(registry, repo: str, layer_paths: list[str], diff_ids: list[str]) -> str:
    base = f"{registry.url}/v2/{repo}"

    def upload(data: bytes) -> dict:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        r = requests.post(f"{base}/blobs/uploads/", timeout=30)
        r.raise_for_status()
        location = r.headers["Location"]
        if location.startswith("/"):
            location = registry.url + location
        sep = "&" if "?" in location else "?"
        r = requests.put(
            f"{location}{sep}digest={digest}",
            data=data,
            timeout=30,
            headers={"Content-Type": "application/octet-stream"},
        )
        r.raise_for_status()
        return {"digest": digest, "size": len(data)}

    layers = []
    for path in layer_paths:
        with open(path, "rb") as f:
            layers.append(
                dict(upload(f.read()), mediaType="application/vnd.oci.image.layer.v1.tar+gzip")
            )
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {"Cmd": ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }
    config_desc = dict(
        upload(json.dumps(config).encode()), mediaType="application/vnd.oci.image.config.v1+json"
    )
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": config_desc,
        "layers": layers,
    }
    r = requests.put(
        f"{base}/manifests/1.0",
        data=json.dumps(manifest).encode(),
        timeout=30,
        headers={"Content-Type": manifest["mediaType"]},
    )
    r.raise_for_status()
    return f"{registry.host}/{repo}:1.0"


def test_hardlink_into_a_lower_layer_is_materialised(service, registry, tmp_path):
    l1, l2 = str(tmp_path / "l1"), str(tmp_path / "l2")
    d1 = write_layer(l1, [file("usr/lib/libfoo.so", "foo library\n", mode=0o755, uid=12)], "gzip")
    d2 = write_layer(l2, [hardlink("usr/lib/libfoo.so.1", "usr/lib/libfoo.so")], "gzip")
    ref = push_image(registry, "crafted/lowerlink", [l1, l2], [d1, d2])
    image = service.pull_and_unpack(ref)
    top, bottom = image.lowerdirs
    copy = os.lstat(os.path.join(top, "usr/lib/libfoo.so.1"))
    orig = os.lstat(os.path.join(bottom, "usr/lib/libfoo.so"))
    assert stat.S_ISREG(copy.st_mode) and copy.st_ino != orig.st_ino
    assert (copy.st_mode, copy.st_uid, copy.st_size) == (orig.st_mode, orig.st_uid, orig.st_size)
    with open(os.path.join(top, "usr/lib/libfoo.so.1")) as f:
        assert f.read() == "foo library\n"


def test_layer_not_matching_its_diff_id_is_refused(service, registry, tmp_path):
    l1 = str(tmp_path / "l1")
    write_layer(l1, [file("a", "a")], "gzip")
    ref = push_image(registry, "crafted/baddiffid", [l1], ["sha256:" + "0" * 64])
    with pytest.raises(DiffIDMismatch, match="diff_ids"):
        service.pull_and_unpack(ref)
    assert service.snapshots.list() == []
    assert os.listdir(service.snapshots.tmp_root) == []


def test_rmi_removes_snapshots_no_remaining_image_uses(tmp_path, images):
    root = str(tmp_path / "state")
    with ImageService(root) as svc:
        busybox = svc.pull_and_unpack(images.busybox.ref)
        config = svc.pull_and_unpack(images.config.ref)

    def rmi(ref: str) -> None:
        subprocess.run(
            [sys.executable, "-m", "minikube_py", "--root", root, "rmi", ref],
            check=True,
            capture_output=True,
        )

    snapshots = os.path.join(root, "snapshots")
    rmi(images.config.ref)
    left = sorted(n for n in os.listdir(snapshots) if not n.startswith("."))
    assert left == [busybox.chain_ids[0].split(":")[1]]
    assert config.chain_ids[1] not in left
    rmi(images.busybox.ref)
    assert [n for n in os.listdir(snapshots) if not n.startswith(".")] == []


def test_gc_keeps_snapshots_a_mounted_overlay_uses(service, images, tmp_path):
    image = service.pull_and_unpack(images.multilayer.ref)
    target = tmp_path / "merged"
    target.mkdir()
    mount_overlay(image.lowerdirs, str(target))
    try:
        service.store.remove(images.multilayer.ref)
        assert service.gc_snapshots() == []
        assert all(os.path.isdir(d) for d in image.lowerdirs)
    finally:
        umount(str(target))
    assert sorted(service.gc_snapshots()) == sorted(image.chain_ids)
    assert service.snapshots.list() == []


def overlay_tree(image, tmp_path) -> dict:
    """The tree overlayfs shows for the image's snapshots (read-only, unmounted after)."""
    lowers = list(image.lowerdirs)
    if len(lowers) == 1:
        empty = tmp_path / "empty-lower"  # overlayfs wants two lower dirs without an upper
        empty.mkdir()
        lowers.append(str(empty))
    target = tmp_path / "merged"
    target.mkdir()
    mount_overlay(lowers, str(target))
    try:
        return describe_tree(str(target))
    finally:
        umount(str(target))


@pytest.mark.parametrize(
    "name", ["busybox", "multilayer", "multiarch", "gzip", "zstd", "uncompressed", "config"]
)
def test_overlay_of_the_snapshots_equals_the_flat_rootfs(service, images, tmp_path, name):
    image = service.pull_and_unpack(images[name].ref)
    flat = tmp_path / "flat"
    flat.mkdir()
    service.unpack_flat(images[name].ref, str(flat))
    merged = overlay_tree(image, tmp_path)
    strip = lambda t: {k: v[:7] for k, v in t.items()}  # noqa: E731 (hardlinks: see below)
    assert diff_trees(strip(merged), strip(describe_tree(str(flat)))) == []


def test_a_layer_written_through_a_lower_directory_symlink(service, registry, tmp_path):
    # A merged-/usr base (bin -> usr/bin), then a layer made by a tool that writes
    # bin/app, whites out bin/ls and adds usr/local/bin/tool without directory entries.
    l1, l2 = str(tmp_path / "l1"), str(tmp_path / "l2")
    d1 = write_layer(
        l1,
        [
            directory("usr", mode=0o755),
            directory("usr/bin", mode=0o755),
            file("usr/bin/sh", "shell\n", mode=0o755),
            file("usr/bin/ls", "ls\n", mode=0o755),
            symlink("bin", "usr/bin"),
            directory("usr/local", mode=0o2775, gid=50),
        ],
        "gzip",
    )
    d2 = write_layer(
        l2,
        [
            file("bin/app", "app\n", mode=0o755),
            file("bin/.wh.ls"),
            file("usr/local/bin/tool", "tool\n", mode=0o755),
            hardlink("sh-again", "bin/sh"),
        ],
        "gzip",
    )
    ref = push_image(registry, "crafted/mergedusr", [l1, l2], [d1, d2])
    image = service.pull_and_unpack(ref)
    top = image.lowerdirs[0]
    assert not os.path.lexists(os.path.join(top, "bin"))
    assert os.path.isfile(os.path.join(top, "usr/bin/app"))
    merged = overlay_tree(image, tmp_path)
    assert merged["bin"][4] == "usr/bin"  # still the base's symlink
    assert "usr/bin/app" in merged and "usr/bin/ls" not in merged and "usr/bin/sh" in merged
    assert merged["usr/local"][1:4] == (0o2775, 0, 50)  # the base's, not a default 0755
    assert merged["sh-again"][6] == merged["usr/bin/sh"][6]
    flat = tmp_path / "flat"
    flat.mkdir()
    service.unpack_flat(ref, str(flat))
    strip = lambda t: {k: v[:7] for k, v in t.items()}  # noqa: E731
    assert diff_trees(strip(merged), strip(describe_tree(str(flat)))) == []

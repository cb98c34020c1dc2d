"""`minikube-py unpack` gives the root filesystem `umoci unpack` gives, for every fixture."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest

from tests.layer_tars import describe_tree as tree
from tests.layer_tars import diff_trees as diff

FIXTURES = ["busybox", "multilayer", "multiarch", "gzip", "zstd", "uncompressed", "config"]


def hardlink_groups(t: dict) -> set[frozenset[str]]:
    groups: dict[str, set[str]] = {}
    for path, info in t.items():
        if info[7] is not None:
            groups.setdefault(info[7], set()).add(path)
    return {frozenset(g) for g in groups.values() if len(g) > 1}


@pytest.mark.parametrize("name", FIXTURES)
def test_unpack_tree_equals_umoci_rootfs(name, images, tmp_path):
    image = images[name]
    ours = tmp_path / "ours"
    bundle = tmp_path / "bundle"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "minikube_py",
            "--root",
            str(tmp_path / "state"),
            "unpack",
            image.ref,
            str(ours),
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    subprocess.run(
        ["umoci", "unpack", "--image", f"{image.layout}:{image.layout_tag}", str(bundle)],
        check=True,
        capture_output=True,
    )
    mine, theirs = tree(str(ours)), tree(str(bundle / "rootfs"))
    assert diff(mine, theirs) == []
    assert hardlink_groups(mine) == hardlink_groups(theirs)


def test_unpack_refuses_a_non_empty_dir(images, tmp_path):
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "keep").write_text("mine\n")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "minikube_py",
            "--root",
            str(tmp_path / "state"),
            "unpack",
            images.busybox.ref,
            str(dest),
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1
    assert proc.stderr.startswith("error: unpack:") and "not an empty directory" in proc.stderr
    assert os.listdir(dest) == ["keep"]


def test_unpack_multilayer_applies_whiteouts_and_keeps_special_files(images, tmp_path):
    dest = tmp_path / "rootfs"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "minikube_py",
            "--root",
            str(tmp_path / "state"),
            "unpack",
            images.multilayer.ref,
            str(dest),
        ],
        check=True,
        capture_output=True,
    )
    assert not (dest / "etc/deleteme").exists()
    assert sorted(os.listdir(dest / "opq")) == ["new"]
    a, b = os.lstat(dest / "data/hardlink-a"), os.lstat(dest / "data/hardlink-b")
    assert (a.st_ino, a.st_nlink) == (b.st_ino, 2)
    assert os.readlink(dest / "data/symlink") == "../etc/passwd"
    assert stat.S_IMODE(os.lstat(dest / "data/setuid").st_mode) == 0o4755
    owned = os.lstat(dest / "data/owned")
    assert (owned.st_uid, owned.st_gid) == (1000, 1000)
    assert stat.S_IMODE(os.lstat(dest / "data/sticky").st_mode) == 0o1777
    assert os.path.isfile(dest / "bin/busybox")


def test_unpack_of_a_missing_image_is_one_error_line_and_leaves_no_dir(registry, tmp_path):
    dest = tmp_path / "rootfs"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "minikube_py",
            "--root",
            str(tmp_path / "state"),
            "unpack",
            f"{registry.host}/no/such-image:1.0",
            str(dest),
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "no/such-image" in lines[0]
    assert not dest.exists()

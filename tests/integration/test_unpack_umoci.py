"""`minikube-py unpack` gives the root filesystem `umoci unpack` gives, for every fixture."""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
import sys

import pytest

FIXTURES = ["busybox", "multilayer", "multiarch", "gzip", "zstd", "uncompressed", "config"]


def tree(root: str) -> dict[str, tuple]:
    """path -> (type, mode, uid, gid, link target, rdev, content sha256, hardlink group)."""
    entries: dict[str, tuple] = {}
    inodes: dict[int, str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in ["", *dirnames, *filenames] if dirpath == root else [*dirnames, *filenames]:
            path = os.path.join(dirpath, name) if name else dirpath
            rel = os.path.relpath(path, root)
            st = os.lstat(path)
            target = os.readlink(path) if stat.S_ISLNK(st.st_mode) else None
            content = None
            group = None
            if stat.S_ISREG(st.st_mode):
                with open(path, "rb") as f:
                    content = hashlib.sha256(f.read()).hexdigest()
                if st.st_nlink > 1:
                    # hardlinked files: name the group by its first path seen (sorted walk)
                    group = inodes.setdefault(st.st_ino, rel)
            rdev = st.st_rdev if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode) else None
            entries[rel] = (
                stat.S_IFMT(st.st_mode),
                stat.S_IMODE(st.st_mode),
                st.st_uid,
                st.st_gid,
                target,
                rdev,
                content,
                group,
            )
        dirnames.sort()
        filenames.sort()
    return entries


def diff(ours: dict, theirs: dict) -> list[str]:
    problems = []
    for path in sorted(set(ours) | set(theirs)):
        if path not in ours:
            problems.append(f"missing in ours: {path}")
        elif path not in theirs:
            problems.append(f"extra in ours: {path}")
        elif ours[path][:7] != theirs[path][:7]:
            problems.append(f"differs: {path}: ours {ours[path]} umoci {theirs[path]}")
    return problems


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

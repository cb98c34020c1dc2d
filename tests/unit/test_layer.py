"""Applying one layer: the OCI layer rules, file types and metadata, both modes."""

from __future__ import annotations

import gzip
import hashlib
import io
import itertools
import os
import stat
import tarfile

import pytest

from oci import tar
from oci.compression import GZIP, NONE, ZSTD, CompressionError, detect, from_media_type
from oci.layer import (
    FLAT,
    OVERLAY,
    DiffIDMismatch,
    LayerError,
    apply_layer,
    clean_path,
    settle_on_lowers,
)
from oci.snapshots import SnapshotStore, chain_ids
from tests.layer_tars import directory, entry, file, hardlink, symlink, tar_bytes, write_layer

IS_ROOT = os.geteuid() == 0
_blobs = itertools.count()


def apply(tmp_path, entries, dest=None, *, mode=OVERLAY, compression=None, **kw):
    dest = dest or str(tmp_path / "root")
    os.makedirs(dest, exist_ok=True)
    blob = str(tmp_path / f"layer-{next(_blobs)}")
    diff_id = write_layer(blob, entries, compression)
    result = apply_layer(blob, dest, mode=mode, **kw)
    assert result.diff_id == diff_id
    return dest, result


# --- paths ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, parts",
    [
        ("a/b", ["a", "b"]),
        ("./a//b/", ["a", "b"]),
        ("/etc/passwd", ["etc", "passwd"]),
        ("../../etc/passwd", ["etc", "passwd"]),
        ("a/../../b", ["b"]),
        ("a/./b/..", ["a"]),
        (".", []),
        ("..", []),
    ],
)
def test_clean_path_never_climbs_above_the_root(name, parts):
    assert clean_path(name) == parts


# --- the tar reader ------------------------------------------------------------------------


def entries_of(data: bytes, chunk: int = 1 << 20) -> list[tar.TarEntry]:
    chunks = (data[i : i + chunk] for i in range(0, len(data), chunk))
    return list(tar.TarReader(tar.ChunkStream(chunks)))


def test_reader_handles_gnu_and_pax_long_names_and_chunk_boundaries():
    long = "d/" + "x" * 150 + "/" + "y" * 120
    gnu = io.BytesIO()
    with tarfile.open(fileobj=gnu, mode="w", format=tarfile.GNU_FORMAT) as t:
        info = tarfile.TarInfo(long)
        info.size = 3
        t.addfile(info, io.BytesIO(b"abc"))
        link = tarfile.TarInfo("l")
        link.type = tarfile.SYMTYPE
        link.linkname = "t" * 200
        t.addfile(link)
    pax = tar_bytes([file(long, "abc", uid=3_000_000), symlink("l", "t" * 200)])
    for data in (gnu.getvalue(), pax):
        for chunk in (7, 512, 1000, 1 << 20):
            got = entries_of(data, chunk)
            assert [(e.name, e.type, e.size, e.linkname) for e in got] == [
                (long, tar.REG, 3, ""),
                ("l", tar.SYMLINK, 0, "t" * 200),
            ]
    assert entries_of(pax)[0].uid == 3_000_000


def test_reader_accepts_a_tar_without_end_blocks_or_last_padding():
    # umoci 0.4.7's `insert` writes such layers; Go's archive/tar reads them.
    data = tar_bytes([file("a", "1"), file("b", "hello")])
    header_b = data.index(b"b\0")
    unpadded = data[: header_b + 512 + 5]
    assert [(e.name, e.size) for e in entries_of(unpadded)] == [("a", 1), ("b", 5)]


def test_reader_refuses_truncated_data_and_bad_checksums():
    data = tar_bytes([file("a", "x" * 2000)])
    with pytest.raises(tar.TarError, match="truncated"):
        stream = tar.ChunkStream(iter([data[:1500]]))
        reader = tar.TarReader(stream)
        for _ in reader:
            reader.write_data(os.open(os.devnull, os.O_WRONLY))
    broken = bytearray(data)
    broken[10] ^= 0x55
    with pytest.raises(tar.TarError, match="checksum"):
        entries_of(bytes(broken))


def test_reader_reads_base256_numbers():
    field = bytes([0x80]) + (2**40).to_bytes(11, "big")
    assert tar._num(field, "size") == 2**40


def test_reader_refuses_sparse_files():
    data = bytearray(tar_bytes([file("a", "x")]))
    data[156] = ord("S")
    data[148:156] = b" " * 8
    data[148:156] = b"%06o\0 " % sum(data[:512])
    with pytest.raises(tar.TarError, match="sparse"):
        entries_of(bytes(data))


# --- compression ---------------------------------------------------------------------------


@pytest.mark.parametrize("compression", [None, "gzip", "zstd"])
def test_each_compression_applies_and_hashes_the_uncompressed_stream(tmp_path, compression):
    payload = os.urandom(3 << 20)
    root, result = apply(
        tmp_path, [file("big", payload), file("small", "s")], compression=compression
    )
    with open(os.path.join(root, "big"), "rb") as f:
        assert f.read() == payload
    expected = {None: NONE, "gzip": GZIP, "zstd": ZSTD}[compression]
    blob = next(n for n in os.listdir(tmp_path) if n.startswith("layer-"))
    assert detect(str(tmp_path / blob)) == expected
    assert result.size == len(tar_bytes([file("big", payload), file("small", "s")]))


def test_multi_member_gzip_and_multi_frame_zstd_are_read_whole(tmp_path):
    import zstandard

    part1, part2 = tar_bytes([file("a", "1")])[: 512 * 2], tar_bytes([file("a", "1")])[512 * 2 :]
    whole = part1 + part2
    blob = tmp_path / "gz"
    blob.write_bytes(gzip.compress(part1) + gzip.compress(part2))
    os.mkdir(tmp_path / "g")
    assert apply_layer(str(blob), str(tmp_path / "g")).diff_id == (
        "sha256:" + hashlib.sha256(whole).hexdigest()
    )
    c = zstandard.ZstdCompressor()
    blob = tmp_path / "zst"
    blob.write_bytes(c.compress(part1) + c.compress(part2))
    os.mkdir(tmp_path / "z")
    assert apply_layer(str(blob), str(tmp_path / "z")).diff_id == (
        "sha256:" + hashlib.sha256(whole).hexdigest()
    )


def test_media_types_name_their_compression_and_encrypted_is_refused():
    assert from_media_type("application/vnd.oci.image.layer.v1.tar+gzip") == GZIP
    assert from_media_type("application/vnd.docker.image.rootfs.diff.tar.gzip") == GZIP
    assert from_media_type("application/vnd.oci.image.layer.v1.tar+zstd") == ZSTD
    assert from_media_type("application/vnd.oci.image.layer.v1.tar") == NONE
    with pytest.raises(CompressionError, match="encrypted"):
        from_media_type("application/vnd.oci.image.layer.v1.tar+gzip+encrypted")


def test_corrupt_gzip_is_a_layer_error(tmp_path):
    blob = tmp_path / "bad"
    blob.write_bytes(gzip.compress(tar_bytes([file("a", "x" * 10000)]))[:-40] + b"\0" * 40)
    os.mkdir(tmp_path / "r")
    with pytest.raises(LayerError, match="layer"):
        apply_layer(str(blob), str(tmp_path / "r"))


def test_wrong_diff_id_is_refused(tmp_path):
    with pytest.raises(DiffIDMismatch, match="does not match"):
        apply(tmp_path, [file("a", "x")], expected_diff_id="sha256:" + "0" * 64)


# --- file types and metadata ---------------------------------------------------------------


def test_types_modes_times_and_symlink_targets_are_kept(tmp_path):
    root, _ = apply(
        tmp_path,
        [
            directory("./", mode=0o755, mtime=1_000),
            directory("tmp", mode=0o1777, mtime=2_000),
            file("tmp/x", "x", mtime=3_000),
            directory("usr/bin", mode=0o755, mtime=4_000),
            file("usr/bin/su", "su", mode=0o4755, mtime=5_000),
            file("usr/bin/wall", "w", mode=0o2755),
            symlink("usr/bin/abs", "/usr/bin/su"),
            symlink("usr/bin/rel", "../../tmp/./x//"),
            symlink("dangling", "/nowhere/at/all"),
            hardlink("usr/bin/su2", "usr/bin/su"),
        ],
    )
    assert stat.S_IMODE(os.lstat(f"{root}/tmp").st_mode) == 0o1777
    assert stat.S_IMODE(os.lstat(f"{root}/usr/bin/su").st_mode) == 0o4755
    assert stat.S_IMODE(os.lstat(f"{root}/usr/bin/wall").st_mode) == 0o2755
    assert os.readlink(f"{root}/usr/bin/abs") == "/usr/bin/su"
    assert os.readlink(f"{root}/usr/bin/rel") == "../../tmp/./x//"
    assert os.readlink(f"{root}/dangling") == "/nowhere/at/all"
    assert os.lstat(f"{root}/usr/bin/su2").st_ino == os.lstat(f"{root}/usr/bin/su").st_ino
    # directory times are set after their children were made
    assert os.lstat(f"{root}/tmp").st_mtime == 2_000
    assert os.lstat(f"{root}/usr/bin").st_mtime == 4_000
    assert os.lstat(root).st_mtime == 1_000
    assert os.lstat(f"{root}/tmp/x").st_mtime == 3_000


def test_user_xattrs_are_kept_and_overlay_xattrs_from_the_layer_dropped(tmp_path):
    root, _ = apply(
        tmp_path,
        [
            file("f", "x", xattrs={"user.note": b"\x00\xffbin", "trusted.overlay.redirect": b"/x"}),
            directory("d", xattrs={"trusted.overlay.opaque": b"y"}),
        ],
    )
    assert os.getxattr(f"{root}/f", "user.note") == b"\x00\xffbin"
    if IS_ROOT:
        assert "trusted.overlay.redirect" not in os.listxattr(f"{root}/f")
        assert "trusted.overlay.opaque" not in os.listxattr(f"{root}/d")


@pytest.mark.root
def test_owners_devices_fifos_and_capabilities_are_kept(tmp_path):
    cap = bytes.fromhex("0100000200200000000000000000000000000000")  # cap_net_raw+ep
    root, _ = apply(
        tmp_path,
        [
            file("owned", "x", uid=1000, gid=1001, mode=0o4750),
            entry("dev/null", "char", dev=(1, 3), mode=0o666),
            entry("dev/loop9", "block", dev=(7, 9), mode=0o660, gid=6),
            entry("run/fifo", "fifo", mode=0o620),
            file("ping", "p", mode=0o755, xattrs={"security.capability": cap}),
            symlink("link", "owned", uid=7, gid=8),
        ],
    )
    st = os.lstat(f"{root}/owned")
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (1000, 1001, 0o4750)
    st = os.lstat(f"{root}/dev/null")
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == os.makedev(1, 3)
    assert stat.S_IMODE(st.st_mode) == 0o666
    st = os.lstat(f"{root}/dev/loop9")
    assert stat.S_ISBLK(st.st_mode) and st.st_rdev == os.makedev(7, 9) and st.st_gid == 6
    assert stat.S_ISFIFO(os.lstat(f"{root}/run/fifo").st_mode)
    assert stat.S_IMODE(os.lstat(f"{root}/run/fifo").st_mode) == 0o620
    assert os.getxattr(f"{root}/ping", "security.capability") == cap
    st = os.lstat(f"{root}/link")
    assert (st.st_uid, st.st_gid) == (7, 8)


# --- whiteouts -----------------------------------------------------------------------------


def lower_layer(tmp_path, mode):
    return apply(
        tmp_path,
        [
            file("etc/passwd", "root\n"),
            file("etc/deleteme", "x"),
            file("opq/old1", "1"),
            directory("opq/olddir"),
            file("opq/olddir/f", "f"),
            directory("gone"),
            file("gone/f", "f"),
            file("shared.so", "lib", mode=0o755, uid=0),
        ],
        mode=mode,
    )[0]


def test_flat_whiteouts_delete_lower_content_but_not_this_layers(tmp_path):
    root = lower_layer(tmp_path, FLAT)
    apply(
        tmp_path,
        [
            file("etc/.wh.deleteme"),
            file("opq/kept-before", "k"),  # same layer as the opaque marker: stays
            file("opq/.wh..wh..opq"),
            file("opq/new", "n"),
            file(".wh.gone"),
            file("again", "new"),
            file(".wh.again"),  # whiteout after the file in the same layer: the file stays
        ],
        root,
        mode=FLAT,
    )
    assert not os.path.lexists(f"{root}/etc/deleteme")
    assert os.path.isfile(f"{root}/etc/passwd")
    assert sorted(os.listdir(f"{root}/opq")) == ["kept-before", "new"]
    assert not os.path.lexists(f"{root}/gone")
    assert os.path.isfile(f"{root}/again")


@pytest.mark.root
def test_overlay_whiteouts_become_char_devices_and_opaque_xattrs(tmp_path):
    _, _ = apply(tmp_path, [file("etc/passwd", "x")], str(tmp_path / "lower"))
    snap, _ = apply(
        tmp_path,
        [
            directory("etc"),
            file("etc/.wh.deleteme"),
            directory("opq"),
            file("opq/.wh..wh..opq"),
            file("opq/new", "n"),
            file(".wh.gone"),
            file(".wh.redo"),
            directory("redo"),  # whited out, then made again in the same layer: opaque
            file("kept", "k"),
            file(".wh.kept"),  # file of this layer: the whiteout does not hide it
        ],
        str(tmp_path / "upper"),
    )
    for path in ("etc/deleteme", "gone"):
        st = os.lstat(f"{snap}/{path}")
        assert stat.S_ISCHR(st.st_mode) and st.st_rdev == 0
    assert os.getxattr(f"{snap}/opq", "trusted.overlay.opaque") == b"y"
    assert os.listdir(f"{snap}/opq") == ["new"]
    assert os.getxattr(f"{snap}/redo", "trusted.overlay.opaque") == b"y"
    assert os.path.isfile(f"{snap}/kept")
    assert "trusted.overlay.opaque" not in os.listxattr(f"{snap}/etc")


# --- hardlinks into lower layers -----------------------------------------------------------


@pytest.mark.root
def test_hardlink_to_a_lower_layer_file_is_materialised_as_a_copy(tmp_path):
    lower = lower_layer(tmp_path, OVERLAY)
    upper, result = apply(
        tmp_path,
        [hardlink("lib/alias.so", "shared.so"), hardlink("lib/alias2.so", "lib/alias.so")],
        str(tmp_path / "upper"),
    )
    assert result.pending_links == {"lib/alias.so": "shared.so", "lib/alias2.so": "lib/alias.so"}
    settle_on_lowers(upper, result, [lower])
    st = os.lstat(f"{upper}/lib/alias.so")
    assert stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o755
    assert st.st_ino != os.lstat(f"{lower}/shared.so").st_ino
    assert st.st_ino == os.lstat(f"{upper}/lib/alias2.so").st_ino
    with open(f"{upper}/lib/alias.so") as f:
        assert f.read() == "lib"


@pytest.mark.root
def test_hardlink_to_a_whited_out_lower_file_is_refused(tmp_path):
    bottom = lower_layer(tmp_path, OVERLAY)
    middle, _ = apply(tmp_path, [file(".wh.shared.so")], str(tmp_path / "middle"))
    upper = str(tmp_path / "upper")
    os.mkdir(upper)
    with pytest.raises(LayerError, match="target not found"):
        apply(tmp_path, [hardlink("alias", "shared.so")], upper, lowers=[middle, bottom])


# --- snapshots ------------------------------------------------------------------------------


def test_chain_ids_follow_the_image_spec():
    a, b, c = ("sha256:" + ch * 64 for ch in "abc")
    ab = "sha256:" + hashlib.sha256(f"{a} {b}".encode()).hexdigest()
    abc = "sha256:" + hashlib.sha256(f"{ab} {c}".encode()).hexdigest()
    assert chain_ids([a, b, c]) == [a, ab, abc]
    assert chain_ids([]) == []


def test_snapshot_store_commits_once_and_gc_keeps_what_is_asked(tmp_path):
    store = SnapshotStore(str(tmp_path / "snapshots"))
    a, b = "sha256:" + "a" * 64, "sha256:" + "b" * 64
    for chain_id, content in ((a, "first"), (a, "second"), (b, "b")):
        temp = store.new_temp()
        with open(os.path.join(temp, "f"), "w") as f:
            f.write(content)
        store.commit(temp, chain_id)
    with open(os.path.join(store.path(a), "f")) as f:
        assert f.read() == "first"  # the second writer's copy was dropped
    assert store.list() == [a, b]
    leftover = store.new_temp()
    assert store.gc([a]) == [b]
    assert store.list() == [a]
    assert not os.path.exists(leftover)
    assert os.listdir(store.tmp_root) == []
    assert stat.S_IMODE(os.stat(store.root).st_mode) == 0o700


def test_snapshot_temp_root_asks_ext4_to_spread_new_snapshots(tmp_path):
    import fcntl
    import struct

    store = SnapshotStore(str(tmp_path / "snapshots"))
    store.ensure()
    fd = os.open(store.tmp_root, os.O_RDONLY)
    try:
        flags = struct.unpack("i", fcntl.ioctl(fd, 0x80086601, bytes(4)))[0]
    except OSError:
        pytest.skip("this filesystem has no inode flags (not ext2/3/4)")
    finally:
        os.close(fd)
    assert flags & 0x00020000  # FS_TOPDIR_FL, chattr +T


@pytest.mark.root
def test_a_layer_root_entry_is_kept_and_an_implied_root_takes_the_lower_root(tmp_path):
    lower, _ = apply(tmp_path, [directory("./", mode=0o750, uid=5)], str(tmp_path / "lower"))
    with_root, _ = apply(
        tmp_path,
        [directory("./", mode=0o711), file("a", "a")],
        str(tmp_path / "u1"),
        lowers=[lower],
    )
    implied, _ = apply(tmp_path, [file("b", "b")], str(tmp_path / "u2"), lowers=[lower])
    assert stat.S_IMODE(os.stat(with_root).st_mode) == 0o711
    st = os.stat(implied)
    assert (stat.S_IMODE(st.st_mode), st.st_uid) == (0o750, 5)

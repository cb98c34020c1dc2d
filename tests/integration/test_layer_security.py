"""Hostile layers never write, chmod, chown or link outside the directory they are applied to.

Each test applies a crafted layer in both modes (OVERLAY: a snapshot; FLAT: a rootfs) to
`<tmp>/root`, next to `<tmp>/outside` which holds a victim file and directory, and to
/tmp, where an escaping write would land under a unique name.  The entry is either
neutralised (cleaned to a path inside the root, as containerd does) or refused with a
LayerError; in both cases nothing outside the root changed.
"""

from __future__ import annotations

import os
import stat
import uuid

import pytest

from oci.layer import FLAT, OVERLAY, LayerError, apply_layer
from tests.layer_tars import directory, file, hardlink, snapshot_tree, symlink, write_layer

MODES = [OVERLAY, FLAT]


class Sandbox:
    def __init__(self, base: str, layer: str):
        self.base = base
        self.root = os.path.join(base, "root")
        self.outside = os.path.join(base, "outside")
        os.makedirs(self.root)
        os.makedirs(os.path.join(self.outside, "dir"))
        self.victim = os.path.join(self.outside, "victim")
        with open(self.victim, "w") as f:
            f.write("precious\n")
        os.chmod(self.victim, 0o600)
        os.chmod(os.path.join(self.outside, "dir"), 0o700)
        self.unique = f"mkpy-escape-{uuid.uuid4().hex}"  # would appear in /tmp on escape
        self.layer = layer
        self.before = self.tree()

    def tree(self) -> dict:
        return snapshot_tree(self.base, skip=self.root)

    def apply(
        self,
        entries: list[dict],
        mode: str,
        lowers: list[str] | None = None,
        expect_error: str | None = None,
    ) -> None:
        write_layer(self.layer, entries)
        if lowers is None and mode == OVERLAY:
            lowers = []
        if expect_error is None:
            apply_layer(self.layer, self.root, mode=mode, lowers=lowers)
            return
        with pytest.raises(LayerError, match=expect_error):
            apply_layer(self.layer, self.root, mode=mode, lowers=lowers)

    def assert_outside_unchanged(self) -> None:
        assert self.tree() == self.before
        assert not os.path.lexists(os.path.join("/tmp", self.unique))
        assert os.lstat(self.victim).st_nlink == 1

    def inside(self, *parts: str) -> str:
        return os.path.join(self.root, *(p.lstrip("/") for p in parts))


@pytest.fixture
def box(tmp_path):
    return Sandbox(str(tmp_path / "box"), str(tmp_path / "layer.tar"))


@pytest.mark.parametrize("mode", MODES)
def test_absolute_path_lands_inside_the_root(box, mode):
    box.apply([file(box.victim, "pwned\n"), file(f"/tmp/{box.unique}", "pwned\n")], mode)
    box.assert_outside_unchanged()
    with open(box.inside(box.victim)) as f:
        assert f.read() == "pwned\n"
    assert os.path.isfile(box.inside("tmp", box.unique))


@pytest.mark.parametrize("mode", MODES)
def test_dotdot_components_are_clamped_at_the_root(box, mode):
    up = "../" * 20
    box.apply(
        [
            file(f"{up}outside/victim", "pwned\n"),
            file("a/../../../outside/victim2", "pwned\n"),
            file(f"{up}tmp/{box.unique}", "pwned\n"),
        ],
        mode,
    )
    box.assert_outside_unchanged()
    assert os.path.isfile(box.inside("outside/victim"))
    assert os.path.isfile(box.inside("outside/victim2"))
    assert os.path.isfile(box.inside("tmp", box.unique))


@pytest.mark.parametrize("mode", MODES)
def test_write_through_a_symlink_of_the_layer_stays_inside(box, mode):
    box.apply(
        [
            symlink("abs", box.outside),
            file("abs/victim", "pwned\n"),
            symlink("rel", "../" * 20 + box.outside.lstrip("/")),
            file("rel/dir/new", "pwned\n"),
        ],
        mode,
    )
    box.assert_outside_unchanged()
    # followed as if the root were `/`: the files exist under <root><outside>
    with open(box.inside(box.outside, "victim")) as f:
        assert f.read() == "pwned\n"
    assert os.path.isfile(box.inside(box.outside, "dir/new"))
    assert os.readlink(box.inside("abs")) == box.outside  # target kept verbatim


@pytest.mark.parametrize("mode", MODES)
def test_symlink_to_slash_then_write_under_it(box, mode):
    box.apply(
        [
            symlink("hostroot", "/"),
            file(f"hostroot/tmp/{box.unique}", "pwned\n"),
            directory("hostroot/etc", mode=0o777),
            file(f"hostroot{box.victim}", "pwned\n"),
        ],
        mode,
    )
    box.assert_outside_unchanged()
    assert os.path.isfile(box.inside("tmp", box.unique))
    assert stat.S_IMODE(os.stat(box.inside("etc")).st_mode) == 0o777
    assert os.stat("/etc").st_mode & 0o777 != 0o777


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("target", ["abs", "dotdot", "via-symlink"])
def test_hardlink_to_a_path_outside_is_refused(box, mode, target):
    linkname = {
        "abs": box.victim,
        "dotdot": "../" * 20 + box.victim.lstrip("/"),
        "via-symlink": "out/victim",
    }[target]
    entries = [symlink("out", box.outside), hardlink("stolen", linkname)]
    with pytest.raises(LayerError, match="stolen"):
        box.apply(entries, mode)
    box.assert_outside_unchanged()


@pytest.mark.parametrize("mode", MODES)
def test_whiteouts_aimed_outside_only_touch_the_root(box, mode):
    up = "../" * 20
    box.apply(
        [
            file("keep", "mine\n"),
            file(f"{up}{box.outside.lstrip('/')}/.wh.victim"),
            symlink("out", box.outside),
            file("out/.wh.victim"),
            file("out/.wh.dir"),
            file("out/.wh..wh..opq"),
            file(f"{up}.wh.outside"),
        ],
        mode,
    )
    box.assert_outside_unchanged()
    assert os.path.isfile(box.inside("keep"))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", [".wh..", ".wh..."])
def test_whiteout_of_dot_or_dotdot_is_refused(box, mode, name):
    with pytest.raises(LayerError, match="invalid whiteout"):
        box.apply([file("a/keep", "x"), file(f"a/{name}")], mode)
    box.assert_outside_unchanged()
    assert os.path.isfile(box.inside("a/keep"))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", [".", "./", "a/..", "/", "../.."])
def test_file_named_dot_is_refused(box, mode, name):
    with pytest.raises(LayerError, match="root directory"):
        box.apply([file(name, "pwned\n")], mode)
    box.assert_outside_unchanged()
    assert stat.S_ISDIR(os.lstat(box.root).st_mode)


@pytest.mark.parametrize("mode", MODES)
def test_symlink_named_dot_is_refused(box, mode):
    with pytest.raises(LayerError, match="root directory"):
        box.apply([symlink(".", box.outside)], mode)
    box.assert_outside_unchanged()


@pytest.mark.parametrize("mode", MODES)
def test_repeated_entries_with_another_type_replace_never_follow(box, mode):
    box.apply(
        [
            directory("d"),
            symlink("d", box.outside),  # replaces the directory
            file("d/victim", "pwned\n"),  # resolved inside the root
            symlink("f", box.victim),
            file("f", "replaced\n", mode=0o777),  # replaces the symlink, not its target
            symlink("g", box.outside),
            directory("g", mode=0o777, uid=1234),  # no chmod/chown through the symlink
            symlink("h", box.victim),
            hardlink("h2", "h"),  # links the symlink itself
        ],
        mode,
    )
    box.assert_outside_unchanged()
    assert os.path.isfile(box.inside(box.outside, "victim"))
    assert stat.S_ISREG(os.lstat(box.inside("f")).st_mode)
    with open(box.inside("f")) as f:
        assert f.read() == "replaced\n"
    g = os.lstat(box.inside("g"))
    assert stat.S_ISDIR(g.st_mode) and stat.S_IMODE(g.st_mode) == 0o777 and g.st_uid == 1234
    assert os.readlink(box.inside("h2")) == box.victim


@pytest.mark.parametrize("mode", MODES)
def test_symlink_loop_is_refused(box, mode):
    with pytest.raises(LayerError, match="symlinks"):
        box.apply([symlink("a", "b"), symlink("b", "a"), file("a/x", "x")], mode)
    box.assert_outside_unchanged()


@pytest.mark.parametrize("mode", MODES)
def test_symlink_to_outside_file_is_kept_but_never_written(box, mode):
    box.apply([symlink("link", box.victim), file("link", "pwned\n")], mode)
    box.assert_outside_unchanged()
    assert os.path.isfile(box.inside("link"))


def test_lower_layer_symlinks_do_not_lead_settling_outside(box, tmp_path):
    lower = str(tmp_path / "lower")
    os.mkdir(lower)
    write_layer(
        str(tmp_path / "lower.tar"),
        [
            symlink("slash", "/"),
            symlink("up", "../" * 20 + box.outside.lstrip("/")),
            symlink("abs", box.outside),
            symlink("loop", "loop"),
            file("lib/real.so", "real\n"),
        ],
    )
    apply_layer(str(tmp_path / "lower.tar"), lower, mode=OVERLAY, lowers=[])
    box.apply(
        [
            file(f"slash/tmp/{box.unique}", "pwned\n"),
            file("up/victim", "pwned\n"),
            file("abs/dir/new", "pwned\n"),
            hardlink("stolen", "abs/victim"),  # the in-root copy of the path, made above
        ],
        OVERLAY,
        lowers=[lower],
    )
    box.assert_outside_unchanged()
    # each write followed the lower symlink inside the root, as if the root were `/`
    assert os.path.isfile(box.inside("tmp", box.unique))
    assert os.path.isfile(box.inside(box.outside, "dir/new"))
    with open(box.inside("stolen")) as f:
        assert f.read() == "pwned\n"
    assert os.lstat(box.inside("stolen")).st_ino == os.lstat(box.inside(box.victim)).st_ino
    # a lower symlink to itself: the layer's own directory simply shadows it
    box.apply([file("loop/x", "x")], OVERLAY, lowers=[lower])
    box.assert_outside_unchanged()
    assert os.path.isfile(box.inside("loop/x"))

"""The container spec: validation, JSON round trip, capabilities, mount plans, paths."""

from __future__ import annotations

import os

import pytest

from runtime import linux
from runtime.defaults import DEFAULT_CAPABILITIES
from runtime.errors import SpecError, StartError
from runtime.mounts import overlay_data, parse_options, plan_mount
from runtime.paths import secure_join
from runtime.spec import Capabilities, Mount, Namespace, Process, Resources, Root, Spec

ALL = [
    f"CAP_{n}"
    for n in (
        "CHOWN",
        "SYS_ADMIN",
        "NET_ADMIN",
        "KILL",
        "NET_RAW",
        "MKNOD",
        "DAC_OVERRIDE",
        "FSETID",
        "FOWNER",
        "SETGID",
        "SETUID",
        "SETFCAP",
        "SETPCAP",
        "NET_BIND_SERVICE",
        "SYS_CHROOT",
        "AUDIT_WRITE",
    )
]


def spec(tmp_path, **kw) -> Spec:
    return Spec(process=Process(args=["/bin/sh"]), root=Root(str(tmp_path)), **kw)


def test_a_minimal_spec_validates_and_round_trips_through_json(tmp_path):
    s = spec(tmp_path, hostname="web", resources=Resources(memory_limit=1 << 24))
    s.validate()
    again = Spec.from_dict(s.to_dict())
    assert again == s


def test_missing_rootfs_is_a_precise_error(tmp_path):
    s = spec(tmp_path)
    s.root.path = str(tmp_path / "nope")
    with pytest.raises(SpecError, match=r"root.path: rootfs .*/nope: no such directory"):
        s.validate()


def test_namespace_path_that_does_not_exist_names_the_field(tmp_path):
    s = spec(tmp_path)
    s.namespaces[1] = Namespace("network", "/proc/999999999/ns/net")
    with pytest.raises(SpecError, match=r"namespaces\[1\].path: /proc/999999999/ns/net: no such"):
        s.validate()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda s: setattr(s.process, "args", []), "process.args"),
        (lambda s: setattr(s.process, "cwd", "work"), "process.cwd"),
        (lambda s: setattr(s.process, "env", ["NOEQUALS"]), r"process.env\[0\]"),
        (lambda s: s.namespaces.append(Namespace("user")), r"namespaces\[5\].type"),
        (lambda s: setattr(s, "namespaces", [Namespace("pid")]), "namespaces"),
        (lambda s: s.mounts.append(Mount("rel", "tmpfs")), r"mounts\[7\].destination"),
        (lambda s: s.mounts.append(Mount("/x", "nfs")), r"mounts\[7\].type"),
        (lambda s: setattr(s.resources, "memory_limit", 0), "resources.memory_limit"),
        (lambda s: setattr(s.root, "upper", "/u"), "root"),
    ],
)
def test_invalid_fields_are_named(tmp_path, change, field):
    s = spec(tmp_path)
    change(s)
    with pytest.raises(SpecError, match=field):
        s.validate()


def test_from_dict_names_the_bad_field(tmp_path):
    d = spec(tmp_path).to_dict()
    d["process"]["uid"] = "root"
    with pytest.raises(SpecError, match=r"spec.process.uid: expected an integer"):
        Spec.from_dict(d)
    d = spec(tmp_path).to_dict()
    d["process"]["colour"] = 1
    with pytest.raises(SpecError, match=r"spec.process: unknown field"):
        Spec.from_dict(d)


def test_docker_default_capabilities_with_add_and_drop():
    assert Capabilities().resolve(ALL) == sorted(DEFAULT_CAPABILITIES)
    caps = Capabilities(add=["net_admin"], drop=["CAP_KILL"]).resolve(ALL)
    assert "CAP_NET_ADMIN" in caps and "CAP_KILL" not in caps and "CAP_SYS_ADMIN" not in caps
    assert Capabilities(privileged=True).resolve(ALL) == sorted(ALL)
    assert Capabilities(drop=["ALL"], add=["chown"]).resolve(ALL) == ["CAP_CHOWN"]
    with pytest.raises(SpecError, match=r"process.capabilities.add: unknown capability 'fly'"):
        Capabilities(add=["fly"]).resolve(ALL)


def test_mount_options_become_flags_and_data():
    flags, prop, data = parse_options(["nosuid", "ro", "size=64k", "mode=755", "rprivate"])
    assert flags == linux.MS_NOSUID | linux.MS_RDONLY
    assert prop == linux.MS_PRIVATE | linux.MS_REC
    assert data == "size=64k,mode=755"


def test_read_only_bind_is_planned_as_bind_then_remount(tmp_path):
    f = tmp_path / "hosts"
    f.write_text("127.0.0.1 localhost\n")
    step = plan_mount(Mount("/etc/hosts", "bind", str(f), ["ro"]), 0)
    assert step["flags"] & linux.MS_BIND
    assert step["remount_flags"] == linux.MS_RDONLY
    assert step["source_is_file"] is True
    with pytest.raises(SpecError, match=r"mounts\[3\].options: bad size"):
        plan_mount(Mount("/tmp", "tmpfs", "tmpfs", ["size=lots"]), 3)


def test_overlay_data_orders_lower_dirs_top_first():
    r = Root("/m", lower=["/l2", "/l1"], upper="/u", work="/w")
    assert overlay_data(r) == "lowerdir=/l2:/l1,upperdir=/u,workdir=/w"
    many = Root("/m", lower=[f"/snapshots/{i:064x}" for i in range(60)], upper="/u", work="/w")
    with pytest.raises(SpecError, match=r"root.lower: overlay mount data is .* 4095 at most"):
        overlay_data(many)


def test_secure_join_keeps_symlinks_and_dotdot_inside_the_root(tmp_path):
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    os.symlink("/etc", root / "abs")
    os.symlink("../../../../etc", root / "rel")
    assert secure_join(str(root), "/../../etc/passwd") == f"{root}/etc/passwd"
    assert secure_join(str(root), "/abs/x") == f"{root}/etc/x"
    assert secure_join(str(root), "/rel/x") == f"{root}/etc/x"


def test_start_error_reads_like_runc():
    e = StartError("web", "exec", "/bin/nope", 2)
    assert str(e) == 'container web: exec "/bin/nope": no such file or directory'


def test_executable_lookup_follows_path_and_reports_like_exec(tmp_path):
    from runtime.init import StepFailed, _find_executable

    (tmp_path / "bin").mkdir()
    prog = tmp_path / "bin" / "prog"
    prog.write_text("#!/bin/sh\n")
    prog.chmod(0o755)
    data = tmp_path / "bin" / "data"
    data.write_text("x")
    data.chmod(0o644)
    env = [f"PATH=/nonexistent:{tmp_path}/bin"]
    assert _find_executable("prog", env) == f"{tmp_path}/bin/prog"
    assert _find_executable(str(prog), []) == str(prog)
    with pytest.raises(StepFailed) as e:
        _find_executable("missing", env)
    assert e.value.report == {
        "step": "exec",
        "path": "missing",
        "errno": 2,
        "detail": "not found in $PATH",
    }
    with pytest.raises(StepFailed) as e:
        _find_executable(str(tmp_path / "bin"), env)
    assert e.value.report["errno"] == 21  # EISDIR
    with pytest.raises(StepFailed) as e:
        _find_executable(str(data), env)
    assert e.value.report["errno"] == 13  # EACCES

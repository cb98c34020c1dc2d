"""The container spec: a typed subset of the OCI runtime-spec.

Field names follow the OCI runtime-spec (config.md, config-linux.md) in
snake_case.  `Spec.to_dict()`/`Spec.from_dict()` round-trip through JSON,
which is how the spec travels to the init process.  `validate()` checks what
can be checked without touching the container (the child reports the rest).
"""

from __future__ import annotations

import dataclasses
import functools
import os
import types
import typing
from dataclasses import dataclass, field
from typing import Any

from runtime import defaults
from runtime.errors import SpecError

NAMESPACE_TYPES = ("pid", "network", "mount", "ipc", "uts", "cgroup")
MOUNT_TYPES = ("bind", "tmpfs", "proc", "sysfs", "devpts", "mqueue", "cgroup", "overlay")


@dataclass
class Rlimit:
    type: str  # "RLIMIT_NOFILE"
    soft: int
    hard: int


@dataclass
class Capabilities:
    """Docker's semantics: a base set (Docker's default), plus add, minus drop.

    `privileged` keeps every capability the kernel knows.
    """

    add: list[str] = field(default_factory=list)
    drop: list[str] = field(default_factory=list)
    privileged: bool = False
    base: list[str] | None = None  # None = Docker's default set

    def resolve(self, all_caps: list[str]) -> list[str]:
        """The final set as upper-case CAP_ names, given the kernel's caps."""
        known = {c.upper() for c in all_caps}

        def norm(name: str, where: str) -> str:
            n = name.upper()
            n = n if n.startswith("CAP_") else "CAP_" + n
            if n != "CAP_ALL" and n not in known:
                raise SpecError(f"process.capabilities.{where}", f"unknown capability {name!r}")
            return n

        if self.privileged:
            return sorted(known)
        base = defaults.DEFAULT_CAPABILITIES if self.base is None else self.base
        caps = {norm(c, "base") for c in base}
        added = {norm(c, "add") for c in self.add}
        dropped = {norm(c, "drop") for c in self.drop}
        caps = known if "CAP_ALL" in added else caps | added
        if "CAP_ALL" in dropped:
            caps = set(added) - {"CAP_ALL"}
        return sorted(c for c in caps - dropped if c in known)


@dataclass
class Process:
    args: list[str]
    env: list[str] = field(default_factory=lambda: [f"PATH={defaults.DEFAULT_PATH}"])
    cwd: str = "/"
    uid: int = 0
    gid: int = 0
    additional_gids: list[int] = field(default_factory=list)
    no_new_privileges: bool = True
    capabilities: Capabilities = field(default_factory=Capabilities)
    rlimits: list[Rlimit] = field(default_factory=list)
    oom_score_adj: int | None = None
    # A program of the runtime's own that the init runs instead of exec'ing `args` (which
    # then only name it): "pause" holds the container's namespaces, reaps its children and
    # exits 0 on SIGINT or SIGTERM, with nothing to exec and no file of the root to read.
    builtin: str | None = None


BUILTINS = ("pause",)


@dataclass
class Root:
    """The root filesystem.

    Plain directory: `path` is bind-mounted as the new root.
    Overlay: `lower` (top-most first, as overlayfs's lowerdir), `upper` and
    `work` are mounted as overlay on `path` (an existing empty directory),
    inside the container's own mount namespace only.
    """

    path: str
    readonly: bool = False
    lower: list[str] = field(default_factory=list)
    upper: str | None = None
    work: str | None = None

    @property
    def is_overlay(self) -> bool:
        return bool(self.lower)


@dataclass
class Mount:
    destination: str
    type: str
    source: str = ""
    options: list[str] = field(default_factory=list)


@dataclass
class Namespace:
    type: str
    path: str | None = None  # join this one (e.g. /proc/PID/ns/net) instead of a new one


@dataclass
class Resources:
    memory_limit: int | None = None  # bytes
    memory_swap: int | None = None  # bytes, memory+swap (v1 semantics); None = same as limit
    cpu_quota: int | None = None  # microseconds per period
    cpu_period: int | None = None  # microseconds
    cpu_shares: int | None = None  # v1 shares; converted to weight on v2
    cpu_weight: int | None = None  # v2 weight; converted to shares on v1
    pids_limit: int | None = None


@dataclass
class Spec:
    process: Process
    root: Root
    hostname: str | None = None
    mounts: list[Mount] = field(default_factory=lambda: default_mounts())
    namespaces: list[Namespace] = field(default_factory=lambda: default_namespaces())
    # relative: under the caller's own cgroup (per hierarchy); absolute: from the root.
    # None: "<DEFAULT_CGROUP_PARENT>/<container id>".
    cgroups_path: str | None = None
    resources: Resources = field(default_factory=Resources)
    masked_paths: list[str] = field(default_factory=lambda: list(defaults.DEFAULT_MASKED_PATHS))
    readonly_paths: list[str] = field(default_factory=lambda: list(defaults.DEFAULT_READONLY_PATHS))
    # mknod the minimal /dev into the mount at /dev (skipped when there is none)
    default_devices: bool = True

    def namespace(self, type_: str) -> Namespace | None:
        return next((n for n in self.namespaces if n.type == type_), None)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Spec:
        return _from_dict(cls, data, "spec")

    def validate(self) -> None:
        validate(self)


def default_namespaces() -> list[Namespace]:
    return [Namespace(t) for t in ("pid", "network", "ipc", "uts", "mount")]


def default_mounts() -> list[Mount]:
    """Docker's default mounts: proc, a tmpfs /dev with pts/shm/mqueue, sysfs ro."""
    return [
        Mount("/proc", "proc", "proc", ["nosuid", "noexec", "nodev"]),
        Mount("/dev", "tmpfs", "tmpfs", ["nosuid", "strictatime", "mode=755", "size=65536k"]),
        Mount(
            "/dev/pts",
            "devpts",
            "devpts",
            ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"],
        ),
        Mount(
            "/dev/shm", "tmpfs", "shm", ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]
        ),
        Mount("/dev/mqueue", "mqueue", "mqueue", ["nosuid", "noexec", "nodev"]),
        Mount("/sys", "sysfs", "sysfs", ["nosuid", "noexec", "nodev", "ro"]),
        Mount("/sys/fs/cgroup", "cgroup", "cgroup", ["nosuid", "noexec", "nodev", "ro"]),
    ]


def validate(spec: Spec) -> None:
    p = spec.process
    if not p.args or not p.args[0]:
        raise SpecError("process.args", "must name an executable")
    if p.builtin is not None and p.builtin not in BUILTINS:
        raise SpecError("process.builtin", f"{p.builtin!r} is not one of {', '.join(BUILTINS)}")
    if not p.cwd.startswith("/"):
        raise SpecError("process.cwd", f"{p.cwd!r} is not absolute")
    for i, e in enumerate(p.env):
        if "=" not in e:
            raise SpecError(f"process.env[{i}]", f"{e!r} is not NAME=value")
    for name, value in (("uid", p.uid), ("gid", p.gid)):
        if value < 0:
            raise SpecError(f"process.{name}", f"{value} is negative")
    for i, r in enumerate(p.rlimits):
        if not r.type.startswith("RLIMIT_"):
            raise SpecError(f"process.rlimits[{i}].type", f"unknown rlimit {r.type!r}")
    if p.oom_score_adj is not None and not -1000 <= p.oom_score_adj <= 1000:
        raise SpecError("process.oom_score_adj", f"{p.oom_score_adj} not in -1000..1000")
    r = spec.root
    if not r.path.startswith("/"):
        raise SpecError("root.path", f"{r.path!r} is not absolute")
    if not os.path.isdir(r.path):
        raise SpecError("root.path", f"rootfs {r.path}: no such directory")
    if r.is_overlay:
        if not r.upper or not r.work:
            raise SpecError("root", "overlay root needs upper and work with lower")
        for i, d in enumerate([*r.lower, r.upper, r.work]):
            if not os.path.isdir(d):
                raise SpecError("root", f"overlay dir {d}: no such directory (#{i})")
    elif r.upper or r.work:
        raise SpecError("root", "upper/work given without lower dirs")
    seen = set()
    for i, ns in enumerate(spec.namespaces):
        if ns.type not in NAMESPACE_TYPES:
            raise SpecError(f"namespaces[{i}].type", f"unknown namespace {ns.type!r}")
        if ns.type in seen:
            raise SpecError(f"namespaces[{i}].type", f"{ns.type} given twice")
        seen.add(ns.type)
        if ns.path is not None and not os.path.exists(ns.path):
            raise SpecError(f"namespaces[{i}].path", f"{ns.path}: no such file or directory")
    mnt = spec.namespace("mount")
    if mnt is None or mnt.path is not None:
        # Every mount we make must die with the container, never touch the host.
        raise SpecError("namespaces", "a new mount namespace is required")
    uts = spec.namespace("uts")
    if spec.hostname is not None and (uts is None or uts.path is not None):
        # a joined uts namespace belongs to its owner (a pod's pause process)
        raise SpecError("hostname", "setting a hostname needs a new uts namespace")
    for i, m in enumerate(spec.mounts):
        if not m.destination.startswith("/"):
            raise SpecError(f"mounts[{i}].destination", f"{m.destination!r} is not absolute")
        if m.type not in MOUNT_TYPES:
            raise SpecError(f"mounts[{i}].type", f"unsupported mount type {m.type!r}")
        if m.type == "bind" and not os.path.exists(m.source):
            raise SpecError(f"mounts[{i}].source", f"{m.source}: no such file or directory")
    res = spec.resources
    for name in ("memory_limit", "cpu_quota", "cpu_period", "cpu_shares", "cpu_weight"):
        v = getattr(res, name)
        if v is not None and v <= 0:
            raise SpecError(f"resources.{name}", f"{v} must be positive")
    if res.pids_limit is not None and res.pids_limit <= 0 and res.pids_limit != -1:
        raise SpecError("resources.pids_limit", f"{res.pids_limit} must be positive")


@functools.cache
def _fields_of(cls: Any) -> tuple[dict[str, Any], frozenset[str]]:
    """A dataclass's resolved field types and names (resolving costs ~0.1 ms a class: the
    shim decodes every container's spec)."""
    return typing.get_type_hints(cls), frozenset(f.name for f in dataclasses.fields(cls))


def _from_dict(cls: Any, data: Any, where: str) -> Any:
    """Build dataclass `cls` from plain data, naming the field on error."""
    if not isinstance(data, dict):
        raise SpecError(where, f"expected an object, got {type(data).__name__}")
    hints, names = _fields_of(cls)
    unknown = set(data) - names
    if unknown:
        raise SpecError(where, f"unknown field(s) {sorted(unknown)}")
    kwargs = {k: _convert(hints[k], v, f"{where}.{k}") for k, v in data.items()}
    try:
        return cls(**kwargs)
    except TypeError as e:
        raise SpecError(where, str(e)) from None


def _convert(tp: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None:
            return None
        (inner,) = [a for a in typing.get_args(tp) if a is not type(None)]
        return _convert(inner, value, where)
    if origin is list:
        if not isinstance(value, list):
            raise SpecError(where, "expected a list")
        (inner,) = typing.get_args(tp)
        return [_convert(inner, v, f"{where}[{i}]") for i, v in enumerate(value)]
    if dataclasses.is_dataclass(tp):
        return _from_dict(tp, value, where)
    if tp is int and (not isinstance(value, int) or isinstance(value, bool)):
        raise SpecError(where, f"expected an integer, got {value!r}")
    if tp is str and not isinstance(value, str):
        raise SpecError(where, f"expected a string, got {value!r}")
    if tp is bool and not isinstance(value, bool):
        raise SpecError(where, f"expected true/false, got {value!r}")
    return value

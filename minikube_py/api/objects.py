"""Typed views of Kubernetes v1 objects: Pod and ReplicationController.

Each class reads itself from decoded JSON (``from_dict``) and writes the exact Kubernetes v1
JSON shape back (``to_dict``): Kubernetes' field names and order, empty optional fields
omitted.  Fields Kubernetes defines but the kubelet here does not act on (affinity,
tolerations, ...) are kept verbatim in ``extra`` so that nothing a user wrote is lost; fields
Kubernetes does not define are dropped and reported as unknown (see ``reader``).

Parsing never raises on bad input: type errors go to the ``ParseContext``.  Defaults live in
``defaults``, rules in ``validation``; ``manifest`` runs all three.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from minikube_py.api.quantity import Quantity
from minikube_py.api.reader import ObjectReader, ParseContext, parse_quantity
from minikube_py.errors import UnsupportedVolumeError


def _put(out: dict[str, Any], key: str, value: Any) -> None:
    """Set ``key`` unless ``value`` is empty (Go's ``omitempty``)."""
    if value is None or (isinstance(value, str | int | list | dict) and not value):
        return
    out[key] = value


def _put_set(out: dict[str, Any], key: str, value: Any) -> None:
    """Set ``key`` unless it is None (pointer fields: false and 0 are meaningful)."""
    if value is not None:
        out[key] = value


def _quantities(q: dict[str, Quantity]) -> dict[str, str]:
    return {k: str(v) for k, v in q.items()}


# ------------------------------------------------------------------------------ metadata


@dataclass
class OwnerReference:
    api_version: str = ""
    kind: str = ""
    name: str = ""
    uid: str = ""
    controller: bool | None = None
    block_owner_deletion: bool | None = None

    @classmethod
    def read(cls, r: ObjectReader) -> OwnerReference:
        ref = cls(
            api_version=r.str("apiVersion", ""),
            kind=r.str("kind", ""),
            name=r.str("name", ""),
            uid=r.str("uid", ""),
            controller=r.bool("controller"),
            block_owner_deletion=r.bool("blockOwnerDeletion"),
        )
        r.extra(frozenset())
        return ref

    def to_dict(self) -> dict[str, Any]:
        out = {
            "apiVersion": self.api_version,
            "kind": self.kind,
            "name": self.name,
            "uid": self.uid,
        }
        _put_set(out, "controller", self.controller)
        _put_set(out, "blockOwnerDeletion", self.block_owner_deletion)
        return out


_META_UNMODELLED = frozenset({"selfLink", "managedFields"})


@dataclass
class ObjectMeta:
    name: str = ""
    generate_name: str = ""
    namespace: str = ""
    uid: str = ""
    resource_version: str = ""
    generation: int | None = None
    creation_timestamp: str | None = None
    deletion_timestamp: str | None = None
    deletion_grace_period_seconds: int | None = None
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    owner_references: list[OwnerReference] = field(default_factory=list)
    finalizers: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def read(cls, r: ObjectReader) -> ObjectMeta:
        meta = cls(
            name=r.str("name", ""),
            generate_name=r.str("generateName", ""),
            namespace=r.str("namespace", ""),
            uid=r.str("uid", ""),
            resource_version=r.str("resourceVersion", ""),
            generation=r.int("generation"),
            creation_timestamp=r.str("creationTimestamp"),
            deletion_timestamp=r.str("deletionTimestamp"),
            deletion_grace_period_seconds=r.int("deletionGracePeriodSeconds"),
            labels=r.str_map("labels"),
            annotations=r.str_map("annotations"),
            owner_references=[
                OwnerReference.read(ObjectReader(r.ctx, item, path))
                for path, item in r.items("ownerReferences")
            ],
            finalizers=r.str_list("finalizers") or [],
        )
        meta.extra = r.extra(_META_UNMODELLED)
        return meta

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        _put(out, "name", self.name)
        _put(out, "generateName", self.generate_name)
        _put(out, "namespace", self.namespace)
        _put(out, "uid", self.uid)
        _put(out, "resourceVersion", self.resource_version)
        _put(out, "generation", self.generation)
        # Go serialises a zero creationTimestamp as null rather than omitting it.
        out["creationTimestamp"] = self.creation_timestamp
        _put_set(out, "deletionTimestamp", self.deletion_timestamp)
        _put_set(out, "deletionGracePeriodSeconds", self.deletion_grace_period_seconds)
        _put(out, "labels", dict(self.labels))
        _put(out, "annotations", dict(self.annotations))
        _put(out, "ownerReferences", [o.to_dict() for o in self.owner_references])
        _put(out, "finalizers", list(self.finalizers))
        out.update(self.extra)
        return out


# ------------------------------------------------------------------------------ container parts


@dataclass
class ContainerPort:
    container_port: int = 0
    name: str = ""
    host_port: int = 0
    host_ip: str = ""
    protocol: str = ""

    @classmethod
    def read(cls, r: ObjectReader) -> ContainerPort:
        port = cls(
            name=r.str("name", ""),
            host_port=r.int("hostPort") or 0,
            container_port=r.int("containerPort") or 0,
            protocol=r.str("protocol", ""),
            host_ip=r.str("hostIP", ""),
        )
        r.extra(frozenset())
        return port

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        _put(out, "name", self.name)
        _put(out, "hostPort", self.host_port)
        out["containerPort"] = self.container_port
        _put(out, "protocol", self.protocol)
        _put(out, "hostIP", self.host_ip)
        return out


@dataclass
class ObjectFieldSelector:
    field_path: str = ""
    api_version: str = ""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        _put(out, "apiVersion", self.api_version)
        out["fieldPath"] = self.field_path
        return out


_ENV_SOURCE_UNMODELLED = frozenset(
    {"resourceFieldRef", "configMapKeyRef", "secretKeyRef", "fileKeyRef"}
)


@dataclass
class EnvVarSource:
    field_ref: ObjectFieldSelector | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def read(cls, r: ObjectReader) -> EnvVarSource:
        source = cls()
        ref = r.reader("fieldRef")
        if ref is not None:
            source.field_ref = ObjectFieldSelector(
                api_version=ref.str("apiVersion", ""), field_path=ref.str("fieldPath", "")
            )
            ref.extra(frozenset())
        source.extra = r.extra(_ENV_SOURCE_UNMODELLED)
        return source

    @property
    def source_names(self) -> list[str]:
        """Which of fieldRef/resourceFieldRef/configMapKeyRef/secretKeyRef are set."""
        names = ["fieldRef"] if self.field_ref is not None else []
        return names + [k for k, v in self.extra.items() if v is not None]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.field_ref is not None:
            out["fieldRef"] = self.field_ref.to_dict()
        out.update(self.extra)
        return out


@dataclass
class EnvVar:
    name: str = ""
    value: str = ""
    value_from: EnvVarSource | None = None

    @classmethod
    def read(cls, r: ObjectReader) -> EnvVar:
        var = cls(name=r.str("name", ""), value=r.str("value", ""))
        source = r.reader("valueFrom")
        if source is not None:
            var.value_from = EnvVarSource.read(source)
        r.extra(frozenset())
        return var

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name}
        _put(out, "value", self.value)
        if self.value_from is not None:
            out["valueFrom"] = self.value_from.to_dict()
        return out


@dataclass
class ResourceRequirements:
    limits: dict[str, Quantity] = field(default_factory=dict)
    requests: dict[str, Quantity] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def read(cls, r: ObjectReader) -> ResourceRequirements:
        res = cls(limits=r.quantity_map("limits"), requests=r.quantity_map("requests"))
        res.extra = r.extra(frozenset({"claims"}))
        return res

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        _put(out, "limits", _quantities(self.limits))
        _put(out, "requests", _quantities(self.requests))
        out.update(self.extra)
        return out


@dataclass
class VolumeMount:
    name: str = ""
    mount_path: str = ""
    read_only: bool = False
    sub_path: str = ""
    mount_propagation: str | None = None
    sub_path_expr: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def read(cls, r: ObjectReader) -> VolumeMount:
        mount = cls(
            name=r.str("name", ""),
            read_only=bool(r.bool("readOnly")),
            mount_path=r.str("mountPath", ""),
            sub_path=r.str("subPath", ""),
            mount_propagation=r.str("mountPropagation"),
            sub_path_expr=r.str("subPathExpr", ""),
        )
        mount.extra = r.extra(frozenset({"recursiveReadOnly"}))
        return mount

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name}
        _put(out, "readOnly", self.read_only)
        out["mountPath"] = self.mount_path
        _put(out, "subPath", self.sub_path)
        _put_set(out, "mountPropagation", self.mount_propagation)
        _put(out, "subPathExpr", self.sub_path_expr)
        out.update(self.extra)
        return out


@dataclass
class Capabilities:
    add: list[str] = field(default_factory=list)
    drop: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        _put(out, "add", list(self.add))
        _put(out, "drop", list(self.drop))
        return out


_SC_UNMODELLED = frozenset(
    {"seLinuxOptions", "windowsOptions", "procMount", "seccompProfile", "appArmorProfile"}
)


@dataclass
class SecurityContext:
    capabilities: Capabilities | None = None
    privileged: bool | None = None
    run_as_user: int | None = None
    run_as_group: int | None = None
    run_as_non_root: bool | None = None
    read_only_root_filesystem: bool | None = None
    allow_privilege_escalation: bool | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def read(cls, r: ObjectReader) -> SecurityContext:
        sc = cls(
            privileged=r.bool("privileged"),
            run_as_user=r.int("runAsUser"),
            run_as_group=r.int("runAsGroup"),
            run_as_non_root=r.bool("runAsNonRoot"),
            read_only_root_filesystem=r.bool("readOnlyRootFilesystem"),
            allow_privilege_escalation=r.bool("allowPrivilegeEscalation"),
        )
        caps = r.reader("capabilities")
        if caps is not None:
            sc.capabilities = Capabilities(
                add=caps.str_list("add") or [], drop=caps.str_list("drop") or []
            )
            caps.extra(frozenset())
        sc.extra = r.extra(_SC_UNMODELLED)
        return sc

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.capabilities is not None:
            out["capabilities"] = self.capabilities.to_dict()
        _put_set(out, "privileged", self.privileged)
        _put_set(out, "runAsUser", self.run_as_user)
        _put_set(out, "runAsGroup", self.run_as_group)
        _put_set(out, "runAsNonRoot", self.run_as_non_root)
        _put_set(out, "readOnlyRootFilesystem", self.read_only_root_filesystem)
        _put_set(out, "allowPrivilegeEscalation", self.allow_privilege_escalation)
        out.update(self.extra)
        return out


@dataclass
class LifecycleHandler:
    """A postStart/preStop hook.  Only ``exec`` is run here; others are kept in ``extra``."""

    exec_command: list[str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def read(cls, r: ObjectReader) -> LifecycleHandler:
        handler = cls()
        exec_r = r.reader("exec")
        if exec_r is not None:
            handler.exec_command = exec_r.str_list("command") or []
            exec_r.extra(frozenset())
        handler.extra = r.extra(frozenset({"httpGet", "tcpSocket", "sleep"}))
        return handler

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.exec_command is not None:
            out["exec"] = {"command": list(self.exec_command)} if self.exec_command else {}
        out.update(self.extra)
        return out


@dataclass
class Lifecycle:
    post_start: LifecycleHandler | None = None
    pre_stop: LifecycleHandler | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def read(cls, r: ObjectReader) -> Lifecycle:
        life = cls()
        for key, attr in (("postStart", "post_start"), ("preStop", "pre_stop")):
            sub = r.reader(key)
            if sub is not None:
                setattr(life, attr, LifecycleHandler.read(sub))
        life.extra = r.extra(frozenset({"stopSignal"}))
        return life

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.post_start is not None:
            out["postStart"] = self.post_start.to_dict()
        if self.pre_stop is not None:
            out["preStop"] = self.pre_stop.to_dict()
        out.update(self.extra)
        return out


@dataclass
class HTTPGetAction:
    port: int | str = 0
    path: str = ""
    host: str = ""
    scheme: str = ""
    http_headers: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def read(cls, r: ObjectReader) -> HTTPGetAction:
        action = cls(
            port=_int_or_string(r, "port"),
            path=r.str("path", ""),
            host=r.str("host", ""),
            scheme=r.str("scheme", ""),
        )
        for p, v in r.items("httpHeaders"):
            h = ObjectReader(r.ctx, v, p)
            action.http_headers.append((h.str("name", ""), h.str("value", "")))
            h.extra(frozenset())
        r.extra(frozenset())
        return action

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"port": self.port}
        _put(out, "path", self.path)
        _put(out, "host", self.host)
        _put(out, "scheme", self.scheme)
        _put(out, "httpHeaders", [{"name": n, "value": v} for n, v in self.http_headers])
        return out


@dataclass
class TCPSocketAction:
    port: int | str = 0
    host: str = ""

    @classmethod
    def read(cls, r: ObjectReader) -> TCPSocketAction:
        action = cls(port=_int_or_string(r, "port"), host=r.str("host", ""))
        r.extra(frozenset())
        return action

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"port": self.port}
        _put(out, "host", self.host)
        return out


@dataclass
class Probe:
    """A liveness, readiness or startup probe: exec, httpGet or tcpSocket (grpc is kept in
    ``extra``, and refused by validation)."""

    exec_command: list[str] | None = None
    http_get: HTTPGetAction | None = None
    tcp_socket: TCPSocketAction | None = None
    initial_delay_seconds: int | None = None
    timeout_seconds: int | None = None
    period_seconds: int | None = None
    success_threshold: int | None = None
    failure_threshold: int | None = None
    termination_grace_period_seconds: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def read(cls, r: ObjectReader) -> Probe:
        probe = cls(
            initial_delay_seconds=r.int("initialDelaySeconds"),
            timeout_seconds=r.int("timeoutSeconds"),
            period_seconds=r.int("periodSeconds"),
            success_threshold=r.int("successThreshold"),
            failure_threshold=r.int("failureThreshold"),
            termination_grace_period_seconds=r.int("terminationGracePeriodSeconds"),
        )
        exec_r = r.reader("exec")
        if exec_r is not None:
            probe.exec_command = exec_r.str_list("command") or []
            exec_r.extra(frozenset())
        http = r.reader("httpGet")
        if http is not None:
            probe.http_get = HTTPGetAction.read(http)
        tcp = r.reader("tcpSocket")
        if tcp is not None:
            probe.tcp_socket = TCPSocketAction.read(tcp)
        probe.extra = r.extra(frozenset({"grpc"}))
        return probe

    @property
    def handlers(self) -> list[str]:
        return (
            (["exec"] if self.exec_command is not None else [])
            + (["httpGet"] if self.http_get is not None else [])
            + (["tcpSocket"] if self.tcp_socket is not None else [])
            + list(self.extra)
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.exec_command is not None:
            out["exec"] = {"command": list(self.exec_command)} if self.exec_command else {}
        if self.http_get is not None:
            out["httpGet"] = self.http_get.to_dict()
        if self.tcp_socket is not None:
            out["tcpSocket"] = self.tcp_socket.to_dict()
        out.update(self.extra)
        for key, value in (
            ("initialDelaySeconds", self.initial_delay_seconds),
            ("timeoutSeconds", self.timeout_seconds),
            ("periodSeconds", self.period_seconds),
            ("successThreshold", self.success_threshold),
            ("failureThreshold", self.failure_threshold),
            ("terminationGracePeriodSeconds", self.termination_grace_period_seconds),
        ):
            if value is not None:
                out[key] = value
        return out


def _int_or_string(r: ObjectReader, key: str) -> int | str:
    value = r.raw(key)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int | str):
        r._wrong(key, value, "an integer or a port name")
        return 0
    return value


PROBES = (("livenessProbe", "liveness_probe"), ("readinessProbe", "readiness_probe"),
          ("startupProbe", "startup_probe"))  # fmt: skip

_CONTAINER_UNMODELLED = frozenset(
    {
        "envFrom",
        "resizePolicy",
        "restartPolicy",
        "restartPolicyRules",
        "volumeDevices",
    }
)


@dataclass
class Container:
    name: str = ""
    image: str = ""
    command: list[str] | None = None
    args: list[str] | None = None
    working_dir: str = ""
    ports: list[ContainerPort] = field(default_factory=list)
    env: list[EnvVar] = field(default_factory=list)
    resources: ResourceRequirements = field(default_factory=ResourceRequirements)
    volume_mounts: list[VolumeMount] = field(default_factory=list)
    lifecycle: Lifecycle | None = None
    liveness_probe: Probe | None = None
    readiness_probe: Probe | None = None
    startup_probe: Probe | None = None
    termination_message_path: str = ""
    termination_message_policy: str = ""
    image_pull_policy: str = ""
    security_context: SecurityContext | None = None
    stdin: bool = False
    stdin_once: bool = False
    tty: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def read(cls, r: ObjectReader) -> Container:
        ctx = r.ctx
        c = cls(
            name=r.str("name", ""),
            image=r.str("image", ""),
            command=r.str_list("command"),
            args=r.str_list("args"),
            working_dir=r.str("workingDir", ""),
            ports=[ContainerPort.read(ObjectReader(ctx, v, p)) for p, v in r.items("ports")],
            env=[EnvVar.read(ObjectReader(ctx, v, p)) for p, v in r.items("env")],
            volume_mounts=[
                VolumeMount.read(ObjectReader(ctx, v, p)) for p, v in r.items("volumeMounts")
            ],
            termination_message_path=r.str("terminationMessagePath", ""),
            termination_message_policy=r.str("terminationMessagePolicy", ""),
            image_pull_policy=r.str("imagePullPolicy", ""),
            stdin=bool(r.bool("stdin")),
            stdin_once=bool(r.bool("stdinOnce")),
            tty=bool(r.bool("tty")),
        )
        res = r.reader("resources")
        if res is not None:
            c.resources = ResourceRequirements.read(res)
        life = r.reader("lifecycle")
        if life is not None:
            c.lifecycle = Lifecycle.read(life)
        sc = r.reader("securityContext")
        if sc is not None:
            c.security_context = SecurityContext.read(sc)
        for key, attr in PROBES:
            probe = r.reader(key)
            if probe is not None:
                setattr(c, attr, Probe.read(probe))
        c.extra = r.extra(_CONTAINER_UNMODELLED)
        return c

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name}
        _put(out, "image", self.image)
        _put(out, "command", list(self.command or []))
        _put(out, "args", list(self.args or []))
        _put(out, "workingDir", self.working_dir)
        _put(out, "ports", [p.to_dict() for p in self.ports])
        _put(out, "env", [e.to_dict() for e in self.env])
        out["resources"] = self.resources.to_dict()
        _put(out, "volumeMounts", [m.to_dict() for m in self.volume_mounts])
        if self.lifecycle is not None:
            out["lifecycle"] = self.lifecycle.to_dict()
        for key, attr in PROBES:
            probe = getattr(self, attr)
            if probe is not None:
                out[key] = probe.to_dict()
        _put(out, "terminationMessagePath", self.termination_message_path)
        _put(out, "terminationMessagePolicy", self.termination_message_policy)
        _put(out, "imagePullPolicy", self.image_pull_policy)
        if self.security_context is not None:
            out["securityContext"] = self.security_context.to_dict()
        _put(out, "stdin", self.stdin)
        _put(out, "stdinOnce", self.stdin_once)
        _put(out, "tty", self.tty)
        out.update(self.extra)
        return out


# ------------------------------------------------------------------------------ volumes

# Every volume source Kubernetes v1 defines; only emptyDir is implemented here.
VOLUME_SOURCES = (
    "hostPath",
    "emptyDir",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "gitRepo",
    "secret",
    "nfs",
    "iscsi",
    "glusterfs",
    "persistentVolumeClaim",
    "rbd",
    "flexVolume",
    "cinder",
    "cephfs",
    "flocker",
    "downwardAPI",
    "fc",
    "azureFile",
    "configMap",
    "vsphereVolume",
    "quobyte",
    "azureDisk",
    "photonPersistentDisk",
    "projected",
    "portworxVolume",
    "scaleIO",
    "storageos",
    "csi",
    "ephemeral",
    "image",
)
SUPPORTED_VOLUME_SOURCES = ("emptyDir",)


@dataclass
class EmptyDirVolumeSource:
    medium: str = ""
    size_limit: Quantity | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        _put(out, "medium", self.medium)
        if self.size_limit is not None:
            out["sizeLimit"] = str(self.size_limit)
        return out


@dataclass
class Volume:
    name: str = ""
    empty_dir: EmptyDirVolumeSource | None = None
    # Other sources, verbatim: {"hostPath": {...}}.  Parsed so the manifest is accepted and
    # round-trips; using one is an UnsupportedVolumeError (see require_supported).
    other_sources: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def read(cls, r: ObjectReader) -> Volume:
        vol = cls(name=r.str("name", ""))
        ed = r.reader("emptyDir")
        if ed is not None:
            size = ed.raw("sizeLimit")
            vol.empty_dir = EmptyDirVolumeSource(
                medium=ed.str("medium", ""),
                size_limit=None
                if size is None
                else parse_quantity(r.ctx, ed.at("sizeLimit"), size),
            )
            ed.extra(frozenset())
        vol.other_sources = r.extra(frozenset(VOLUME_SOURCES) - {"emptyDir"})
        return vol

    @property
    def source_types(self) -> list[str]:
        """The volume source fields that are set (Kubernetes requires exactly one)."""
        names = ["emptyDir"] if self.empty_dir is not None else []
        return names + [k for k, v in self.other_sources.items() if v is not None]

    def require_supported(self, where: str = "") -> None:
        """Raise UnsupportedVolumeError unless this volume's type is implemented here."""
        types = self.source_types
        if types and types[0] in SUPPORTED_VOLUME_SOURCES:
            return
        prefix = f"{where}: " if where else ""
        kind = types[0] if types else "(no source)"
        raise UnsupportedVolumeError(
            f'{prefix}volume "{self.name}": {kind} volumes are not supported yet '
            f"(supported: {', '.join(SUPPORTED_VOLUME_SOURCES)})"
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name}
        if self.empty_dir is not None:
            out["emptyDir"] = self.empty_dir.to_dict()
        out.update(self.other_sources)
        return out


# ------------------------------------------------------------------------------ pod spec

_POD_SC_UNMODELLED = frozenset(
    {
        "seLinuxOptions",
        "windowsOptions",
        "sysctls",
        "fsGroupChangePolicy",
        "seccompProfile",
        "appArmorProfile",
        "supplementalGroupsPolicy",
        "seLinuxChangePolicy",
    }
)


@dataclass
class PodSecurityContext:
    run_as_user: int | None = None
    run_as_group: int | None = None
    run_as_non_root: bool | None = None
    supplemental_groups: list[int] = field(default_factory=list)
    fs_group: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def read(cls, r: ObjectReader) -> PodSecurityContext:
        sc = cls(
            run_as_user=r.int("runAsUser"),
            run_as_group=r.int("runAsGroup"),
            run_as_non_root=r.bool("runAsNonRoot"),
            supplemental_groups=r.int_list("supplementalGroups") or [],
            fs_group=r.int("fsGroup"),
        )
        sc.extra = r.extra(_POD_SC_UNMODELLED)
        return sc

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        _put_set(out, "runAsUser", self.run_as_user)
        _put_set(out, "runAsGroup", self.run_as_group)
        _put_set(out, "runAsNonRoot", self.run_as_non_root)
        _put(out, "supplementalGroups", list(self.supplemental_groups))
        _put_set(out, "fsGroup", self.fs_group)
        out.update(self.extra)
        return out


_SPEC_UNMODELLED = frozenset(
    {
        "ephemeralContainers",
        "activeDeadlineSeconds",
        "nodeSelector",
        "serviceAccount",
        "automountServiceAccountToken",
        "hostNetwork",
        "hostPID",
        "hostIPC",
        "imagePullSecrets",
        "affinity",
        "tolerations",
        "hostAliases",
        "priorityClassName",
        "priority",
        "dnsConfig",
        "readinessGates",
        "runtimeClassName",
        "preemptionPolicy",
        "overhead",
        "topologySpreadConstraints",
        "setHostnameAsFQDN",
        "os",
        "hostUsers",
        "schedulingGates",
        "resourceClaims",
        "resources",
        "hostnameOverride",
    }
)


@dataclass
class PodSpec:
    volumes: list[Volume] = field(default_factory=list)
    init_containers: list[Container] = field(default_factory=list)
    containers: list[Container] = field(default_factory=list)
    restart_policy: str = ""
    termination_grace_period_seconds: int | None = None
    dns_policy: str = ""
    service_account_name: str = ""
    node_name: str = ""
    share_process_namespace: bool | None = None
    security_context: PodSecurityContext | None = None
    hostname: str = ""
    subdomain: str = ""
    scheduler_name: str = ""
    enable_service_links: bool | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def read(cls, r: ObjectReader) -> PodSpec:
        ctx = r.ctx
        spec = cls(
            volumes=[Volume.read(ObjectReader(ctx, v, p)) for p, v in r.items("volumes")],
            init_containers=[
                Container.read(ObjectReader(ctx, v, p)) for p, v in r.items("initContainers")
            ],
            containers=[Container.read(ObjectReader(ctx, v, p)) for p, v in r.items("containers")],
            restart_policy=r.str("restartPolicy", ""),
            termination_grace_period_seconds=r.int("terminationGracePeriodSeconds"),
            dns_policy=r.str("dnsPolicy", ""),
            service_account_name=r.str("serviceAccountName", ""),
            node_name=r.str("nodeName", ""),
            share_process_namespace=r.bool("shareProcessNamespace"),
            hostname=r.str("hostname", ""),
            subdomain=r.str("subdomain", ""),
            scheduler_name=r.str("schedulerName", ""),
            enable_service_links=r.bool("enableServiceLinks"),
        )
        sc = r.reader("securityContext")
        if sc is not None:
            spec.security_context = PodSecurityContext.read(sc)
        spec.extra = r.extra(_SPEC_UNMODELLED)
        return spec

    def all_containers(self) -> list[tuple[str, Container]]:
        """(field path, container) for init containers then app containers."""
        return [(f"spec.initContainers[{i}]", c) for i, c in enumerate(self.init_containers)] + [
            (f"spec.containers[{i}]", c) for i, c in enumerate(self.containers)
        ]

    def volume(self, name: str) -> Volume | None:
        return next((v for v in self.volumes if v.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        _put(out, "volumes", [v.to_dict() for v in self.volumes])
        _put(out, "initContainers", [c.to_dict() for c in self.init_containers])
        out["containers"] = [c.to_dict() for c in self.containers]
        _put(out, "restartPolicy", self.restart_policy)
        _put_set(out, "terminationGracePeriodSeconds", self.termination_grace_period_seconds)
        _put(out, "dnsPolicy", self.dns_policy)
        _put(out, "serviceAccountName", self.service_account_name)
        _put(out, "nodeName", self.node_name)
        _put_set(out, "shareProcessNamespace", self.share_process_namespace)
        if self.security_context is not None:
            out["securityContext"] = self.security_context.to_dict()
        _put(out, "hostname", self.hostname)
        _put(out, "subdomain", self.subdomain)
        _put(out, "schedulerName", self.scheduler_name)
        _put_set(out, "enableServiceLinks", self.enable_service_links)
        out.update(self.extra)
        return out


# ------------------------------------------------------------------------------ objects


@dataclass
class Pod:
    metadata: ObjectMeta = field(default_factory=ObjectMeta)
    spec: PodSpec = field(default_factory=PodSpec)
    status: dict[str, Any] = field(default_factory=dict)
    api_version: str = "v1"
    kind: str = "Pod"

    @classmethod
    def read(cls, r: ObjectReader) -> Pod:
        pod = cls(api_version=r.str("apiVersion", "v1"), kind=r.str("kind", "Pod"))
        pod.metadata = ObjectMeta.read(
            r.reader("metadata") or ObjectReader(r.ctx, {}, r.at("metadata"))
        )
        pod.spec = PodSpec.read(r.reader("spec") or ObjectReader(r.ctx, {}, r.at("spec")))
        status = r.raw("status")
        pod.status = dict(status) if isinstance(status, dict) else {}
        r.extra(frozenset())
        return pod

    @classmethod
    def from_dict(cls, data: dict[str, Any], ctx: ParseContext | None = None) -> Pod:
        """Parse without defaults or validation (see ``manifest`` for the full path)."""
        return cls.read(ObjectReader(ctx or ParseContext(), data, ""))

    @property
    def name(self) -> str:
        return self.metadata.name

    @property
    def namespace(self) -> str:
        return self.metadata.namespace

    @property
    def uid(self) -> str:
        return self.metadata.uid

    def container(self, name: str) -> Container | None:
        return next((c for _, c in self.spec.all_containers() if c.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "apiVersion": self.api_version,
            "kind": self.kind,
            "metadata": self.metadata.to_dict(),
            "spec": self.spec.to_dict(),
            "status": dict(self.status),
        }


@dataclass
class PodTemplateSpec:
    metadata: ObjectMeta = field(default_factory=ObjectMeta)
    spec: PodSpec = field(default_factory=PodSpec)

    @classmethod
    def read(cls, r: ObjectReader) -> PodTemplateSpec:
        t = cls()
        t.metadata = ObjectMeta.read(
            r.reader("metadata") or ObjectReader(r.ctx, {}, r.at("metadata"))
        )
        t.spec = PodSpec.read(r.reader("spec") or ObjectReader(r.ctx, {}, r.at("spec")))
        r.extra(frozenset())
        return t

    def to_dict(self) -> dict[str, Any]:
        return {"metadata": self.metadata.to_dict(), "spec": self.spec.to_dict()}


@dataclass
class ReplicationControllerSpec:
    replicas: int | None = None
    min_ready_seconds: int = 0
    selector: dict[str, str] = field(default_factory=dict)
    template: PodTemplateSpec | None = None

    @classmethod
    def read(cls, r: ObjectReader) -> ReplicationControllerSpec:
        spec = cls(
            replicas=r.int("replicas"),
            min_ready_seconds=r.int("minReadySeconds") or 0,
            selector=r.str_map("selector"),
        )
        template = r.reader("template")
        if template is not None:
            spec.template = PodTemplateSpec.read(template)
        r.extra(frozenset())
        return spec

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        _put_set(out, "replicas", self.replicas)
        _put(out, "minReadySeconds", self.min_ready_seconds)
        _put(out, "selector", dict(self.selector))
        if self.template is not None:
            out["template"] = self.template.to_dict()
        return out


@dataclass
class ReplicationController:
    metadata: ObjectMeta = field(default_factory=ObjectMeta)
    spec: ReplicationControllerSpec = field(default_factory=ReplicationControllerSpec)
    status: dict[str, Any] = field(default_factory=dict)
    api_version: str = "v1"
    kind: str = "ReplicationController"

    @classmethod
    def read(cls, r: ObjectReader) -> ReplicationController:
        rc = cls(api_version=r.str("apiVersion", "v1"), kind=r.str("kind", "ReplicationController"))
        rc.metadata = ObjectMeta.read(
            r.reader("metadata") or ObjectReader(r.ctx, {}, r.at("metadata"))
        )
        rc.spec = ReplicationControllerSpec.read(
            r.reader("spec") or ObjectReader(r.ctx, {}, r.at("spec"))
        )
        status = r.raw("status")
        rc.status = dict(status) if isinstance(status, dict) else {}
        r.extra(frozenset())
        return rc

    @classmethod
    def from_dict(
        cls, data: dict[str, Any], ctx: ParseContext | None = None
    ) -> ReplicationController:
        return cls.read(ObjectReader(ctx or ParseContext(), data, ""))

    @property
    def name(self) -> str:
        return self.metadata.name

    @property
    def namespace(self) -> str:
        return self.metadata.namespace

    def to_dict(self) -> dict[str, Any]:
        return {
            "apiVersion": self.api_version,
            "kind": self.kind,
            "metadata": self.metadata.to_dict(),
            "spec": self.spec.to_dict(),
            "status": dict(self.status),
        }


KubeObject = Pod | ReplicationController

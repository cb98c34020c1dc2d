"""Validation of v1 Pods and ReplicationControllers, as the Kubernetes API server does it.

Every rule returns ``FieldError``s with Kubernetes' field paths and wording, e.g.
``spec.containers[1].image: Required value`` or
``spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", ...``.
Validation is pure: it reads the (defaulted) object and returns every error it finds.
"""

from __future__ import annotations

import re

from minikube_py.api import field as f
from minikube_py.api.field import FieldError
from minikube_py.api.objects import (
    PROBES,
    Container,
    ObjectMeta,
    Pod,
    PodSpec,
    Probe,
    ReplicationController,
    SecurityContext,
    Volume,
)
from minikube_py.api.quantity import Quantity

# ------------------------------------------------------------------------------ name formats
# These mirror k8s.io/apimachinery/pkg/util/validation: same regexes, same sentences.

DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS1123_SUBDOMAIN_FMT = DNS1123_LABEL_FMT + "(\\." + DNS1123_LABEL_FMT + ")*"
DNS1123_LABEL_MAX = 63
DNS1123_SUBDOMAIN_MAX = 253
_LABEL_RE = re.compile(f"^{DNS1123_LABEL_FMT}$")
_SUBDOMAIN_RE = re.compile(f"^{DNS1123_SUBDOMAIN_FMT}$")
_LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character"
)
_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' "
    "or '.', and must start and end with an alphanumeric character"
)
QUALIFIED_NAME_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_QUALIFIED_NAME_RE = re.compile(f"^{QUALIFIED_NAME_FMT}$")
_QUALIFIED_NAME_MSG = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character"
)
LABEL_VALUE_FMT = f"({QUALIFIED_NAME_FMT})?"
_LABEL_VALUE_RE = re.compile(f"^{LABEL_VALUE_FMT}$")
_LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
    "'.', and must start and end with an alphanumeric character"
)
ENV_VAR_NAME_FMT = "[-._a-zA-Z][-._a-zA-Z0-9]*"
_ENV_VAR_NAME_RE = re.compile(f"^{ENV_VAR_NAME_FMT}$")
_ENV_VAR_NAME_MSG = (
    "a valid environment variable name must consist of alphabetic characters, digits, '_', "
    "'-', or '.', and must not start with a digit"
)
_PORT_NAME_CHARS_RE = re.compile("^[-a-z0-9]+$")
_PORT_NAME_LETTER_RE = re.compile("[a-z]")

NEGATIVE_MSG = "must be greater than or equal to 0"
TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024
MAX_USER_ID = 2**31 - 1
MAX_GROUP_ID = 2**31 - 1


def regex_error(msg: str, fmt: str, *examples: str) -> str:
    if not examples:
        return f"{msg} (regex used for validation is '{fmt}')"
    shown = " or ".join(f"'{e}', " for e in examples)
    return f"{msg} (e.g. {shown}regex used for validation is '{fmt}')"


def max_len_error(n: int) -> str:
    return f"must be no more than {n} characters"


def range_error(lo: int, hi: int) -> str:
    return f"must be between {lo} and {hi}, inclusive"


def is_dns1123_label(value: str) -> list[str]:
    errs = []
    if len(value) > DNS1123_LABEL_MAX:
        errs.append(max_len_error(DNS1123_LABEL_MAX))
    if not _LABEL_RE.match(value):
        if _SUBDOMAIN_RE.match(value):
            errs.append("must not contain dots")
        else:
            errs.append(regex_error(_LABEL_MSG, DNS1123_LABEL_FMT, "my-name", "123-abc"))
    return errs


def is_dns1123_subdomain(value: str) -> list[str]:
    errs = []
    if len(value) > DNS1123_SUBDOMAIN_MAX:
        errs.append(max_len_error(DNS1123_SUBDOMAIN_MAX))
    if not _SUBDOMAIN_RE.match(value):
        errs.append(regex_error(_SUBDOMAIN_MSG, DNS1123_SUBDOMAIN_FMT, "example.com"))
    return errs


def is_qualified_name(value: str) -> list[str]:
    """A label key: ``[prefix/]name`` with a DNS subdomain prefix."""
    errs: list[str] = []
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errs.append("prefix part must be non-empty")
        else:
            errs.extend("prefix part " + m for m in is_dns1123_subdomain(prefix))
    else:
        return [
            "a qualified name "
            + regex_error(_QUALIFIED_NAME_MSG, QUALIFIED_NAME_FMT, "MyName", "my.name", "123-abc")
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ]
    if not name:
        errs.append("name part must be non-empty")
    elif len(name) > 63:
        errs.append("name part " + max_len_error(63))
    if not _QUALIFIED_NAME_RE.match(name):
        errs.append(
            "name part "
            + regex_error(_QUALIFIED_NAME_MSG, QUALIFIED_NAME_FMT, "MyName", "my.name", "123-abc")
        )
    return errs


def is_label_value(value: str) -> list[str]:
    errs = []
    if len(value) > 63:
        errs.append(max_len_error(63))
    if not _LABEL_VALUE_RE.match(value):
        errs.append(regex_error(_LABEL_VALUE_MSG, LABEL_VALUE_FMT, "MyValue", "my_value", "12345"))
    return errs


def is_env_var_name(value: str) -> list[str]:
    errs = []
    if not _ENV_VAR_NAME_RE.match(value):
        errs.append(
            regex_error(
                _ENV_VAR_NAME_MSG, ENV_VAR_NAME_FMT, "my.env-name", "MY_ENV.NAME", "MyEnvName1"
            )
        )
    if value == ".":
        errs.append("must not be '.'")
    elif value == "..":
        errs.append("must not be '..'")
    elif value.startswith(".."):
        errs.append("must not start with '..'")
    return errs


def is_valid_port_name(port: str) -> list[str]:
    errs = []
    if len(port) > 15:
        errs.append(max_len_error(15))
    if not _PORT_NAME_CHARS_RE.match(port):
        errs.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if not _PORT_NAME_LETTER_RE.search(port):
        errs.append("must contain at least one letter (a-z)")
    if "--" in port:
        errs.append("must not contain consecutive hyphens")
    if port and (port[0] == "-" or port[-1] == "-"):
        errs.append("must not begin or end with a hyphen")
    return errs


def is_valid_port_num(port: int) -> list[str]:
    return [] if 1 <= port <= 65535 else [range_error(1, 65535)]


def name_is_dns_subdomain(name: str, prefix: bool) -> list[str]:
    """Pod and RC names; a generateName prefix may end in '-'."""
    if prefix and len(name) > 1 and name.endswith("-"):
        name = name[:-1] + "a"
    return is_dns1123_subdomain(name)


def name_is_dns_label(name: str, prefix: bool) -> list[str]:
    if prefix and len(name) > 1 and name.endswith("-"):
        name = name[:-1] + "a"
    return is_dns1123_label(name)


# ------------------------------------------------------------------------------ metadata


def validate_labels(labels: dict[str, str], path: str) -> list[FieldError]:
    errs = []
    for k, v in labels.items():
        errs += [f.invalid(path, k, m) for m in is_qualified_name(k)]
        errs += [f.invalid(path, v, m) for m in is_label_value(v)]
    return errs


def validate_annotations(annotations: dict[str, str], path: str) -> list[FieldError]:
    errs = []
    total = 0
    for k, v in annotations.items():
        errs += [f.invalid(path, k, m) for m in is_qualified_name(k.lower())]
        total += len(k) + len(v)
    if total > TOTAL_ANNOTATION_SIZE_LIMIT:
        errs.append(f.too_long(path, TOTAL_ANNOTATION_SIZE_LIMIT))
    return errs


def validate_object_meta(meta: ObjectMeta, path: str = "metadata") -> list[FieldError]:
    errs: list[FieldError] = []
    if meta.generate_name:
        errs += [
            f.invalid(f.child(path, "generateName"), meta.generate_name, m)
            for m in name_is_dns_subdomain(meta.generate_name, True)
        ]
    if not meta.name:
        errs.append(f.required(f.child(path, "name"), "name or generateName is required"))
    else:
        errs += [
            f.invalid(f.child(path, "name"), meta.name, m)
            for m in name_is_dns_subdomain(meta.name, False)
        ]
    if not meta.namespace:
        errs.append(f.required(f.child(path, "namespace")))
    else:
        errs += [
            f.invalid(f.child(path, "namespace"), meta.namespace, m)
            for m in name_is_dns_label(meta.namespace, False)
        ]
    errs += validate_labels(meta.labels, f.child(path, "labels"))
    errs += validate_annotations(meta.annotations, f.child(path, "annotations"))
    for i, ref in enumerate(meta.owner_references):
        rpath = f.index(f.child(path, "ownerReferences"), i)
        for attr, key, what in (
            ("api_version", "apiVersion", "version"),
            ("kind", "kind", "kind"),
            ("name", "name", "name"),
            ("uid", "uid", "uid"),
        ):
            if not getattr(ref, attr):
                errs.append(f.invalid(f.child(rpath, key), "", f"{what} must not be empty"))
    return errs


# ------------------------------------------------------------------------------ pod spec

RESTART_POLICIES = ("Always", "OnFailure", "Never")
DNS_POLICIES = ("ClusterFirstWithHostNet", "ClusterFirst", "Default", "None")
PULL_POLICIES = ("Always", "IfNotPresent", "Never")  # sorted, as Kubernetes lists them
PROTOCOLS = ("SCTP", "TCP", "UDP")
TERMINATION_MESSAGE_POLICIES = ("File", "FallbackToLogsOnError")
STANDARD_CONTAINER_RESOURCES = ("cpu", "memory", "ephemeral-storage")
ENV_FIELD_PATHS = (
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.serviceAccountName",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
)
# Field labels v1 can convert at all (others: "field label not supported").
_CONVERTIBLE_FIELD_PATHS = frozenset(
    {
        "metadata.annotations",
        "metadata.labels",
        "metadata.name",
        "metadata.namespace",
        "metadata.uid",
        "spec.nodeName",
        "spec.restartPolicy",
        "spec.serviceAccountName",
        "spec.schedulerName",
        "status.phase",
        "status.hostIP",
        "status.hostIPs",
        "status.podIP",
        "status.podIPs",
    }
)
_SUBSCRIPT_RE = re.compile(r"^(metadata\.(?:labels|annotations))\['(.*)'\]$")


def split_subscripted_field_path(path: str) -> tuple[str, str | None]:
    """``metadata.labels['app']`` -> (``metadata.labels``, ``app``); else (path, None)."""
    m = _SUBSCRIPT_RE.match(path)
    if m:
        return m.group(1), m.group(2)
    return path, None


def validate_volumes(volumes: list[Volume], path: str) -> tuple[set[str], list[FieldError]]:
    """Errors for spec.volumes, and the names of the valid ones (what mounts may refer to)."""
    errs: list[FieldError] = []
    names: set[str] = set()
    for i, vol in enumerate(volumes):
        vpath = f.index(path, i)
        vol_errs = _exactly_one(vol.source_types, vpath, "volume type")
        size_limit = vol.empty_dir.size_limit if vol.empty_dir is not None else None
        if size_limit is not None and size_limit.value < 0:
            vol_errs.append(
                f.forbidden(
                    f"{vpath}.emptyDir.sizeLimit",
                    "SizeLimit field must be a valid resource quantity",
                )
            )
        npath = f.child(vpath, "name")
        if not vol.name:
            vol_errs.append(f.required(npath))
        else:
            vol_errs += [f.invalid(npath, vol.name, m) for m in is_dns1123_label(vol.name)]
        if vol.name in names:
            vol_errs.append(f.duplicate(npath, vol.name))
        if vol_errs:
            errs += vol_errs
        else:
            names.add(vol.name)
    return names, errs


def validate_ports(c: Container, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    seen: set[str] = set()
    for i, port in enumerate(c.ports):
        ppath = f.index(path, i)
        if port.name:
            msgs = is_valid_port_name(port.name)
            errs += [f.invalid(f.child(ppath, "name"), port.name, m) for m in msgs]
            if not msgs:
                if port.name in seen:
                    errs.append(f.duplicate(f.child(ppath, "name"), port.name))
                seen.add(port.name)
        if port.container_port == 0:
            errs.append(f.required(f.child(ppath, "containerPort")))
        else:
            errs += [
                f.invalid(f.child(ppath, "containerPort"), port.container_port, m)
                for m in is_valid_port_num(port.container_port)
            ]
        if port.host_port != 0:
            errs += [
                f.invalid(f.child(ppath, "hostPort"), port.host_port, m)
                for m in is_valid_port_num(port.host_port)
            ]
        if not port.protocol:
            errs.append(f.required(f.child(ppath, "protocol")))
        elif port.protocol not in PROTOCOLS:
            errs.append(f.not_supported(f.child(ppath, "protocol"), port.protocol, PROTOCOLS))
    return errs


def _validate_field_ref(api_version: str, field_path: str, path: str) -> list[FieldError]:
    if not api_version:
        return [f.required(f.child(path, "apiVersion"))]
    if not field_path:
        return [f.required(f.child(path, "fieldPath"))]
    if api_version != "v1":
        return [
            f.invalid(
                f.child(path, "fieldPath"),
                field_path,
                f"error converting fieldPath: field label not supported: {field_path}",
            )
        ]
    base, subscript = split_subscripted_field_path(field_path)
    if base not in _CONVERTIBLE_FIELD_PATHS:
        return [
            f.invalid(
                f.child(path, "fieldPath"),
                field_path,
                f"error converting fieldPath: field label not supported: {field_path}",
            )
        ]
    if subscript is not None:
        key = subscript.lower() if base == "metadata.annotations" else subscript
        return [f.invalid(path, key, m) for m in is_qualified_name(key)]
    if base not in ENV_FIELD_PATHS:
        return [f.not_supported(f.child(path, "fieldPath"), base, ENV_FIELD_PATHS)]
    return []


def validate_env(c: Container, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, var in enumerate(c.env):
        vpath = f.index(path, i)
        if not var.name:
            errs.append(f.required(f.child(vpath, "name")))
        else:
            errs += [
                f.invalid(f.child(vpath, "name"), var.name, m) for m in is_env_var_name(var.name)
            ]
        if var.value_from is None:
            continue
        fpath = f.child(vpath, "valueFrom")
        sources = var.value_from.source_names
        ref = var.value_from.field_ref
        if ref is not None:
            errs += _validate_field_ref(ref.api_version, ref.field_path, f.child(fpath, "fieldRef"))
        if not sources:
            errs.append(
                f.invalid(
                    fpath,
                    "",
                    "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or "
                    "`secretKeyRef`",
                )
            )
        elif var.value:
            errs.append(f.invalid(fpath, "", "may not be specified when `value` is not empty"))
        elif len(sources) > 1:
            errs.append(
                f.invalid(fpath, "", "may not have more than one field specified at a time")
            )
    return errs


def validate_volume_mounts(c: Container, volumes: set[str], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    mount_points: set[str] = set()
    for i, m in enumerate(c.volume_mounts):
        mpath = f.index(path, i)
        if not m.name:
            errs.append(f.required(f.child(mpath, "name")))
        if m.name not in volumes:
            errs.append(f.not_found(f.child(mpath, "name"), m.name))
        if not m.mount_path:
            errs.append(f.required(f.child(mpath, "mountPath")))
        if m.mount_path in mount_points:
            errs.append(f.invalid(f.child(mpath, "mountPath"), m.mount_path, "must be unique"))
        mount_points.add(m.mount_path)
        for key, value in (("subPath", m.sub_path), ("subPathExpr", m.sub_path_expr)):
            if value:
                errs += _local_descending_path(value, f.child(mpath, key))
        if m.sub_path and m.sub_path_expr:
            errs.append(
                f.invalid(
                    f.child(mpath, "subPathExpr"),
                    m.sub_path_expr,
                    "subPathExpr and subPath are mutually exclusive",
                )
            )
        if m.mount_propagation is not None and m.mount_propagation not in (
            "None",
            "HostToContainer",
            "Bidirectional",
        ):
            errs.append(
                f.not_supported(
                    f.child(mpath, "mountPropagation"),
                    m.mount_propagation,
                    ("Bidirectional", "HostToContainer", "None"),
                )
            )
    return errs


def _local_descending_path(target: str, path: str) -> list[FieldError]:
    errs = []
    if target.startswith("/"):
        errs.append(f.invalid(path, target, "must be a relative path"))
    if ".." in target.replace("\\", "/").split("/"):
        errs.append(f.invalid(path, target, "must not contain '..'"))
    return errs


def _is_standard_container_resource(name: str) -> bool:
    return name in STANDARD_CONTAINER_RESOURCES or name.startswith("hugepages-")


def validate_resources(c: Container, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    res = c.resources
    lim_path, req_path = f.child(path, "limits"), f.child(path, "requests")

    def check(name: str, q: Quantity, qpath: str) -> None:
        errs.extend(f.invalid(qpath, name, m) for m in is_qualified_name(name))
        if "/" not in name and not _is_standard_container_resource(name):
            errs.append(f.invalid(qpath, name, "must be a standard resource for containers"))
        if q.value < 0:
            errs.append(f.invalid(qpath, str(q), NEGATIVE_MSG))

    for name, q in res.limits.items():
        check(name, q, f.key(lim_path, name))
    for name, q in res.requests.items():
        check(name, q, f.key(req_path, name))
        limit = res.limits.get(name)
        if limit is not None and q > limit:
            errs.append(
                f.invalid(
                    req_path, str(q), f"must be less than or equal to {name} limit of {limit}"
                )
            )
    return errs


def validate_security_context(sc: SecurityContext | None, path: str) -> list[FieldError]:
    if sc is None:
        return []
    errs: list[FieldError] = []
    if sc.run_as_user is not None and not 0 <= sc.run_as_user <= MAX_USER_ID:
        errs.append(
            f.invalid(f.child(path, "runAsUser"), sc.run_as_user, range_error(0, MAX_USER_ID))
        )
    if sc.run_as_group is not None and not 0 <= sc.run_as_group <= MAX_GROUP_ID:
        errs.append(
            f.invalid(f.child(path, "runAsGroup"), sc.run_as_group, range_error(0, MAX_GROUP_ID))
        )
    if sc.allow_privilege_escalation is False:
        if sc.privileged:
            errs.append(
                f.invalid(
                    path,
                    "",
                    "cannot set `allowPrivilegeEscalation` to false and `privileged` to true",
                )
            )
        if sc.capabilities is not None and "CAP_SYS_ADMIN" in sc.capabilities.add:
            errs.append(
                f.invalid(
                    path,
                    "",
                    "cannot set `allowPrivilegeEscalation` to false and `capabilities.Add` "
                    "CAP_SYS_ADMIN",
                )
            )
    return errs


def _exactly_one(kinds: list[str], path: str, what: str) -> list[FieldError]:
    """A union field (a volume's source, a handler) holds exactly one of its members."""
    errs = [f.required(path, f"must specify a {what}")] if not kinds else []
    for extra in kinds[1:]:
        errs.append(f.forbidden(f.child(path, extra), f"may not specify more than 1 {what}"))
    return errs


def _validate_lifecycle(c: Container, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if c.lifecycle is None:
        return errs
    for key, handler in (("postStart", c.lifecycle.post_start), ("preStop", c.lifecycle.pre_stop)):
        if handler is None:
            continue
        hpath = f.child(path, key)
        kinds = (["exec"] if handler.exec_command is not None else []) + list(handler.extra)
        errs += _exactly_one(kinds, hpath, "handler type")
        if handler.exec_command is not None and not handler.exec_command:
            errs.append(f.required(f"{hpath}.exec.command"))
    return errs


def _validate_probe(p: Probe, c: Container, key: str, path: str) -> list[FieldError]:
    """ValidateProbe: one handler; non-negative numbers; thresholds of liveness and startup
    probes 1 on success; a port a number (1-65535) or the name of one of the ports."""
    errs = _exactly_one(p.handlers, path, "handler type")
    if "grpc" in p.extra:
        errs.append(
            f.forbidden(f.child(path, "grpc"), "grpc probes are not supported by minikube-py")
        )
    if p.exec_command is not None and not p.exec_command:
        errs.append(f.required(f"{path}.exec.command"))
    for name, value, low in (
        ("initialDelaySeconds", p.initial_delay_seconds, 0),
        ("timeoutSeconds", p.timeout_seconds, 1),
        ("periodSeconds", p.period_seconds, 1),
        ("successThreshold", p.success_threshold, 1),
        ("failureThreshold", p.failure_threshold, 1),
        ("terminationGracePeriodSeconds", p.termination_grace_period_seconds, 1),
    ):
        if value is not None and value < low:
            errs.append(
                f.invalid(f.child(path, name), value, f"must be greater than or equal to {low}")
            )
    if key in ("livenessProbe", "startupProbe") and p.success_threshold not in (None, 1):
        errs.append(f.invalid(f.child(path, "successThreshold"), p.success_threshold, "must be 1"))
    if key == "readinessProbe" and p.termination_grace_period_seconds is not None:
        errs.append(
            f.invalid(
                f.child(path, "terminationGracePeriodSeconds"),
                p.termination_grace_period_seconds,
                "must not be set for readinessProbes",
            )
        )
    action = p.http_get or p.tcp_socket
    if action is not None:
        hkey = "httpGet" if p.http_get is not None else "tcpSocket"
        ppath = f.child(f.child(path, hkey), "port")
        names = {port.name for port in c.ports if port.name}
        if isinstance(action.port, int):
            if not 1 <= action.port <= 65535:
                errs.append(f.invalid(ppath, action.port, "must be between 1 and 65535, inclusive"))
        elif action.port not in names:
            errs.append(f.invalid(ppath, action.port, "must be a container port's name"))
    if p.http_get is not None and p.http_get.scheme not in ("", "HTTP", "HTTPS"):
        errs.append(
            f.not_supported(
                f.child(f.child(path, "httpGet"), "scheme"), p.http_get.scheme, ["HTTP", "HTTPS"]
            )
        )
    return errs


def validate_container(c: Container, volumes: set[str], path: str) -> list[FieldError]:
    """The per-container rules (names and uniqueness are checked by the caller)."""
    errs: list[FieldError] = []
    if not c.image:
        errs.append(f.required(f.child(path, "image")))
    elif c.image != c.image.strip():
        errs.append(
            f.invalid(
                f.child(path, "image"), c.image, "must not have leading or trailing whitespace"
            )
        )
    errs += _validate_lifecycle(c, f.child(path, "lifecycle"))
    for key, attr in PROBES:
        probe = getattr(c, attr)
        if probe is not None:
            errs += _validate_probe(probe, c, key, f.child(path, key))
    policy = c.termination_message_policy
    if policy not in TERMINATION_MESSAGE_POLICIES:
        tpath = f.child(path, "terminationMessagePolicy")
        detail = "must be 'File' or 'FallbackToLogsOnError'"
        errs.append(f.required(tpath, detail) if not policy else f.invalid(tpath, policy, detail))
    errs += validate_ports(c, f.child(path, "ports"))
    errs += validate_env(c, f.child(path, "env"))
    errs += validate_volume_mounts(c, volumes, f.child(path, "volumeMounts"))
    ppath = f.child(path, "imagePullPolicy")
    if not c.image_pull_policy:
        errs.append(f.required(ppath))
    elif c.image_pull_policy not in PULL_POLICIES:
        errs.append(f.not_supported(ppath, c.image_pull_policy, PULL_POLICIES))
    errs += validate_resources(c, f.child(path, "resources"))
    errs += validate_security_context(c.security_context, f.child(path, "securityContext"))
    return errs


def _host_port_conflicts(containers: list[Container], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    seen: set[str] = set()
    for ci, c in enumerate(containers):
        for pi, port in enumerate(c.ports):
            if not port.host_port:
                continue
            key = f"{port.protocol}/{port.host_ip}/{port.host_port}"
            if key in seen:
                errs.append(f.duplicate(f"{path}[{ci}].ports[{pi}].hostPort", key))
            seen.add(key)
    return errs


def validate_containers(spec: PodSpec, volumes: set[str], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    cpath = f.child(path, "containers")
    if not spec.containers:
        errs.append(f.required(cpath))
    names: set[str] = set()
    for i, c in enumerate(spec.containers):
        ipath = f.index(cpath, i)
        errs += _container_name(c, names, ipath)
        errs += validate_container(c, volumes, ipath)
    errs += _host_port_conflicts(spec.containers, cpath)

    ipath_base = f.child(path, "initContainers")
    for i, c in enumerate(spec.init_containers):
        ipath = f.index(ipath_base, i)
        errs += _container_name(c, names, ipath)
        errs += validate_container(c, volumes, ipath)
        sidecar = c.extra.get("restartPolicy") == "Always"
        if c.lifecycle is not None and not sidecar:
            errs.append(
                f.invalid(
                    f.child(ipath, "lifecycle"),
                    c.lifecycle.to_dict(),
                    "must not be set for init containers",
                )
            )
        for key, attr in PROBES:
            probe = getattr(c, attr)
            if probe is not None and not sidecar:
                errs.append(
                    f.invalid(
                        f.child(ipath, key), probe.to_dict(), "must not be set for init containers"
                    )
                )
        errs += _host_port_conflicts([c], ipath_base)
    return errs


def _container_name(c: Container, names: set[str], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    npath = f.child(path, "name")
    if not c.name:
        errs.append(f.required(npath))
    else:
        errs += [f.invalid(npath, c.name, m) for m in is_dns1123_label(c.name)]
    if c.name in names:
        errs.append(f.duplicate(npath, c.name))
    elif c.name:
        names.add(c.name)
    return errs


def validate_pod_spec(spec: PodSpec, path: str = "spec") -> list[FieldError]:
    volumes, errs = validate_volumes(spec.volumes, f.child(path, "volumes"))
    errs += validate_containers(spec, volumes, path)

    rpath = f.child(path, "restartPolicy")
    if not spec.restart_policy:
        errs.append(f.required(rpath))
    elif spec.restart_policy not in RESTART_POLICIES:
        errs.append(f.not_supported(rpath, spec.restart_policy, RESTART_POLICIES))

    dpath = f.child(path, "dnsPolicy")
    if not spec.dns_policy:
        errs.append(f.required(dpath))
    elif spec.dns_policy not in DNS_POLICIES:
        errs.append(f.not_supported(dpath, spec.dns_policy, DNS_POLICIES))
    elif spec.dns_policy == "None" and not spec.extra.get("dnsConfig"):
        errs.append(
            f.required(
                f.child(path, "dnsConfig"), "must provide `dnsConfig` when `dnsPolicy` is None"
            )
        )

    grace = spec.termination_grace_period_seconds
    if grace is not None and grace < 0:
        errs.append(f.invalid(f.child(path, "terminationGracePeriodSeconds"), grace, NEGATIVE_MSG))

    sc = spec.security_context
    if sc is not None:
        scpath = f.child(path, "securityContext")
        for key, value in (
            ("runAsUser", sc.run_as_user),
            ("runAsGroup", sc.run_as_group),
            ("fsGroup", sc.fs_group),
        ):
            if value is not None and not 0 <= value <= MAX_USER_ID:
                errs.append(f.invalid(f.child(scpath, key), value, range_error(0, MAX_USER_ID)))
        for i, gid in enumerate(sc.supplemental_groups):
            if not 0 <= gid <= MAX_GROUP_ID:
                errs.append(
                    f.invalid(
                        f"{scpath}.supplementalGroups[{i}]", gid, range_error(0, MAX_GROUP_ID)
                    )
                )

    for key, value, check in (
        ("serviceAccountName", spec.service_account_name, is_dns1123_subdomain),
        ("nodeName", spec.node_name, is_dns1123_subdomain),
        ("hostname", spec.hostname, is_dns1123_label),
        ("subdomain", spec.subdomain, is_dns1123_label),
    ):
        if value:
            errs += [f.invalid(f.child(path, key), value, m) for m in check(value)]
    if spec.share_process_namespace and spec.extra.get("hostPID"):
        errs.append(
            f.invalid(
                f.child(path, "shareProcessNamespace"),
                True,
                "ShareProcessNamespace and HostPID cannot both be enabled",
            )
        )
    return errs


# ------------------------------------------------------------------------------ objects


def validate_pod(pod: Pod) -> list[FieldError]:
    """Every error of a (defaulted) pod, in Kubernetes' order: metadata first, then spec."""
    return validate_object_meta(pod.metadata) + validate_pod_spec(pod.spec)


def validate_replication_controller(rc: ReplicationController) -> list[FieldError]:
    errs = validate_object_meta(rc.metadata)
    spec = rc.spec
    if spec.replicas is not None and spec.replicas < 0:
        errs.append(f.invalid("spec.replicas", spec.replicas, NEGATIVE_MSG))
    if spec.min_ready_seconds < 0:
        errs.append(f.invalid("spec.minReadySeconds", spec.min_ready_seconds, NEGATIVE_MSG))
    if not spec.selector:
        errs.append(f.required("spec.selector"))
    else:
        errs += validate_labels(spec.selector, "spec.selector")
    if spec.template is None:
        errs.append(f.required("spec.template"))
        return errs
    labels = spec.template.metadata.labels
    if spec.selector and any(labels.get(k) != v for k, v in spec.selector.items()):
        errs.append(
            f.invalid(
                "spec.template.metadata.labels",
                labels,
                "`selector` does not match template `labels`",
            )
        )
    errs += validate_labels(labels, "spec.template.metadata.labels")
    errs += validate_annotations(
        spec.template.metadata.annotations, "spec.template.metadata.annotations"
    )
    errs += validate_pod_spec(spec.template.spec, "spec.template.spec")
    if spec.template.spec.restart_policy not in ("", "Always"):
        errs.append(
            f.not_supported(
                "spec.template.spec.restartPolicy", spec.template.spec.restart_policy, ("Always",)
            )
        )
    if spec.template.spec.extra.get("activeDeadlineSeconds") is not None:
        errs.append(
            f.forbidden(
                "spec.template.spec.activeDeadlineSeconds",
                "activeDeadlineSeconds in ReplicationController is not Supported",
            )
        )
    return errs

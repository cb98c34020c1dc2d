"""Kubernetes' defaults for v1 objects, applied before validation as the API server does.

What ``SetDefaults_*`` in Kubernetes' ``pkg/apis/core/v1`` fill in, plus what creation adds
(a uid, a creationTimestamp, a name from ``generateName``, the ``default`` service account).
Defaulting only fills fields that are unset; it never overrides what a user wrote.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime

from minikube_py.api.objects import (
    Container,
    EmptyDirVolumeSource,
    ObjectMeta,
    Pod,
    PodSecurityContext,
    PodSpec,
    Probe,
    ReplicationController,
    Volume,
)
from oci.errors import InvalidReference
from oci.reference import Reference

DEFAULT_NAMESPACE = "default"
DEFAULT_RESTART_POLICY = "Always"
DEFAULT_GRACE_PERIOD_SECONDS = 30
DEFAULT_DNS_POLICY = "ClusterFirst"
DEFAULT_SCHEDULER = "default-scheduler"
DEFAULT_SERVICE_ACCOUNT = "default"
DEFAULT_TERMINATION_MESSAGE_PATH = "/dev/termination-log"
DEFAULT_TERMINATION_MESSAGE_POLICY = "File"
DEFAULT_PROTOCOL = "TCP"

# Kubernetes' name generator: 5 characters from an alphabet without vowels or look-alikes,
# appended to generateName cut to 58 so the result fits a 63-character label.
_GENERATE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_GENERATE_RANDOM_LENGTH = 5
_GENERATE_MAX_LENGTH = 63


def now_rfc3339() -> str:
    """The current time as Kubernetes writes timestamps: RFC 3339, UTC, whole seconds."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def generate_name(base: str) -> str:
    keep = _GENERATE_MAX_LENGTH - _GENERATE_RANDOM_LENGTH
    suffix = "".join(random.choice(_GENERATE_ALPHABET) for _ in range(_GENERATE_RANDOM_LENGTH))
    return base[:keep] + suffix


def default_pull_policy(image: str) -> str:
    """``Always`` for ``:latest`` or no tag, else ``IfNotPresent`` (also for digest-only refs)."""
    try:
        ref = Reference.parse(image.strip())
    except InvalidReference:
        return "IfNotPresent"  # Kubernetes: an unparsable name has no tag
    return "Always" if ref.tag == "latest" else "IfNotPresent"


def default_container(c: Container) -> None:
    if not c.image_pull_policy:
        c.image_pull_policy = default_pull_policy(c.image)
    if not c.termination_message_path:
        c.termination_message_path = DEFAULT_TERMINATION_MESSAGE_PATH
    if not c.termination_message_policy:
        c.termination_message_policy = DEFAULT_TERMINATION_MESSAGE_POLICY
    for port in c.ports:
        if not port.protocol:
            port.protocol = DEFAULT_PROTOCOL
    for var in c.env:
        ref = var.value_from.field_ref if var.value_from else None
        if ref is not None and not ref.api_version:
            ref.api_version = "v1"
    # A limit without a request means request == limit (SetDefaults_Pod).
    for resource, limit in c.resources.limits.items():
        c.resources.requests.setdefault(resource, limit)
    for probe in (c.liveness_probe, c.readiness_probe, c.startup_probe):
        if probe is not None:
            default_probe(probe)


def default_probe(p: Probe) -> None:
    """SetDefaults_Probe and SetDefaults_HTTPGetAction."""
    if p.timeout_seconds is None:
        p.timeout_seconds = 1
    if p.period_seconds is None:
        p.period_seconds = 10
    if p.success_threshold is None:
        p.success_threshold = 1
    if p.failure_threshold is None:
        p.failure_threshold = 3
    if p.http_get is not None:
        p.http_get.path = p.http_get.path or "/"
        p.http_get.scheme = p.http_get.scheme or "HTTP"


def default_volume(v: Volume) -> None:
    # A volume with no source at all is an emptyDir (SetDefaults_Volume).
    if not v.source_types:
        v.empty_dir = EmptyDirVolumeSource()


def default_pod_spec(spec: PodSpec) -> None:
    if not spec.restart_policy:
        spec.restart_policy = DEFAULT_RESTART_POLICY
    if spec.termination_grace_period_seconds is None:
        spec.termination_grace_period_seconds = DEFAULT_GRACE_PERIOD_SECONDS
    if not spec.dns_policy:
        spec.dns_policy = DEFAULT_DNS_POLICY
    if not spec.scheduler_name:
        spec.scheduler_name = DEFAULT_SCHEDULER
    if spec.enable_service_links is None:
        spec.enable_service_links = True
    if not spec.service_account_name:
        # The ServiceAccount admission plugin's doing on a real API server.
        spec.service_account_name = spec.extra.get("serviceAccount") or DEFAULT_SERVICE_ACCOUNT
    if spec.security_context is None:
        spec.security_context = PodSecurityContext()
    for v in spec.volumes:
        default_volume(v)
    for _, c in spec.all_containers():
        default_container(c)


def default_metadata(meta: ObjectMeta, *, create: bool = True) -> None:
    if not meta.namespace:
        meta.namespace = DEFAULT_NAMESPACE
    if not create:
        return
    if not meta.name and meta.generate_name:
        meta.name = generate_name(meta.generate_name)
    if not meta.uid:
        meta.uid = str(uuid.uuid4())
    if not meta.creation_timestamp:
        meta.creation_timestamp = now_rfc3339()


def default_pod(pod: Pod, *, create: bool = True) -> Pod:
    """Fill a pod's defaults in place (and return it).  ``create`` adds uid/timestamp/name."""
    default_metadata(pod.metadata, create=create)
    default_pod_spec(pod.spec)
    return pod


def default_replication_controller(rc: ReplicationController, *, create: bool = True) -> None:
    """replicas 1; selector and labels from the template's labels (SetDefaults_RC)."""
    default_metadata(rc.metadata, create=create)
    spec = rc.spec
    if spec.replicas is None:
        spec.replicas = 1
    if spec.template is not None:
        labels = spec.template.metadata.labels
        if labels:
            if not spec.selector:
                spec.selector = dict(labels)
            if not rc.metadata.labels:
                rc.metadata.labels = dict(labels)
        default_pod_spec(spec.template.spec)

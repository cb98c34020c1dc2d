"""Kubernetes' defaults, filled in as the API server does on create."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from minikube_py.api import Pod, load_string
from minikube_py.api.defaults import default_pod, default_pull_policy

MINIMAL = """\
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  containers:
  - name: c
    image: busybox
    ports: [{containerPort: 80}]
    env: [{name: POD, valueFrom: {fieldRef: {fieldPath: metadata.name}}}]
"""


@pytest.mark.parametrize(
    ("image", "policy"),
    [
        ("busybox", "Always"),
        ("busybox:latest", "Always"),
        ("docker.io/library/busybox:latest", "Always"),
        ("localhost:5000/fixtures/busybox", "Always"),
        ("localhost:5000/fixtures/busybox:1.0", "IfNotPresent"),
        ("busybox:1.36", "IfNotPresent"),
        ("busybox@sha256:" + "a" * 64, "IfNotPresent"),
        ("busybox:1.36@sha256:" + "a" * 64, "IfNotPresent"),
        ("busybox:latest@sha256:" + "a" * 64, "Always"),
    ],
)
def test_image_pull_policy_defaults_from_the_tag(image, policy):
    assert default_pull_policy(image) == policy


def test_pod_defaults_match_kubernetes():
    pod = load_string(MINIMAL).pods[0]
    spec = pod.spec
    assert pod.metadata.namespace == "default"
    assert spec.restart_policy == "Always"
    assert spec.termination_grace_period_seconds == 30
    assert spec.dns_policy == "ClusterFirst"
    assert spec.scheduler_name == "default-scheduler"
    assert spec.service_account_name == "default"
    assert spec.enable_service_links is True
    c = spec.containers[0]
    assert c.image_pull_policy == "Always"
    assert c.termination_message_path == "/dev/termination-log"
    assert c.termination_message_policy == "File"
    assert c.ports[0].protocol == "TCP"
    assert c.env[0].value_from.field_ref.api_version == "v1"


def test_uid_and_creation_timestamp_are_set_on_create():
    before = datetime.now(UTC).replace(microsecond=0)
    pod = load_string(MINIMAL).pods[0]
    stamp = pod.metadata.creation_timestamp
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", stamp)
    assert datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC) >= before
    assert len(pod.uid) == 36 and pod.uid[14] == "4"


def test_create_false_keeps_identity_unset():
    pod = load_string(MINIMAL, create=False).pods[0]
    assert pod.uid == "" and pod.metadata.creation_timestamp is None
    assert pod.metadata.namespace == "default"


def test_explicit_values_are_never_overridden():
    text = MINIMAL.replace(
        "spec:\n", "spec:\n  restartPolicy: Never\n  terminationGracePeriodSeconds: 0\n"
    )
    text = text.replace("metadata: {name: web}", "metadata: {name: web, namespace: apps, uid: u-1}")
    text = text.replace("image: busybox", "image: busybox\n    imagePullPolicy: Never")
    pod = load_string(text).pods[0]
    assert pod.spec.restart_policy == "Never"
    assert pod.spec.termination_grace_period_seconds == 0
    assert pod.metadata.namespace == "apps" and pod.uid == "u-1"
    assert pod.spec.containers[0].image_pull_policy == "Never"


def test_limits_without_requests_default_the_requests():
    text = MINIMAL + "    resources: {limits: {cpu: 250m, memory: 64Mi}, requests: {cpu: 100m}}\n"
    res = load_string(text).pods[0].spec.containers[0].resources
    assert str(res.requests["cpu"]) == "100m"
    assert str(res.requests["memory"]) == "64Mi"


def test_a_volume_without_source_is_an_empty_dir():
    text = MINIMAL + "  volumes: [{name: scratch}]\n"
    vol = load_string(text).pods[0].spec.volumes[0]
    assert vol.source_types == ["emptyDir"]
    assert vol.to_dict() == {"name": "scratch", "emptyDir": {}}


def test_init_containers_are_defaulted_too():
    text = MINIMAL + "  initContainers: [{name: init, image: 'busybox:1.36'}]\n"
    init = load_string(text).pods[0].spec.init_containers[0]
    assert init.image_pull_policy == "IfNotPresent"
    assert init.termination_message_policy == "File"


def test_default_pod_works_on_a_bare_object():
    pod = Pod.from_dict(
        {"metadata": {"name": "x"}, "spec": {"containers": [{"name": "c", "image": "a"}]}}
    )
    default_pod(pod)
    assert pod.spec.restart_policy == "Always" and pod.uid

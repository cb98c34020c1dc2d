"""Invalid manifests fail as the Kubernetes API server fails them: field path, reason, wording.

Each row of the table breaks one thing in an otherwise valid two-container pod and states the
exact ``<field>: <message>`` Kubernetes gives, and its ``StatusCause`` reason.
"""

from __future__ import annotations

import copy
import json

import pytest

from minikube_py.api import load_files, load_string
from minikube_py.errors import ManifestError

SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
    "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex "
    "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
ENV_MSG = (
    "a valid environment variable name must consist of alphabetic characters, digits, '_', "
    "'-', or '.', and must not start with a digit (e.g. 'my.env-name',  or 'MY_ENV.NAME',  or "
    "'MyEnvName1', regex used for validation is '[-._a-zA-Z][-._a-zA-Z0-9]*')"
)
QUALIFIED_MSG = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
    "with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used "
    "for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
QUANTITY_MSG = (
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
)

BASE = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "web", "labels": {"app": "web"}},
    "spec": {
        "volumes": [{"name": "data", "emptyDir": {}}],
        "containers": [
            {
                "name": "httpd",
                "image": "localhost:5000/fixtures/busybox:1.0",
                "command": ["httpd", "-f", "-p", "8080"],
                "ports": [{"name": "http", "containerPort": 8080}],
                "volumeMounts": [{"name": "data", "mountPath": "/data"}],
            },
            {
                "name": "client",
                "image": "localhost:5000/fixtures/busybox:1.0",
                "env": [{"name": "TARGET", "value": "http://127.0.0.1:8080/"}],
            },
        ],
    },
}


def c0(pod):
    return pod["spec"]["containers"][0]


def c1(pod):
    return pod["spec"]["containers"][1]


# (id, mutation, field, reason, message after "<field>: ")
CASES = [
    (
        "image-required",
        lambda p: c1(p).pop("image"),
        "spec.containers[1].image",
        "FieldValueRequired",
        "Required value",
    ),
    (
        "restart-policy-unknown",
        lambda p: p["spec"].update(restartPolicy="Sometimes"),
        "spec.restartPolicy",
        "FieldValueNotSupported",
        'Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"',
    ),
    (
        "pod-name-not-dns",
        lambda p: p["metadata"].update(name="Bad_Name"),
        "metadata.name",
        "FieldValueInvalid",
        f'Invalid value: "Bad_Name": {SUBDOMAIN_MSG}',
    ),
    (
        "pod-name-too-long",
        lambda p: p["metadata"].update(name="a" * 254),
        "metadata.name",
        "FieldValueInvalid",
        f'Invalid value: "{"a" * 254}": must be no more than 253 characters',
    ),
    (
        "pod-name-missing",
        lambda p: p["metadata"].pop("name"),
        "metadata.name",
        "FieldValueRequired",
        "Required value: name or generateName is required",
    ),
    (
        "generate-name-bad",
        lambda p: (p["metadata"].pop("name"), p["metadata"].update(generateName="Web-")),
        "metadata.generateName",
        "FieldValueInvalid",
        f'Invalid value: "Web-": {SUBDOMAIN_MSG}',
    ),
    (
        "namespace-not-label",
        lambda p: p["metadata"].update(namespace="my.ns"),
        "metadata.namespace",
        "FieldValueInvalid",
        'Invalid value: "my.ns": must not contain dots',
    ),
    (
        "container-name-not-label",
        lambda p: c0(p).update(name="Http_D"),
        "spec.containers[0].name",
        "FieldValueInvalid",
        f'Invalid value: "Http_D": {LABEL_MSG}',
    ),
    (
        "container-name-too-long",
        lambda p: c0(p).update(name="h" * 64),
        "spec.containers[0].name",
        "FieldValueInvalid",
        f'Invalid value: "{"h" * 64}": must be no more than 63 characters',
    ),
    (
        "container-name-required",
        lambda p: c0(p).pop("name"),
        "spec.containers[0].name",
        "FieldValueRequired",
        "Required value",
    ),
    (
        "container-name-duplicate",
        lambda p: c1(p).update(name="httpd"),
        "spec.containers[1].name",
        "FieldValueDuplicate",
        'Duplicate value: "httpd"',
    ),
    (
        "init-container-name-duplicate",
        lambda p: p["spec"].update(initContainers=[{"name": "client", "image": "busybox:1.36"}]),
        "spec.initContainers[0].name",
        "FieldValueDuplicate",
        'Duplicate value: "client"',
    ),
    (
        "init-container-image-required",
        lambda p: p["spec"].update(initContainers=[{"name": "setup"}]),
        "spec.initContainers[0].image",
        "FieldValueRequired",
        "Required value",
    ),
    (
        "no-containers",
        lambda p: p["spec"].update(containers=[], volumes=[]),
        "spec.containers",
        "FieldValueRequired",
        "Required value",
    ),
    (
        "container-port-range",
        lambda p: c0(p)["ports"][0].update(containerPort=70000),
        "spec.containers[0].ports[0].containerPort",
        "FieldValueInvalid",
        "Invalid value: 70000: must be between 1 and 65535, inclusive",
    ),
    (
        "container-port-required",
        lambda p: c0(p)["ports"][0].pop("containerPort"),
        "spec.containers[0].ports[0].containerPort",
        "FieldValueRequired",
        "Required value",
    ),
    (
        "host-port-range",
        lambda p: c0(p)["ports"][0].update(hostPort=-1),
        "spec.containers[0].ports[0].hostPort",
        "FieldValueInvalid",
        "Invalid value: -1: must be between 1 and 65535, inclusive",
    ),
    (
        "protocol-unknown",
        lambda p: c0(p)["ports"][0].update(protocol="HTTP"),
        "spec.containers[0].ports[0].protocol",
        "FieldValueNotSupported",
        'Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"',
    ),
    (
        "port-name-duplicate",
        lambda p: c0(p)["ports"].append({"name": "http", "containerPort": 8443}),
        "spec.containers[0].ports[1].name",
        "FieldValueDuplicate",
        'Duplicate value: "http"',
    ),
    (
        "port-name-invalid",
        lambda p: c0(p)["ports"][0].update(name="HTTP"),
        "spec.containers[0].ports[0].name",
        "FieldValueInvalid",
        'Invalid value: "HTTP": '
        "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)",
    ),
    (
        "host-port-conflict",
        lambda p: (
            c0(p)["ports"][0].update(hostPort=80),
            c1(p).update(ports=[{"containerPort": 81, "hostPort": 80}]),
        ),
        "spec.containers[1].ports[0].hostPort",
        "FieldValueDuplicate",
        'Duplicate value: "TCP//80"',
    ),
    (
        "env-name-invalid",
        lambda p: c1(p)["env"].append({"name": "1BAD", "value": "x"}),
        "spec.containers[1].env[1].name",
        "FieldValueInvalid",
        f'Invalid value: "1BAD": {ENV_MSG}',
    ),
    (
        "env-name-required",
        lambda p: c1(p)["env"].append({"value": "x"}),
        "spec.containers[1].env[1].name",
        "FieldValueRequired",
        "Required value",
    ),
    (
        "env-value-and-value-from",
        lambda p: c1(p)["env"].append(
            {"name": "X", "value": "x", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}
        ),
        "spec.containers[1].env[1].valueFrom",
        "FieldValueInvalid",
        'Invalid value: "": may not be specified when `value` is not empty',
    ),
    (
        "env-field-ref-unsupported",
        lambda p: c1(p)["env"].append(
            {"name": "X", "valueFrom": {"fieldRef": {"fieldPath": "status.phase"}}}
        ),
        "spec.containers[1].env[1].valueFrom.fieldRef.fieldPath",
        "FieldValueNotSupported",
        'Unsupported value: "status.phase": supported values: "metadata.name", '
        '"metadata.namespace", '
        '"metadata.uid", "spec.nodeName", "spec.serviceAccountName", "status.hostIP", '
        '"status.hostIPs", "status.podIP", "status.podIPs"',
    ),
    (
        "env-field-ref-unknown",
        lambda p: c1(p)["env"].append(
            {"name": "X", "valueFrom": {"fieldRef": {"fieldPath": "metadata.colour"}}}
        ),
        "spec.containers[1].env[1].valueFrom.fieldRef.fieldPath",
        "FieldValueInvalid",
        'Invalid value: "metadata.colour": error converting fieldPath: field label not supported: '
        "metadata.colour",
    ),
    (
        "volume-mount-not-found",
        lambda p: c0(p)["volumeMounts"][0].update(name="cache"),
        "spec.containers[0].volumeMounts[0].name",
        "FieldValueNotFound",
        'Not found: "cache"',
    ),
    (
        "mount-path-required",
        lambda p: c0(p)["volumeMounts"][0].pop("mountPath"),
        "spec.containers[0].volumeMounts[0].mountPath",
        "FieldValueRequired",
        "Required value",
    ),
    (
        "mount-path-unique",
        lambda p: c0(p)["volumeMounts"].append({"name": "data", "mountPath": "/data"}),
        "spec.containers[0].volumeMounts[1].mountPath",
        "FieldValueInvalid",
        'Invalid value: "/data": must be unique',
    ),
    (
        "sub-path-escapes",
        lambda p: c0(p)["volumeMounts"][0].update(subPath="../etc"),
        "spec.containers[0].volumeMounts[0].subPath",
        "FieldValueInvalid",
        "Invalid value: \"../etc\": must not contain '..'",
    ),
    (
        "volume-name-invalid",
        lambda p: p["spec"]["volumes"].append({"name": "Cache_Vol", "emptyDir": {}}),
        "spec.volumes[1].name",
        "FieldValueInvalid",
        f'Invalid value: "Cache_Vol": {LABEL_MSG}',
    ),
    (
        "volume-name-duplicate",
        lambda p: p["spec"]["volumes"].append({"name": "data", "emptyDir": {}}),
        "spec.volumes[1].name",
        "FieldValueDuplicate",
        'Duplicate value: "data"',
    ),
    (
        "volume-two-sources",
        lambda p: p["spec"]["volumes"][0].update(hostPath={"path": "/srv"}),
        "spec.volumes[0].hostPath",
        "FieldValueForbidden",
        "Forbidden: may not specify more than 1 volume type",
    ),
    (
        "quantity-unparsable",
        lambda p: c0(p).update(resources={"limits": {"memory": "64MB"}}),
        "spec.containers[0].resources.limits[memory]",
        "FieldValueInvalid",
        f'Invalid value: "64MB": {QUANTITY_MSG}',
    ),
    (
        "request-above-limit",
        lambda p: c0(p).update(resources={"limits": {"cpu": "1"}, "requests": {"cpu": "1500m"}}),
        "spec.containers[0].resources.requests",
        "FieldValueInvalid",
        'Invalid value: "1500m": must be less than or equal to cpu limit of 1',
    ),
    (
        "resource-negative",
        lambda p: c0(p).update(resources={"requests": {"memory": "-1Mi"}}),
        "spec.containers[0].resources.requests[memory]",
        "FieldValueInvalid",
        'Invalid value: "-1Mi": must be greater than or equal to 0',
    ),
    (
        "resource-unknown",
        lambda p: c0(p).update(resources={"limits": {"gpu": "1"}}),
        "spec.containers[0].resources.limits[gpu]",
        "FieldValueInvalid",
        'Invalid value: "gpu": must be a standard resource for containers',
    ),
    (
        "grace-period-negative",
        lambda p: p["spec"].update(terminationGracePeriodSeconds=-1),
        "spec.terminationGracePeriodSeconds",
        "FieldValueInvalid",
        "Invalid value: -1: must be greater than or equal to 0",
    ),
    (
        "label-key-invalid",
        lambda p: p["metadata"]["labels"].update({"bad key": "x"}),
        "metadata.labels",
        "FieldValueInvalid",
        f'Invalid value: "bad key": {QUALIFIED_MSG}',
    ),
    (
        "label-value-too-long",
        lambda p: p["metadata"]["labels"].update(app="v" * 64),
        "metadata.labels",
        "FieldValueInvalid",
        f'Invalid value: "{"v" * 64}": must be no more than 63 characters',
    ),
    (
        "annotation-key-invalid",
        lambda p: p["metadata"].update(annotations={"-note": "x"}),
        "metadata.annotations",
        "FieldValueInvalid",
        f'Invalid value: "-note": {QUALIFIED_MSG}',
    ),
    (
        "pull-policy-unknown",
        lambda p: c0(p).update(imagePullPolicy="Sometimes"),
        "spec.containers[0].imagePullPolicy",
        "FieldValueNotSupported",
        'Unsupported value: "Sometimes": supported values: "Always", "IfNotPresent", "Never"',
    ),
    (
        "dns-policy-unknown",
        lambda p: p["spec"].update(dnsPolicy="Cluster"),
        "spec.dnsPolicy",
        "FieldValueNotSupported",
        'Unsupported value: "Cluster": supported values: "ClusterFirstWithHostNet", '
        '"ClusterFirst", "Default", "None"',
    ),
    (
        "run-as-user-negative",
        lambda p: c0(p).update(securityContext={"runAsUser": -1}),
        "spec.containers[0].securityContext.runAsUser",
        "FieldValueInvalid",
        "Invalid value: -1: must be between 0 and 2147483647, inclusive",
    ),
    (
        "pre-stop-without-handler",
        lambda p: c0(p).update(lifecycle={"preStop": {}}),
        "spec.containers[0].lifecycle.preStop",
        "FieldValueRequired",
        "Required value: must specify a handler type",
    ),
    (
        "termination-message-policy",
        lambda p: c0(p).update(terminationMessagePolicy="Always"),
        "spec.containers[0].terminationMessagePolicy",
        "FieldValueInvalid",
        "Invalid value: \"Always\": must be 'File' or 'FallbackToLogsOnError'",
    ),
    (
        "hostname-not-label",
        lambda p: p["spec"].update(hostname="web.local"),
        "spec.hostname",
        "FieldValueInvalid",
        'Invalid value: "web.local": must not contain dots',
    ),
]


@pytest.mark.parametrize(
    ("mutate", "field", "reason", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_invalid_pod_fails_with_kubernetes_field_error(tmp_path, mutate, field, reason, message):
    pod = copy.deepcopy(BASE)
    mutate(pod)
    path = tmp_path / "pod.yaml"
    path.write_text(json.dumps(pod))
    with pytest.raises(ManifestError) as info:
        load_files([str(path)])  # nothing comes back: nothing can be created
    err = info.value
    name = pod["metadata"].get("name", "")
    assert str(err).startswith(f'{path}: Pod "') and " is invalid: " in str(err)
    assert "\n" not in str(err)
    assert f"{field}: {message}" in str(err)
    assert any(
        c.field == field and c.reason == reason and c.message == message for c in err.causes
    ), [(c.field, c.reason, c.message) for c in err.causes]
    if name:
        assert err.name == name
    assert err.kind == "Pod"


def test_table_has_at_least_twenty_cases():
    assert len(CASES) >= 20


def test_base_pod_is_valid():
    [pod] = load_string(json.dumps(BASE)).pods
    assert [c.name for c in pod.spec.containers] == ["httpd", "client"]


def test_a_single_error_is_printed_bare():
    pod = copy.deepcopy(BASE)
    c1(pod).pop("image")
    with pytest.raises(ManifestError) as info:
        load_string(json.dumps(pod), source="pod.yaml")
    assert (
        str(info.value)
        == 'pod.yaml: Pod "web" is invalid: spec.containers[1].image: Required value'
    )


def test_all_errors_of_a_manifest_are_collected_in_kubernetes_order():
    pod = copy.deepcopy(BASE)
    pod["metadata"]["name"] = "Bad_Name"
    c1(pod).pop("image")
    pod["spec"]["restartPolicy"] = "Sometimes"
    with pytest.raises(ManifestError) as info:
        load_string(json.dumps(pod), source="pod.yaml")
    assert [c.field for c in info.value.causes] == [
        "metadata.name",
        "spec.containers[1].image",
        "spec.restartPolicy",
    ]
    assert str(info.value) == (
        f'pod.yaml: Pod "Bad_Name" is invalid: [metadata.name: Invalid value: "Bad_Name": '
        f"{SUBDOMAIN_MSG}, spec.containers[1].image: Required value, spec.restartPolicy: "
        'Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"]'
    )


def test_replication_controller_template_rules():
    rc = {
        "apiVersion": "v1",
        "kind": "ReplicationController",
        "metadata": {"name": "web"},
        "spec": {
            "selector": {"app": "other"},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "c", "image": "busybox"}],
                },
            },
        },
    }
    with pytest.raises(ManifestError) as info:
        load_string(json.dumps(rc), source="rc.yaml")
    fields = {(c.field, c.reason) for c in info.value.causes}
    assert ("spec.template.metadata.labels", "FieldValueInvalid") in fields
    assert ("spec.template.spec.restartPolicy", "FieldValueNotSupported") in fields
    assert str(info.value).startswith('rc.yaml: ReplicationController "web" is invalid: [')

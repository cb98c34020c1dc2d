"""Loading manifests: formats, documents, lists, kinds, unknown fields, round trips."""

from __future__ import annotations

import io
import json
import re
import textwrap

import pytest

from minikube_py.api import (
    Pod,
    ReplicationController,
    invalid_status,
    load_file,
    load_files,
    load_stream,
    load_string,
    parse_object,
)
from minikube_py.errors import ManifestError, MinikubeError

POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: web
  labels: {app: web}
spec:
  containers:
  - name: httpd
    image: localhost:5000/fixtures/busybox:1.0
    command: ["httpd", "-f", "-p", "8080"]
    ports: [{containerPort: 8080, name: http}]
"""


def write(tmp_path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return str(path)


def test_single_yaml_pod_is_parsed_defaulted_and_valid(tmp_path):
    result = load_file(write(tmp_path, "pod.yaml", POD))
    assert result.warnings == []
    [pod] = result.pods
    assert isinstance(pod, Pod)
    assert pod.name == "web" and pod.namespace == "default"
    assert re.fullmatch(
        r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", pod.uid
    )
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", pod.metadata.creation_timestamp)
    c = pod.spec.containers[0]
    assert c.command == ["httpd", "-f", "-p", "8080"] and c.args is None
    assert c.ports[0].container_port == 8080 and c.ports[0].protocol == "TCP"


def test_json_manifest_loads_like_yaml(tmp_path):
    import yaml

    data = yaml.safe_load(POD)
    [pod] = load_file(write(tmp_path, "pod.json", json.dumps(data))).pods
    assert pod.spec.containers[0].name == "httpd"


def test_several_documents_keep_their_order_and_skip_empty_ones():
    text = POD + "---\n---\n" + POD.replace("name: web", "name: db")
    result = load_string(text, source="pods.yaml")
    assert [p.name for p in result.pods] == ["web", "db"]
    assert result.pods[0].uid != result.pods[1].uid


def test_kind_list_yields_its_items():
    text = json.dumps(
        {
            "apiVersion": "v1",
            "kind": "List",
            "items": [
                {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {"name": "a"},
                    "spec": {"containers": [{"name": "c", "image": "busybox"}]},
                },
                {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {"name": "b"},
                    "spec": {"containers": [{"name": "c", "image": "busybox"}]},
                },
            ],
        }
    )
    assert [p.name for p in load_string(text).pods] == ["a", "b"]


def test_replication_controller_is_parsed_into_a_typed_view():
    text = """\
    apiVersion: v1
    kind: ReplicationController
    metadata: {name: web}
    spec:
      replicas: 3
      template:
        metadata: {labels: {app: web}}
        spec:
          containers: [{name: c, image: "busybox:1.36"}]
    """
    result = load_string(textwrap.dedent(text), source="rc.yaml")
    [rc] = result.replication_controllers
    assert isinstance(rc, ReplicationController)
    assert rc.spec.replicas == 3
    assert rc.spec.selector == {"app": "web"}  # defaulted from the template's labels
    assert rc.metadata.labels == {"app": "web"}
    assert rc.spec.template.spec.containers[0].image_pull_policy == "IfNotPresent"
    assert rc.to_dict()["spec"]["template"]["spec"]["restartPolicy"] == "Always"


def test_unknown_fields_are_warnings_naming_file_and_path(tmp_path):
    text = POD.replace("    command:", "    imagePullPolcy: Always\n    command:") + "  bogus: 1\n"
    path = write(tmp_path, "pod.yaml", text)
    result = load_file(path)
    assert result.warnings == [
        f'{path}: unknown field "spec.containers[0].imagePullPolcy"',
        f'{path}: unknown field "spec.bogus"',
    ]
    assert "imagePullPolcy" not in json.dumps(result.pods[0].to_dict())


def test_unknown_field_warning_names_the_document_when_several():
    text = POD + "---\n" + POD.replace("name: web", "name: db").replace("  labels:", "  lables:")
    result = load_string(text, source="pods.yaml")
    assert result.warnings == ['pods.yaml (document 2): unknown field "metadata.lables"']


def test_kubernetes_fields_not_acted_on_are_kept_and_warned_about():
    text = POD + "    envFrom: [{configMapRef: {name: x}}]\n  hostNetwork: true\n"
    result = load_string(text, source="pod.yaml")
    assert result.warnings == [
        "pod.yaml: spec.hostNetwork: not supported by minikube-py yet; ignored",
        "pod.yaml: spec.containers[0].envFrom: not supported by minikube-py yet; ignored",
    ]
    out = result.pods[0].to_dict()
    assert out["spec"]["hostNetwork"] is True
    assert out["spec"]["containers"][0]["envFrom"] == [{"configMapRef": {"name": "x"}}]


def test_probes_are_read_defaulted_and_written_back():
    text = POD.replace(
        "    command:",
        "    livenessProbe: {exec: {command: [cat, /tmp/ok]}, initialDelaySeconds: 2}\n"
        "    readinessProbe: {httpGet: {port: http}, periodSeconds: 1}\n"
        "    startupProbe: {tcpSocket: {port: 8080}, failureThreshold: 30}\n"
        "    command:",
    )
    result = load_string(text, source="pod.yaml")
    assert result.warnings == []
    c = result.pods[0].to_dict()["spec"]["containers"][0]
    defaults = {"timeoutSeconds": 1, "successThreshold": 1}
    assert c["livenessProbe"] == {
        "exec": {"command": ["cat", "/tmp/ok"]},
        "initialDelaySeconds": 2,
        "periodSeconds": 10,
        "failureThreshold": 3,
        **defaults,
    }
    assert c["readinessProbe"] == {
        "httpGet": {"port": "http", "path": "/", "scheme": "HTTP"},
        "periodSeconds": 1,
        "failureThreshold": 3,
        **defaults,
    }
    assert c["startupProbe"]["tcpSocket"] == {"port": 8080}
    assert c["startupProbe"]["failureThreshold"] == 30


@pytest.mark.parametrize(
    "probe, field, detail",
    [
        ("livenessProbe: {periodSeconds: 3}", "livenessProbe", "must specify a handler type"),
        (
            "livenessProbe: {exec: {command: [x]}, tcpSocket: {port: 1}}",
            "livenessProbe.tcpSocket",
            "may not specify more than 1 handler type",
        ),
        ("readinessProbe: {httpGet: {port: web}}", "readinessProbe.httpGet.port", "port's name"),
        ("readinessProbe: {tcpSocket: {port: 0}}", "readinessProbe.tcpSocket.port", "65535"),
        (
            "livenessProbe: {exec: {command: [x]}, successThreshold: 2}",
            "livenessProbe.successThreshold",
            "must be 1",
        ),
        (
            "startupProbe: {exec: {command: [x]}, periodSeconds: 0}",
            "startupProbe.periodSeconds",
            "",
        ),
    ],
)
def test_bad_probes_are_refused_naming_the_field(probe, field, detail):
    text = POD.replace("    command:", f"    {probe}\n    command:")
    with pytest.raises(ManifestError) as e:
        load_string(text, source="pod.yaml")
    assert f"spec.containers[0].{field}" in str(e.value) and detail in str(e.value), str(e.value)


def test_other_volume_types_parse_but_are_unsupported_when_used():
    text = POD + "  volumes:\n  - name: host\n    hostPath: {path: /srv}\n"
    result = load_string(text, source="pod.yaml")
    assert result.warnings == [
        "pod.yaml: spec.volumes[0]: hostPath volumes are not supported by minikube-py yet "
        "(only emptyDir); the pod cannot start"
    ]
    vol = result.pods[0].spec.volumes[0]
    assert vol.source_types == ["hostPath"]
    with pytest.raises(MinikubeError, match=r'pod default/web: volume "host": hostPath volumes'):
        vol.require_supported("pod default/web")
    assert result.pods[0].to_dict()["spec"]["volumes"] == [
        {"name": "host", "hostPath": {"path": "/srv"}}
    ]


def test_to_dict_round_trips_through_the_loader():
    first = load_string(POD).pods[0]
    again = load_string(json.dumps(first.to_dict())).pods[0]
    assert again.to_dict() == first.to_dict()


def test_to_dict_has_the_kubernetes_v1_shape():
    out = load_string(POD).pods[0].to_dict()
    assert list(out) == ["apiVersion", "kind", "metadata", "spec", "status"]
    assert out["spec"]["containers"][0] == {
        "name": "httpd",
        "image": "localhost:5000/fixtures/busybox:1.0",
        "command": ["httpd", "-f", "-p", "8080"],
        "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
        "resources": {},
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
        "imagePullPolicy": "IfNotPresent",
    }
    assert out["metadata"]["namespace"] == "default"


def test_timestamps_stay_strings_as_kubernetes_reads_yaml():
    text = POD.replace("  name: web", "  name: web\n  creationTimestamp: 2024-01-02T03:04:05Z")
    pod = load_string(text).pods[0]
    assert pod.metadata.creation_timestamp == "2024-01-02T03:04:05Z"


def test_quantities_come_back_canonical():
    text = POD + "    resources: {limits: {cpu: 0.5, memory: 1024Mi}, requests: {cpu: 100m}}\n"
    res = load_string(text).pods[0].to_dict()["spec"]["containers"][0]["resources"]
    assert res == {
        "limits": {"cpu": "500m", "memory": "1Gi"},
        "requests": {"cpu": "100m", "memory": "1Gi"},
    }


def test_yaml_syntax_error_names_file_and_line(tmp_path):
    path = write(tmp_path, "bad.yaml", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: [web\n")
    with pytest.raises(ManifestError, match=rf"^{re.escape(path)}: error parsing YAML at line \d+"):
        load_file(path)


def test_missing_file_is_a_clear_error(tmp_path):
    path = str(tmp_path / "nope.yaml")
    with pytest.raises(ManifestError, match=r'nope.yaml: the path ".*nope.yaml" does not exist'):
        load_file(path)


def test_missing_kind_and_unknown_kind():
    with pytest.raises(ManifestError, match=r"^x.yaml: Object 'Kind' is missing$"):
        load_string("apiVersion: v1\nmetadata: {name: a}\n", source="x.yaml")
    with pytest.raises(ManifestError, match=r"^x.yaml: Object 'ApiVersion' is missing$"):
        load_string("kind: Pod\nmetadata: {name: a}\n", source="x.yaml")
    with pytest.raises(
        ManifestError, match=r'^x.yaml: no matches for kind "Deployment" in version "apps/v1"'
    ):
        load_string("apiVersion: apps/v1\nkind: Deployment\n", source="x.yaml")


def test_a_document_that_is_not_a_mapping_is_rejected():
    with pytest.raises(ManifestError, match=r"^x.yaml: expected a Kubernetes object .* got a list"):
        load_string("- a\n- b\n", source="x.yaml")


def test_wrong_types_are_field_errors_like_kubernetes_decoding():
    text = POD.replace("containerPort: 8080", 'containerPort: "8080"')
    with pytest.raises(ManifestError) as info:
        load_string(text, source="pod.yaml")
    assert str(info.value) == (
        'pod.yaml: Pod "web" is invalid: spec.containers[0].ports[0].containerPort: '
        'Invalid value: "8080": must be an integer, not string'
    )
    assert info.value.causes[0].reason == "FieldValueTypeInvalid"


def test_env_value_must_be_a_string():
    text = POD + "    env: [{name: PORT, value: 8080}]\n"
    with pytest.raises(
        ManifestError, match=r"spec.containers\[0\].env\[0\].value: Invalid value: 8080"
    ):
        load_string(text, source="pod.yaml")


def test_errors_in_several_documents_are_all_reported_with_their_index():
    bad1 = POD.replace("image: localhost:5000/fixtures/busybox:1.0", 'image: ""')
    bad2 = POD.replace("name: web", "name: Web")
    with pytest.raises(ManifestError) as info:
        load_string(POD + "---\n" + bad1 + "---\n" + bad2, source="pods.yaml")
    message = str(info.value)
    assert message.startswith(
        'pods.yaml (document 2): Pod "web" is invalid: spec.containers[0].image: Required value; '
        'pods.yaml (document 3): Pod "Web" is invalid: metadata.name: Invalid value: "Web"'
    )
    assert "\n" not in message
    assert [d.name for d in info.value.documents] == ["web", "Web"]
    assert [c.field for c in info.value.causes] == ["spec.containers[0].image", "metadata.name"]


def test_list_item_errors_name_the_item():
    text = json.dumps(
        {
            "apiVersion": "v1",
            "kind": "List",
            "items": [
                {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {"name": "a"},
                    "spec": {"containers": [{"name": "c"}]},
                }
            ],
        }
    )
    with pytest.raises(
        ManifestError,
        match=re.escape(
            'l.json (items[0]): Pod "a" is invalid: spec.containers[0].image: Required value'
        ),
    ):
        load_string(text, source="l.json")


def test_the_same_pod_twice_is_rejected(tmp_path):
    a = write(tmp_path, "a.yaml", POD)
    b = write(tmp_path, "b.yaml", POD)
    with pytest.raises(ManifestError, match=r'pods "web" is defined twice in namespace "default"'):
        load_files([a, b])


def test_load_files_collects_errors_of_every_file_and_returns_nothing(tmp_path):
    good = write(tmp_path, "good.yaml", POD)
    bad = write(tmp_path, "bad.yaml", POD.replace("name: httpd", "name: Httpd"))
    with pytest.raises(ManifestError) as info:
        load_files([good, bad])
    assert str(info.value).startswith(f'{bad}: Pod "web" is invalid: spec.containers[0].name')


def test_stream_input_is_named_stdin():
    with pytest.raises(ManifestError, match=r"^STDIN: Pod"):
        load_stream(io.StringIO(POD.replace("name: web", "name: _web")))


def test_generate_name_makes_a_name():
    pod = load_string(POD.replace("name: web", "generateName: web-")).pods[0]
    assert re.fullmatch(r"web-[bcdfghjklmnpqrstvwxz2456789]{5}", pod.name)


def test_parse_object_and_invalid_status_for_the_api():
    import yaml

    data = yaml.safe_load(POD)
    pod, warnings = parse_object(data)
    assert pod.name == "web" and warnings == []
    data["spec"]["restartPolicy"] = "Sometimes"
    with pytest.raises(ManifestError) as info:
        parse_object(data)
    status = invalid_status(info.value)
    assert status["code"] == 422 and status["reason"] == "Invalid"
    assert status["details"]["name"] == "web" and status["details"]["kind"] == "Pod"
    assert status["details"]["causes"] == [
        {
            "reason": "FieldValueNotSupported",
            "message": 'Unsupported value: "Sometimes": '
            'supported values: "Always", "OnFailure", "Never"',
            "field": "spec.restartPolicy",
        }
    ]


@pytest.mark.parametrize("name", ["pod-httpd-wget.yaml", "pod-emptydir-sidecar.yaml"])
def test_examples_load_cleanly(name):
    import pathlib

    path = pathlib.Path(__file__).parents[2] / "examples" / name
    result = load_file(path)
    assert result.warnings == []
    [pod] = result.pods
    assert pod.spec.restart_policy == "Never"
    assert [v.source_types for v in pod.spec.volumes] == [["emptyDir"]]


def test_an_empty_manifest_is_an_error():
    with pytest.raises(ManifestError, match=r"^empty.yaml: no objects found"):
        load_string("# nothing here\n---\n", source="empty.yaml")


def test_the_same_pod_twice_in_one_file_names_the_file():
    with pytest.raises(ManifestError, match=r'^pods.yaml: pods "web" is defined twice'):
        load_string(POD + "---\n" + POD, source="pods.yaml")


def test_server_set_metadata_round_trips():
    text = POD.replace(
        "  name: web\n",
        "  name: web\n  resourceVersion: '42'\n  generation: 3\n  finalizers: [a/b]\n"
        "  deletionTimestamp: '2024-01-02T03:04:05Z'\n  deletionGracePeriodSeconds: 30\n",
    )
    meta = load_string(text).pods[0].metadata
    assert (meta.resource_version, meta.generation, meta.finalizers) == ("42", 3, ["a/b"])
    out = meta.to_dict()
    assert out["deletionTimestamp"] == "2024-01-02T03:04:05Z"
    assert out["deletionGracePeriodSeconds"] == 30


def test_a_key_given_twice_is_an_error_with_its_line():
    text = POD.replace("    image: localhost", "    image: busybox\n    image: localhost")
    with pytest.raises(
        ManifestError,
        match=r'^pod.yaml: error parsing YAML at line 10, column 5: key "image" already set',
    ):
        load_string(text, source="pod.yaml")


def test_a_json_key_given_twice_is_an_error():
    with pytest.raises(ManifestError, match=r'^p.json: error parsing JSON: duplicate field "kind"'):
        load_string('{"apiVersion": "v1", "kind": "Pod", "kind": "Pod"}', source="p.json")

"""Bad manifests: one clear line naming the file and the field, exit 1, nothing created."""

from __future__ import annotations

import os

import pytest

GOOD_CONTAINER = "{name: c, image: busybox:1.36}"

CASES = [
    ("no-image", "containers: [{name: c}]", "spec.containers[0].image: Required value"),
    (
        "second-image",
        f"containers: [{GOOD_CONTAINER}, {{name: d}}]",
        "spec.containers[1].image: Required value",
    ),
    ("no-containers", "containers: []", "spec.containers: Required value"),
    (
        "bad-container-name",
        "containers: [{name: Web_1, image: busybox}]",
        'spec.containers[0].name: Invalid value: "Web_1"',
    ),
    (
        "duplicate-container",
        f"containers: [{GOOD_CONTAINER}, {GOOD_CONTAINER}]",
        'spec.containers[1].name: Duplicate value: "c"',
    ),
    (
        "restart-policy",
        f"restartPolicy: Sometimes\n  containers: [{GOOD_CONTAINER}]",
        'spec.restartPolicy: Unsupported value: "Sometimes"',
    ),
    (
        "port-zero",
        "containers: [{name: c, image: busybox, ports: [{containerPort: 0}]}]",
        "spec.containers[0].ports[0].containerPort: Required value",
    ),
    (
        "port-too-big",
        "containers: [{name: c, image: busybox, ports: [{containerPort: 70000}]}]",
        "spec.containers[0].ports[0].containerPort: Invalid value: 70000",
    ),
    (
        "bad-protocol",
        "containers: [{name: c, image: busybox, ports: [{containerPort: 80, protocol: HTTP}]}]",
        'spec.containers[0].ports[0].protocol: Unsupported value: "HTTP"',
    ),
    (
        "pull-policy",
        "containers: [{name: c, image: busybox, imagePullPolicy: Sometimes}]",
        'spec.containers[0].imagePullPolicy: Unsupported value: "Sometimes"',
    ),
    (
        "env-name",
        "containers: [{name: c, image: busybox, env: [{name: '1BAD', value: x}]}]",
        'spec.containers[0].env[0].name: Invalid value: "1BAD"',
    ),
    (
        "unknown-volume",
        "containers: [{name: c, image: busybox, volumeMounts: [{name: nope, mountPath: /x}]}]",
        'spec.containers[0].volumeMounts[0].name: Not found: "nope"',
    ),
    (
        "negative-grace",
        f"terminationGracePeriodSeconds: -1\n  containers: [{GOOD_CONTAINER}]",
        "spec.terminationGracePeriodSeconds: Invalid value: -1",
    ),
    (
        "bad-memory",
        "containers: [{name: c, image: busybox, resources: {limits: {memory: lots}}}]",
        'spec.containers[0].resources.limits[memory]: Invalid value: "lots"',
    ),
    (
        "limit-below-request",
        "containers: [{name: c, image: busybox, resources: {limits: {cpu: 100m}, "
        "requests: {cpu: 200m}}}]",
        'spec.containers[0].resources.requests: Invalid value: "200m"',
    ),
    (
        "dup-volume",
        f"volumes: [{{name: v, emptyDir: {{}}}}, {{name: v, emptyDir: {{}}}}]\n"
        f"  containers: [{GOOD_CONTAINER}]",
        'spec.volumes[1].name: Duplicate value: "v"',
    ),
]


@pytest.mark.parametrize(("case", "spec", "expected"), CASES, ids=[c[0] for c in CASES])
def test_invalid_pod_fails_naming_file_and_field(tmp_path, pod_node, case, spec, expected):
    path = tmp_path / f"{case}.yaml"
    path.write_text(f"apiVersion: v1\nkind: Pod\nmetadata:\n  name: bad\nspec:\n  {spec}\n")
    result = pod_node.run(str(path), timeout=60)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: {path}:"), lines[0]
    assert expected in lines[0]
    assert "Traceback" not in result.stderr
    assert not os.path.exists(pod_node.root), "nothing may be created for a bad manifest"


def test_invalid_pod_name_is_reported(tmp_path, pod_node):
    path = tmp_path / "name.yaml"
    path.write_text(
        f"apiVersion: v1\nkind: Pod\nmetadata:\n  name: Bad_Name\nspec:\n"
        f"  containers: [{GOOD_CONTAINER}]\n"
    )
    result = pod_node.run(str(path), timeout=60)
    assert result.returncode == 1
    assert 'metadata.name: Invalid value: "Bad_Name"' in result.stderr


def test_one_bad_pod_among_good_ones_starts_nothing(tmp_path, pod_node):
    path = tmp_path / "mixed.yaml"
    path.write_text(
        f"apiVersion: v1\nkind: Pod\nmetadata: {{name: good}}\nspec:\n"
        f"  containers: [{GOOD_CONTAINER}]\n---\n"
        f"apiVersion: v1\nkind: Pod\nmetadata: {{name: bad}}\nspec:\n"
        f"  containers: [{{name: c}}]\n"
    )
    result = pod_node.run(str(path), timeout=60)
    assert result.returncode == 1
    assert "spec.containers[0].image: Required value" in result.stderr
    assert "pod/good" not in result.stdout
    assert not os.path.exists(pod_node.root)


def test_yaml_syntax_error_names_the_line(tmp_path, pod_node):
    path = tmp_path / "broken.yaml"
    path.write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: x\n")
    result = pod_node.run(str(path), timeout=60)
    assert result.returncode == 1
    assert str(path) in result.stderr and "line" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_missing_file_is_one_clear_line(tmp_path, pod_node):
    result = pod_node.run(str(tmp_path / "nope.yaml"), timeout=60)
    assert result.returncode == 1
    assert "nope.yaml" in result.stderr and "Traceback" not in result.stderr

"""kubectl's printers: the STATUS column, RESTARTS, AGE rounding, column alignment and the
describe layout, from canned pod objects."""

import datetime as dt

import pytest

from minikube_py.cli import printers
from minikube_py.cli.describe import describe_pod

NOW = dt.datetime(2024, 1, 1, 12, 0, 0, tzinfo=dt.UTC)


def ago(seconds):
    return (NOW - dt.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (-5, "<invalid>"),
        (-1, "0s"),
        (0, "0s"),
        (59, "59s"),
        (119, "119s"),
        (120, "2m"),
        (303, "5m3s"),
        (599, "9m59s"),
        (600, "10m"),
        (179 * 60, "179m"),
        (3 * 3600, "3h"),
        (5 * 3600 + 20 * 60, "5h20m"),
        (8 * 3600, "8h"),
        (47 * 3600, "47h"),
        (48 * 3600, "2d"),
        (3 * 86400 + 4 * 3600, "3d4h"),
        (8 * 86400, "8d"),
        (400 * 86400, "400d"),
        (730 * 86400 + 30 * 86400, "2y30d"),
        (3 * 365 * 86400, "3y"),
        (9 * 365 * 86400, "9y"),
    ],
)
def test_age_rounds_like_kubectl(seconds, text):
    assert printers.human_duration(seconds) == text
    assert printers.age(ago(seconds), NOW) == text


def test_age_of_no_timestamp_is_unknown():
    assert printers.age(None) == "<unknown>"


def cs(name="app", state=None, last=None, ready=False, restarts=0):
    return {
        "name": name,
        "state": state or {"waiting": {"reason": "ContainerCreating"}},
        "lastState": last or {},
        "ready": ready,
        "restartCount": restarts,
    }


def pod(status, *, containers=("app",), inits=(), deleting=False):
    meta = {"name": "web", "namespace": "default", "creationTimestamp": ago(30)}
    if deleting:
        meta["deletionTimestamp"] = ago(-30)
    return {
        "metadata": meta,
        "spec": {
            "containers": [{"name": c} for c in containers],
            "initContainers": [{"name": c} for c in inits],
        },
        "status": status,
    }


RUNNING = {"running": {"startedAt": ago(20)}}
READY_CONDS = [{"type": "Ready", "status": "True"}, {"type": "Initialized", "status": "True"}]


@pytest.mark.parametrize(
    ("case", "status", "kw", "expected"),
    [
        ("new pod", {"phase": "Pending"}, {}, "Pending"),
        ("creating", {"phase": "Pending", "containerStatuses": [cs()]}, {}, "ContainerCreating"),
        (
            "pull error",
            {
                "phase": "Pending",
                "containerStatuses": [cs(state={"waiting": {"reason": "ErrImagePull"}})],
            },
            {},
            "ErrImagePull",
        ),
        (
            "pull backoff",
            {
                "phase": "Pending",
                "containerStatuses": [cs(state={"waiting": {"reason": "ImagePullBackOff"}})],
            },
            {},
            "ImagePullBackOff",
        ),
        (
            "running",
            {
                "phase": "Running",
                "conditions": READY_CONDS,
                "containerStatuses": [cs(state=RUNNING, ready=True)],
            },
            {},
            "Running",
        ),
        (
            "crash loop",
            {
                "phase": "Running",
                "containerStatuses": [
                    cs(
                        state={"waiting": {"reason": "CrashLoopBackOff"}},
                        last={
                            "terminated": {"exitCode": 1, "reason": "Error", "finishedAt": ago(5)}
                        },
                        restarts=3,
                    )
                ],
            },
            {},
            "CrashLoopBackOff",
        ),
        (
            "completed",
            {
                "phase": "Succeeded",
                "containerStatuses": [
                    cs(state={"terminated": {"exitCode": 0, "reason": "Completed"}})
                ],
            },
            {},
            "Completed",
        ),
        (
            "error",
            {
                "phase": "Failed",
                "containerStatuses": [cs(state={"terminated": {"exitCode": 2, "reason": "Error"}})],
            },
            {},
            "Error",
        ),
        (
            "oom",
            {
                "phase": "Failed",
                "containerStatuses": [
                    cs(state={"terminated": {"exitCode": 137, "reason": "OOMKilled"}})
                ],
            },
            {},
            "OOMKilled",
        ),
        (
            "signal without reason",
            {
                "phase": "Failed",
                "containerStatuses": [cs(state={"terminated": {"exitCode": 137, "signal": 9}})],
            },
            {},
            "Signal:9",
        ),
        (
            "exit code without reason",
            {"phase": "Failed", "containerStatuses": [cs(state={"terminated": {"exitCode": 3}})]},
            {},
            "ExitCode:3",
        ),
        (
            "one of two completed, other running and ready",
            {
                "phase": "Running",
                "conditions": READY_CONDS,
                "containerStatuses": [
                    cs("a", state=RUNNING, ready=True),
                    cs("b", state={"terminated": {"exitCode": 0, "reason": "Completed"}}),
                ],
            },
            {"containers": ("a", "b")},
            "Running",
        ),
        (
            "one of two completed, pod not ready",
            {
                "phase": "Running",
                "containerStatuses": [
                    cs("a", state=RUNNING, ready=True),
                    cs("b", state={"terminated": {"exitCode": 0, "reason": "Completed"}}),
                ],
            },
            {"containers": ("a", "b")},
            "NotReady",
        ),
        (
            "init running",
            {
                "phase": "Pending",
                "initContainerStatuses": [cs("i1", state=RUNNING), cs("i2")],
                "containerStatuses": [cs(state={"waiting": {"reason": "PodInitializing"}})],
            },
            {"inits": ("i1", "i2")},
            "Init:0/2",
        ),
        (
            "second init waiting",
            {
                "phase": "Pending",
                "initContainerStatuses": [
                    cs("i1", state={"terminated": {"exitCode": 0, "reason": "Completed"}}),
                    cs("i2", state={"waiting": {"reason": "PodInitializing"}}),
                ],
                "containerStatuses": [cs(state={"waiting": {"reason": "PodInitializing"}})],
            },
            {"inits": ("i1", "i2")},
            "Init:1/2",
        ),
        (
            "init failed",
            {
                "phase": "Pending",
                "initContainerStatuses": [
                    cs("i1", state={"terminated": {"exitCode": 1, "reason": "Error"}})
                ],
            },
            {"inits": ("i1",)},
            "Init:Error",
        ),
        (
            "init crash loop",
            {
                "phase": "Pending",
                "initContainerStatuses": [
                    cs("i1", state={"waiting": {"reason": "CrashLoopBackOff"}})
                ],
            },
            {"inits": ("i1",)},
            "Init:CrashLoopBackOff",
        ),
        (
            "init done, containers starting",
            {
                "phase": "Pending",
                "conditions": [{"type": "Initialized", "status": "True"}],
                "initContainerStatuses": [
                    cs("i1", state={"terminated": {"exitCode": 0, "reason": "Completed"}})
                ],
                "containerStatuses": [cs(state={"waiting": {"reason": "PodInitializing"}})],
            },
            {"inits": ("i1",)},
            "PodInitializing",
        ),
        (
            "terminating",
            {
                "phase": "Running",
                "conditions": READY_CONDS,
                "containerStatuses": [cs(state=RUNNING, ready=True)],
            },
            {"deleting": True},
            "Terminating",
        ),
        (
            "finished pod being deleted keeps its reason",
            {
                "phase": "Succeeded",
                "containerStatuses": [
                    cs(state={"terminated": {"exitCode": 0, "reason": "Completed"}})
                ],
            },
            {"deleting": True},
            "Completed",
        ),
        ("status reason wins over phase", {"phase": "Failed", "reason": "Evicted"}, {}, "Evicted"),
    ],
)
def test_status_column_like_kubectl(case, status, kw, expected):
    assert printers.pod_status_reason(pod(status, **kw)) == expected, case


def test_ready_and_restarts_columns():
    p = pod(
        {
            "phase": "Running",
            "conditions": READY_CONDS,
            "containerStatuses": [
                cs(
                    "a",
                    state=RUNNING,
                    ready=True,
                    restarts=2,
                    last={"terminated": {"exitCode": 1, "finishedAt": ago(75)}},
                ),
                cs(
                    "b",
                    state=RUNNING,
                    ready=False,
                    restarts=1,
                    last={"terminated": {"exitCode": 1, "finishedAt": ago(15)}},
                ),
            ],
        },
        containers=("a", "b"),
    )
    assert printers.pod_ready(p) == "1/2"
    assert printers.pod_restarts(p, NOW) == "3 (15s ago)"
    assert printers.pod_restarts(pod({"phase": "Pending"}), NOW) == "0"


def test_table_aligns_columns_like_kubectl():
    lines = printers.table(
        ["NAME", "READY", "STATUS", "RESTARTS", "AGE"],
        [["web", "1/1", "Running", "0", "5m"], ["a-long-pod-name", "0/2", "Pending", "0", "2s"]],
    )
    assert lines == [
        "NAME              READY   STATUS    RESTARTS   AGE",
        "web               1/1     Running   0          5m",
        "a-long-pod-name   0/2     Pending   0          2s",
    ]


def test_wide_row_has_ip_and_node():
    p = pod({"phase": "Running", "podIPs": [{"ip": "10.244.0.9"}]})
    p["spec"]["nodeName"] = "node1"
    row = printers.pod_row(p, wide=True, namespace=True)
    assert row[0] == "default"
    assert row[-4:] == ["10.244.0.9", "node1", "<none>", "<none>"]
    assert printers.pod_row(pod({"phase": "Pending"}), wide=True)[-4:-2] == ["<none>", "<none>"]


CANNED = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {
        "name": "web",
        "namespace": "default",
        "uid": "u1",
        "creationTimestamp": "2024-01-01T00:00:00Z",
        "labels": {"app": "web", "tier": "front"},
    },
    "spec": {
        "nodeName": "node1",
        "serviceAccountName": "default",
        "containers": [
            {
                "name": "app",
                "image": "busybox:1.36",
                "command": ["sh", "-c"],
                "args": ["echo hi; sleep 3600"],
                "ports": [{"containerPort": 80, "protocol": "TCP"}],
                "env": [{"name": "FOO", "value": "bar"}],
                "resources": {"limits": {"memory": "64Mi"}, "requests": {"memory": "64Mi"}},
                "volumeMounts": [{"name": "data", "mountPath": "/data"}],
            }
        ],
        "volumes": [{"name": "data", "emptyDir": {}}],
    },
    "status": {
        "phase": "Running",
        "hostIP": "192.168.1.10",
        "podIP": "10.244.0.5",
        "podIPs": [{"ip": "10.244.0.5"}],
        "startTime": "2024-01-01T00:00:01Z",
        "qosClass": "Burstable",
        "conditions": [
            {"type": "Initialized", "status": "True"},
            {"type": "Ready", "status": "True"},
            {"type": "ContainersReady", "status": "True"},
            {"type": "PodScheduled", "status": "True"},
        ],
        "containerStatuses": [
            {
                "name": "app",
                "state": {"running": {"startedAt": "2024-01-01T00:00:05Z"}},
                "lastState": {
                    "terminated": {
                        "exitCode": 1,
                        "reason": "Error",
                        "startedAt": "2024-01-01T00:00:02Z",
                        "finishedAt": "2024-01-01T00:00:04Z",
                    }
                },
                "ready": True,
                "restartCount": 1,
                "image": "busybox:1.36",
                "imageID": "sha256:abc",
                "containerID": "minikube-py://c1",
            }
        ],
    },
}


def test_describe_layout(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    import time

    time.tzset()
    events = [
        {
            "type": "Normal",
            "reason": "Pulled",
            "message": "Successfully pulled image",
            "count": 1,
            "firstTimestamp": "2024-01-01T00:00:01Z",
            "lastTimestamp": "2024-01-01T00:00:01Z",
            "source": {"component": "kubelet"},
        },
        {
            "type": "Warning",
            "reason": "BackOff",
            "message": "Back-off restarting failed container",
            "count": 3,
            "firstTimestamp": "2024-01-01T00:00:02Z",
            "lastTimestamp": "2024-01-01T00:00:03Z",
            "source": {"component": "kubelet"},
        },
    ]
    text = describe_pod(CANNED, events)
    lines = text.splitlines()
    head = "\n".join(lines[:14])
    assert head == (
        "Name:             web\n"
        "Namespace:        default\n"
        "Priority:         0\n"
        "Service Account:  default\n"
        "Node:             node1/192.168.1.10\n"
        "Start Time:       Mon, 01 Jan 2024 00:00:01 +0000\n"
        "Labels:           app=web\n"
        "                  tier=front\n"
        "Annotations:      <none>\n"
        "Status:           Running\n"
        "IP:               10.244.0.5\n"
        "IPs:\n"
        "  IP:  10.244.0.5\n"
        "Containers:"
    )
    container = "\n".join(lines[14:43])
    assert container == (
        "  app:\n"
        "    Container ID:  minikube-py://c1\n"
        "    Image:         busybox:1.36\n"
        "    Image ID:      sha256:abc\n"
        "    Port:          80/TCP\n"
        "    Host Port:     0/TCP\n"
        "    Command:\n"
        "      sh\n"
        "      -c\n"
        "    Args:\n"
        "      echo hi; sleep 3600\n"
        "    State:          Running\n"
        "      Started:      Mon, 01 Jan 2024 00:00:05 +0000\n"
        "    Last State:     Terminated\n"
        "      Reason:       Error\n"
        "      Exit Code:    1\n"
        "      Started:      Mon, 01 Jan 2024 00:00:02 +0000\n"
        "      Finished:     Mon, 01 Jan 2024 00:00:04 +0000\n"
        "    Ready:          True\n"
        "    Restart Count:  1\n"
        "    Limits:\n"
        "      memory:  64Mi\n"
        "    Requests:\n"
        "      memory:  64Mi\n"
        "    Environment:\n"
        "      FOO:  bar\n"
        "    Mounts:\n"
        "      /data from data (rw)\n"
        "Conditions:"
    )
    assert "\n".join(lines[43:]).startswith(
        "  Type             Status\n"
        "  Initialized      True\n"
        "  Ready            True\n"
        "  ContainersReady  True\n"
        "  PodScheduled     True\n"
        "Volumes:\n"
        "  data:\n"
        # one tabwriter block down to Tolerations, as in kubectl's output
        "    Type:        EmptyDir (a temporary directory that shares a pod's lifetime)\n"
        "    Medium:\n"
        "    SizeLimit:   <unset>\n"
        "QoS Class:       Burstable\n"
        "Node-Selectors:  <none>\n"
        "Tolerations:     <none>\n"
        "Events:\n"
        "  Type     Reason   Age"
    )
    assert lines[-3].split() == ["----", "------", "----", "----", "-------"]
    assert lines[-2].startswith("  Normal   Pulled   ")
    assert lines[-2].endswith("kubelet  Successfully pulled image")
    assert "(x3 over " in lines[-1] and lines[-1].startswith("  Warning  BackOff  ")


def test_describe_terminating_pod_without_events():
    p = {
        **CANNED,
        "metadata": {
            **CANNED["metadata"],
            "deletionTimestamp": "2099-01-01T00:00:00Z",
            "deletionGracePeriodSeconds": 30,
        },
    }
    text = describe_pod(p, [])
    assert "Status:                    Terminating (lasts <invalid>)\n" in text
    assert "Termination Grace Period:  30s\n" in text
    assert text.endswith("Tolerations:     <none>\nEvents:          <none>\n")


def test_describe_names_the_controller():
    p = {
        **CANNED,
        "metadata": {
            **CANNED["metadata"],
            "ownerReferences": [
                {
                    "apiVersion": "v1",
                    "kind": "ReplicationController",
                    "name": "front",
                    "uid": "rc1",
                    "controller": True,
                }
            ],
        },
    }
    text = describe_pod(p, [])
    # one tabwriter block, as kubectl prints it
    assert "IPs:\n  IP:           10.244.0.5\nControlled By:  ReplicationController/front\n" in text

"""``describe pod``: kubectl's layout (its describePod), from the pod object and its events."""

from __future__ import annotations

import datetime as dt
from typing import Any

from minikube_py.cli.printers import NONE, age, parse_time, tabwrite


def rfc1123(timestamp: str | None) -> str:
    """kubectl's time in describe: ``Mon, 02 Jan 2006 15:04:05 -0700``, local time."""
    at = parse_time(timestamp)
    if at is None:
        return ""
    return at.astimezone().strftime("%a, %d %b %Y %H:%M:%S %z")


class _Writer:
    """kubectl's PrefixWriter: two spaces per level, tab-separated cells."""

    def __init__(self) -> None:
        self.lines: list[list[str]] = []

    def write(self, level: int, *cells: str) -> None:
        cells_list = list(cells) or [""]
        cells_list[0] = "  " * level + cells_list[0]
        self.lines.append(cells_list)

    def text(self) -> str:
        return "\n".join(tabwrite(self.lines, padding=2, min_width=0)) + "\n"


def _multiline(w: _Writer, level: int, title: str, values: list[str]) -> None:
    if not values:
        w.write(level, title, NONE)
        return
    w.write(level, title, values[0])
    for v in values[1:]:
        w.write(level, "", v)


def _map_lines(m: dict[str, str] | None) -> list[str]:
    return [f"{k}={v}" for k, v in sorted((m or {}).items())]


def describe_pod(pod: dict[str, Any], events: list[dict[str, Any]]) -> str:
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    w = _Writer()
    w.write(0, "Name:", meta.get("name", ""))
    w.write(0, "Namespace:", meta.get("namespace", ""))
    w.write(0, "Priority:", str(spec.get("priority", 0)))
    w.write(0, "Service Account:", spec.get("serviceAccountName", ""))
    node = spec.get("nodeName") or NONE
    if spec.get("nodeName") and status.get("hostIP"):
        node = f"{spec['nodeName']}/{status['hostIP']}"
    w.write(0, "Node:", node)
    if status.get("startTime"):
        w.write(0, "Start Time:", rfc1123(status["startTime"]))
    _multiline(w, 0, "Labels:", _map_lines(meta.get("labels")))
    _multiline(w, 0, "Annotations:", _map_lines(meta.get("annotations")))
    if meta.get("deletionTimestamp"):
        # kubectl's wording; the timestamp is in the future, so it often reads <invalid>
        w.write(0, "Status:", f"Terminating (lasts {age(meta['deletionTimestamp'])})")
        w.write(
            0,
            "Termination Grace Period:",
            f"{meta.get('deletionGracePeriodSeconds', 0)}s",
        )
    else:
        w.write(0, "Status:", status.get("phase", ""))
    if status.get("reason"):
        w.write(0, "Reason:", status["reason"])
    if status.get("message"):
        w.write(0, "Message:", status["message"])
    w.write(0, "IP:", status.get("podIP", ""))
    ips = [i.get("ip", "") for i in status.get("podIPs") or []]
    if ips:
        w.write(0, "IPs:")
        for ip in ips:
            w.write(1, "IP:", ip)
    else:
        w.write(0, "IPs:", NONE)
    owner = next((o for o in meta.get("ownerReferences") or [] if o.get("controller")), None)
    if owner is not None:
        w.write(0, "Controlled By:", f"{owner.get('kind')}/{owner.get('name')}")

    init_statuses = {c["name"]: c for c in status.get("initContainerStatuses") or []}
    statuses = {c["name"]: c for c in status.get("containerStatuses") or []}
    if spec.get("initContainers"):
        w.write(0, "Init Containers:")
        for c in spec["initContainers"]:
            _describe_container(w, c, init_statuses.get(c["name"]))
    w.write(0, "Containers:")
    for c in spec.get("containers") or []:
        _describe_container(w, c, statuses.get(c["name"]))

    conditions = status.get("conditions") or []
    if conditions:
        w.write(0, "Conditions:")
        w.write(1, "Type", "Status")
        for cond in conditions:
            w.write(1, cond.get("type", ""), cond.get("status", ""))

    _describe_volumes(w, spec.get("volumes") or [])
    w.write(0, "QoS Class:", status.get("qosClass", ""))
    _multiline(w, 0, "Node-Selectors:", _map_lines(spec.get("nodeSelector")))
    tolerations = [_toleration(t) for t in spec.get("tolerations") or []]
    _multiline(w, 0, "Tolerations:", tolerations)
    _describe_events(w, events)
    return w.text()


def _describe_container(w: _Writer, c: dict[str, Any], cs: dict[str, Any] | None) -> None:
    cs = cs or {}
    w.write(1, f"{c['name']}:")
    w.write(2, "Container ID:", cs.get("containerID", ""))
    w.write(2, "Image:", c.get("image", ""))
    w.write(2, "Image ID:", cs.get("imageID", ""))
    ports = c.get("ports") or []
    port_texts = [f"{p.get('containerPort')}/{p.get('protocol', 'TCP')}" for p in ports]
    host_texts = [f"{p.get('hostPort', 0)}/{p.get('protocol', 'TCP')}" for p in ports]
    if len(ports) <= 1:
        w.write(2, "Port:", port_texts[0] if port_texts else NONE)
        w.write(2, "Host Port:", host_texts[0] if host_texts else NONE)
    else:
        w.write(2, "Ports:", ", ".join(port_texts))
        w.write(2, "Host Ports:", ", ".join(host_texts))
    for title, key in (("Command:", "command"), ("Args:", "args")):
        if c.get(key):
            w.write(2, title)
            for arg in c[key]:
                for line in str(arg).split("\n"):
                    w.write(3, line)
    _describe_state(w, "State:", cs.get("state") or {"waiting": {}} if cs else {})
    last = cs.get("lastState") or {}
    if last:
        _describe_state(w, "Last State:", last)
    w.write(2, "Ready:", "True" if cs.get("ready") else "False")
    w.write(2, "Restart Count:", str(cs.get("restartCount", 0)))
    resources = c.get("resources") or {}
    for title, key in (("Limits:", "limits"), ("Requests:", "requests")):
        values = resources.get(key) or {}
        if values:
            w.write(2, title)
            for name in sorted(values):
                w.write(3, f"{name}:", str(values[name]))
    for title, key in (
        ("Liveness:", "livenessProbe"),
        ("Readiness:", "readinessProbe"),
        ("Startup:", "startupProbe"),
    ):
        if c.get(key):
            w.write(2, title, probe_line(c[key]))
    env = c.get("env") or []
    if not env:
        w.write(2, "Environment:", NONE)
    else:
        w.write(2, "Environment:")
        for e in env:
            if "value" in e or not e.get("valueFrom"):
                w.write(3, f"{e['name']}:", str(e.get("value", "")))
            else:
                w.write(3, f"{e['name']}:", _value_from(e["valueFrom"]))
    mounts = c.get("volumeMounts") or []
    if not mounts:
        w.write(2, "Mounts:", NONE)
    else:
        w.write(2, "Mounts:")
        for m in mounts:
            flags = ["ro" if m.get("readOnly") else "rw"]
            if m.get("subPath"):
                flags.append(f'path="{m["subPath"]}"')
            w.write(3, f"{m.get('mountPath')} from {m.get('name')} ({','.join(flags)})")


def _value_from(source: dict[str, Any]) -> str:
    if "fieldRef" in source:
        ref = source["fieldRef"]
        return f" ({ref.get('apiVersion', 'v1')}:{ref.get('fieldPath', '')})"
    if "resourceFieldRef" in source:
        ref = source["resourceFieldRef"]
        return f"{ref.get('resource', '')} ({ref.get('containerName', '')})"
    kind = next(iter(source), "")
    return f"<set to the key in {kind}>"


def _describe_state(w: _Writer, title: str, state: dict[str, Any]) -> None:
    if "running" in state:
        w.write(2, title, "Running")
        w.write(3, "Started:", rfc1123(state["running"].get("startedAt")))
    elif "waiting" in state:
        w.write(2, title, "Waiting")
        reason = state["waiting"].get("reason")
        if reason:
            w.write(3, "Reason:", reason)
        if state["waiting"].get("message"):
            w.write(3, "Message:", state["waiting"]["message"])
    elif "terminated" in state:
        t = state["terminated"]
        w.write(2, title, "Terminated")
        if t.get("reason"):
            w.write(3, "Reason:", t["reason"])
        if t.get("message"):
            w.write(3, "Message:", t["message"])
        w.write(3, "Exit Code:", str(t.get("exitCode", 0)))
        if t.get("signal"):
            w.write(3, "Signal:", str(t["signal"]))
        w.write(3, "Started:", rfc1123(t.get("startedAt")))
        w.write(3, "Finished:", rfc1123(t.get("finishedAt")))
    else:
        w.write(2, title, "Waiting")


def _describe_volumes(w: _Writer, volumes: list[dict[str, Any]]) -> None:
    if not volumes:
        w.write(0, "Volumes:", NONE)
        return
    w.write(0, "Volumes:")
    for v in volumes:
        w.write(1, f"{v['name']}:")
        if "emptyDir" in v:
            ed = v["emptyDir"] or {}
            w.write(2, "Type:", "EmptyDir (a temporary directory that shares a pod's lifetime)")
            w.write(2, "Medium:", ed.get("medium", ""))
            w.write(2, "SizeLimit:", str(ed.get("sizeLimit") or "<unset>"))
        elif "hostPath" in v:
            hp = v["hostPath"] or {}
            w.write(2, "Type:", "HostPath (bare host directory volume)")
            w.write(2, "Path:", hp.get("path", ""))
            w.write(2, "HostPathType:", hp.get("type", ""))
        else:
            source = next((k for k in v if k != "name"), "")
            w.write(2, "Type:", f"{source[:1].upper()}{source[1:]} (not supported by minikube-py)")


def _toleration(t: dict[str, Any]) -> str:
    text = t.get("key", "")
    if t.get("value"):
        text += f"={t['value']}"
    if t.get("effect"):
        text += f":{t['effect']}"
    if t.get("operator") == "Exists" and not t.get("value"):
        text += " op=Exists"
    if t.get("tolerationSeconds") is not None:
        text += f" for {t['tolerationSeconds']}s"
    return text


def _describe_events(w: _Writer, events: list[dict[str, Any]]) -> None:
    if not events:
        w.write(0, "Events:", NONE)
        return
    w.write(0, "Events:")
    w.write(1, "Type", "Reason", "Age", "From", "Message")
    w.write(1, "----", "------", "----", "----", "-------")
    now = dt.datetime.now(dt.UTC)

    def when(e: dict[str, Any]) -> str:
        return e.get("lastTimestamp") or e.get("firstTimestamp") or e.get("eventTime") or ""

    for e in sorted(events, key=when):
        count = int(e.get("count") or 1)
        if count > 1:
            interval = (
                f"{age(e.get('lastTimestamp'), now)} (x{count} over "
                f"{age(e.get('firstTimestamp'), now)})"
            )
        else:
            interval = age(e.get("firstTimestamp") or e.get("lastTimestamp"), now)
        source = (e.get("source") or {}).get("component") or e.get("reportingComponent", "")
        w.write(
            1,
            e.get("type", ""),
            e.get("reason", ""),
            interval,
            source,
            str(e.get("message", "")).strip(),
        )


def probe_line(p: dict[str, Any]) -> str:
    """kubectl describe's one line for a probe."""
    if "exec" in p:
        what = "exec [" + " ".join((p["exec"] or {}).get("command") or []) + "]"
    elif "httpGet" in p:
        h = p["httpGet"] or {}
        scheme = str(h.get("scheme") or "HTTP").lower()
        what = f"http-get {scheme}://{h.get('host', '')}:{h.get('port', '')}{h.get('path', '')}"
    elif "tcpSocket" in p:
        t = p["tcpSocket"] or {}
        what = f"tcp-socket {t.get('host', '')}:{t.get('port', '')}"
    else:
        what = "unknown"
    return (
        f"{what} delay={p.get('initialDelaySeconds', 0)}s timeout={p.get('timeoutSeconds', 1)}s "
        f"period={p.get('periodSeconds', 10)}s #success={p.get('successThreshold', 1)} "
        f"#failure={p.get('failureThreshold', 3)}"
    )


def describe_replication_controller(
    rc: dict[str, Any], pods: list[dict[str, Any]], events: list[dict[str, Any]]
) -> str:
    """kubectl's describe of an RC: selector, replicas, pods by phase, the pod template."""
    meta = rc.get("metadata") or {}
    spec = rc.get("spec") or {}
    status = rc.get("status") or {}
    template = spec.get("template") or {}
    w = _Writer()
    w.write(0, "Name:", meta.get("name", ""))
    w.write(0, "Namespace:", meta.get("namespace", ""))
    w.write(0, "Selector:", ",".join(_map_lines(spec.get("selector"))))
    _multiline(w, 0, "Labels:", _map_lines(meta.get("labels")))
    _multiline(w, 0, "Annotations:", _map_lines(meta.get("annotations")))
    w.write(
        0, "Replicas:", f"{status.get('replicas', 0)} current / {spec.get('replicas', 1)} desired"
    )
    phases = [(p.get("status") or {}).get("phase", "Pending") for p in pods]
    w.write(
        0,
        "Pods Status:",
        f"{phases.count('Running')} Running / {phases.count('Pending')} Waiting / "
        f"{phases.count('Succeeded')} Succeeded / {phases.count('Failed')} Failed",
    )
    w.write(0, "Pod Template:")
    tmeta = template.get("metadata") or {}
    tspec = template.get("spec") or {}
    _multiline(w, 1, "Labels:", _map_lines(tmeta.get("labels")))
    if tspec.get("initContainers"):
        w.write(1, "Init Containers:")
        for c in tspec["initContainers"]:
            _describe_template_container(w, c)
    w.write(1, "Containers:")
    for c in tspec.get("containers") or []:
        _describe_template_container(w, c)
    volumes = tspec.get("volumes") or []
    if not volumes:
        w.write(1, "Volumes:", NONE)
    else:
        w.write(1, "Volumes:")
        for v in volumes:
            source = next((k for k in v if k != "name"), "")
            w.write(2, f"{v['name']}:", source)
    _describe_events(w, events)
    return w.text()


def _describe_template_container(w: _Writer, c: dict[str, Any]) -> None:
    w.write(1, f" {c['name']}:")
    w.write(2, "Image:", c.get("image", ""))
    ports = c.get("ports") or []
    w.write(
        2,
        "Port:",
        ", ".join(f"{p.get('containerPort')}/{p.get('protocol', 'TCP')}" for p in ports) or NONE,
    )
    for title, key in (("Command:", "command"), ("Args:", "args")):
        if c.get(key):
            w.write(2, title)
            for arg in c[key]:
                w.write(3, str(arg))
    env = c.get("env") or []
    if not env:
        w.write(2, "Environment:", NONE)
    else:
        w.write(2, "Environment:")
        for e in env:
            w.write(3, f"{e['name']}:", str(e.get("value", "")))
    mounts = c.get("volumeMounts") or []
    if not mounts:
        w.write(2, "Mounts:", NONE)
    else:
        w.write(2, "Mounts:")
        for m in mounts:
            w.write(
                3,
                f"{m.get('mountPath')} from {m.get('name')} "
                f"({'ro' if m.get('readOnly') else 'rw'})",
            )

"""kubectl's table output: pod STATUS and RESTARTS as kubectl computes them, AGE as it rounds
durations, and columns aligned as Go's text/tabwriter aligns them.

Pure functions over Kubernetes object dicts, so they are tested from canned objects.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

NONE = "<none>"


# ------------------------------------------------------------------------------ time


def parse_time(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        return dt.datetime.fromisoformat(value)
    except ValueError:
        return None


def human_duration(seconds: float) -> str:
    """kubectl's rounding of an age (apimachinery duration.HumanDuration): 45s, 2m5s, 12m,
    3h, 5h20m, 2d, 3d4h, 400d, 2y30d."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 60 * 2:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        rest = s % 60
        return f"{minutes}m" if rest == 0 else f"{minutes}m{rest}s"
    if minutes < 60 * 3:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h" if rest == 0 else f"{hours}h{rest}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rest = hours % 24
        return f"{hours // 24}d" if rest == 0 else f"{hours // 24}d{rest}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        years = hours // 24 // 365
        return f"{years}y" if days == 0 else f"{years}y{days}d"
    return f"{hours // 24 // 365}y"


def age(timestamp: str | None, now: dt.datetime | None = None) -> str:
    """Time since ``timestamp`` as kubectl shows it; ``<unknown>`` when unset."""
    at = parse_time(timestamp)
    if at is None:
        return "<unknown>"
    now = now or dt.datetime.now(dt.UTC)
    return human_duration((now - at).total_seconds())


# ------------------------------------------------------------------------------ pods


def _state(cs: dict[str, Any], key: str = "state") -> dict[str, Any]:
    return cs.get(key) or {}


def pod_status_reason(pod: dict[str, Any]) -> str:
    """The STATUS column of ``kubectl get pods`` (kubectl's printPod)."""
    return _pod_row_facts(pod)[1]


def pod_restarts(pod: dict[str, Any], now: dt.datetime | None = None) -> str:
    """The RESTARTS column: ``2 (15s ago)`` when a container has restarted."""
    restarts, _, _, last = _pod_row_facts(pod)
    if restarts and last is not None:
        now = now or dt.datetime.now(dt.UTC)
        return f"{restarts} ({human_duration((now - last).total_seconds())} ago)"
    return str(restarts)


def pod_ready(pod: dict[str, Any]) -> str:
    _, _, ready, _ = _pod_row_facts(pod)
    total = len((pod.get("spec") or {}).get("containers") or [])
    return f"{ready}/{total}"


def _pod_row_facts(pod: dict[str, Any]) -> tuple[int, str, int, dt.datetime | None]:
    """(restarts, reason, ready containers, last restart time) as printPod computes them."""
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    meta = pod.get("metadata") or {}
    reason = status.get("reason") or status.get("phase") or ""
    restarts = 0
    ready = 0
    last: dt.datetime | None = None

    def note_last(cs: dict[str, Any]) -> None:
        nonlocal last
        finished = parse_time(_state(cs, "lastState").get("terminated", {}).get("finishedAt"))
        if finished is not None and (last is None or finished > last):
            last = finished

    init_specs = spec.get("initContainers") or []
    initializing = False
    for i, cs in enumerate(status.get("initContainerStatuses") or []):
        restarts += int(cs.get("restartCount") or 0)
        note_last(cs)
        state = _state(cs)
        term, waiting = state.get("terminated"), state.get("waiting")
        if term is not None and term.get("exitCode") == 0:
            continue
        if term is not None:
            if term.get("reason"):
                reason = "Init:" + term["reason"]
            elif term.get("signal"):
                reason = f"Init:Signal:{term['signal']}"
            else:
                reason = f"Init:ExitCode:{term.get('exitCode', 0)}"
        elif (
            waiting is not None
            and waiting.get("reason")
            and waiting["reason"] != ("PodInitializing")
        ):
            reason = "Init:" + waiting["reason"]
        else:
            reason = f"Init:{i}/{len(init_specs)}"
        initializing = True
        break

    if not initializing or _condition_true(status, "Initialized"):
        restarts, last = 0, None
        has_running = False
        for cs in reversed(status.get("containerStatuses") or []):
            restarts += int(cs.get("restartCount") or 0)
            note_last(cs)
            state = _state(cs)
            waiting, term = state.get("waiting"), state.get("terminated")
            if waiting is not None and waiting.get("reason"):
                reason = waiting["reason"]
            elif term is not None and term.get("reason"):
                reason = term["reason"]
            elif term is not None:
                if term.get("signal"):
                    reason = f"Signal:{term['signal']}"
                else:
                    reason = f"ExitCode:{term.get('exitCode', 0)}"
            elif cs.get("ready") and state.get("running") is not None:
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            reason = "Running" if _condition_true(status, "Ready") else "NotReady"

    phase = status.get("phase")
    if meta.get("deletionTimestamp"):
        if status.get("reason") == "NodeLost":
            reason = "Unknown"
        elif phase not in ("Succeeded", "Failed"):
            reason = "Terminating"
    return restarts, reason, ready, last


def _condition_true(status: dict[str, Any], type_: str) -> bool:
    for c in status.get("conditions") or []:
        if c.get("type") == type_:
            return c.get("status") == "True"
    return False


def pod_row(
    pod: dict[str, Any], *, wide: bool = False, namespace: bool = False, prefix: str = ""
) -> list[str]:
    meta = pod.get("metadata") or {}
    status = pod.get("status") or {}
    restarts, reason, ready, last = _pod_row_facts(pod)
    now = dt.datetime.now(dt.UTC)
    restarts_text = str(restarts)
    if restarts and last is not None:
        restarts_text = f"{restarts} ({human_duration((now - last).total_seconds())} ago)"
    total = len((pod.get("spec") or {}).get("containers") or [])
    row = [
        prefix + meta.get("name", ""),
        f"{ready}/{total}",
        reason,
        restarts_text,
        age(meta.get("creationTimestamp"), now),
    ]
    if namespace:
        row.insert(0, meta.get("namespace", ""))
    if wide:
        ips = status.get("podIPs") or []
        ip = (ips[0].get("ip") if ips else "") or NONE
        row += [ip, (pod.get("spec") or {}).get("nodeName") or NONE, NONE, NONE]
    return row


POD_COLUMNS = ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
POD_WIDE_COLUMNS = [*POD_COLUMNS, "IP", "NODE", "NOMINATED NODE", "READINESS GATES"]


# ------------------------------------------------------------------------------ RCs


RC_COLUMNS = ["NAME", "DESIRED", "CURRENT", "READY", "AGE"]
RC_WIDE_COLUMNS = [*RC_COLUMNS, "CONTAINERS", "IMAGES", "SELECTOR"]


def rc_row(
    rc: dict[str, Any], *, wide: bool = False, namespace: bool = False, prefix: str = ""
) -> list[str]:
    meta = rc.get("metadata") or {}
    spec = rc.get("spec") or {}
    status = rc.get("status") or {}
    row = [
        prefix + meta.get("name", ""),
        str(spec.get("replicas", 1)),
        str(status.get("replicas") or 0),
        str(status.get("readyReplicas") or 0),
        age(meta.get("creationTimestamp")),
    ]
    if namespace:
        row.insert(0, meta.get("namespace", ""))
    if wide:
        containers = ((spec.get("template") or {}).get("spec") or {}).get("containers") or []
        selector = spec.get("selector") or {}
        row += [
            ",".join(c.get("name", "") for c in containers),
            ",".join(c.get("image", "") for c in containers),
            ",".join(f"{k}={v}" for k, v in sorted(selector.items())) or NONE,
        ]
    return row


# ------------------------------------------------------------------------------ tabwriter


def tabwrite(lines: Sequence[Sequence[str]], *, padding: int = 3, min_width: int = 6) -> list[str]:
    """Align cells as Go's text/tabwriter does: every cell but a line's last is a column;
    a column's width holds within a block of consecutive lines that have that column."""
    widths: list[list[int]] = [[0] * max(len(line) - 1, 0) for line in lines]

    def block(col: int, start: int, end: int) -> None:
        i = start
        while i < end:
            if len(lines[i]) - 1 <= col:
                i += 1
                continue
            j, width = i, 0
            while j < end and len(lines[j]) - 1 > col:
                width = max(width, len(lines[j][col]) + padding)
                j += 1
            width = max(width, min_width)
            for k in range(i, j):
                widths[k][col] = width
            block(col + 1, i, j)
            i = j

    block(0, 0, len(lines))
    out = []
    for line, ws in zip(lines, widths, strict=True):
        cells = [cell.ljust(w) for cell, w in zip(line[:-1], ws, strict=True)]
        out.append(("".join(cells) + (line[-1] if line else "")).rstrip())
    return out


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    return tabwrite([header, *rows])


def resource_prefix(kind: str) -> str:
    return {"Pod": "pod/", "ReplicationController": "replicationcontroller/"}.get(
        kind, kind.lower() + "/"
    )

"""Label and field selectors, parsed as the Kubernetes API server parses them.

Label selectors: ``a=b``, ``a==b``, ``a!=b``, ``a in (x,y)``, ``a notin (x)``, ``a`` (exists),
``!a`` (does not exist), joined by commas (all must hold).  Field selectors: ``path=value``,
``path==value``, ``path!=value`` over the few fields Kubernetes allows for each kind.  A
malformed selector is a ``BadRequest``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from minikube_py.apiserver.errors import bad_request

# Kubernetes' label key: optional DNS-subdomain prefix and a name of 63 characters at most.
_NAME = r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
_KEY_RE = re.compile(rf"^([a-z0-9]([-a-z0-9.]{{0,251}}[a-z0-9])?/)?{_NAME}$")
_VALUE_RE = re.compile(rf"^({_NAME})?$")

FIELDS: dict[str, tuple[str, ...]] = {
    "Pod": (
        "metadata.name",
        "metadata.namespace",
        "spec.nodeName",
        "spec.restartPolicy",
        "spec.schedulerName",
        "spec.serviceAccountName",
        "status.phase",
        "status.podIP",
        "status.nominatedNodeName",
    ),
    "ReplicationController": ("metadata.name", "metadata.namespace", "status.replicas"),
    "Event": (
        "metadata.name",
        "metadata.namespace",
        "involvedObject.kind",
        "involvedObject.namespace",
        "involvedObject.name",
        "involvedObject.uid",
        "involvedObject.apiVersion",
        "involvedObject.resourceVersion",
        "involvedObject.fieldPath",
        "reason",
        "reportingComponent",
        "source",
        "type",
    ),
}


@dataclass(frozen=True)
class Requirement:
    key: str
    operator: str  # = != in notin exists !
    values: tuple[str, ...] = ()

    def matches(self, labels: dict[str, str]) -> bool:
        if self.operator == "exists":
            return self.key in labels
        if self.operator == "!":
            return self.key not in labels
        if self.operator in ("=", "in"):
            return self.key in labels and labels[self.key] in self.values
        # != and notin also match when the label is absent (Kubernetes' rule)
        return labels.get(self.key) not in self.values


class LabelSelector:
    def __init__(self, requirements: list[Requirement]) -> None:
        self.requirements = requirements

    def matches(self, labels: dict[str, str] | None) -> bool:
        labels = labels or {}
        return all(r.matches(labels) for r in self.requirements)

    @property
    def empty(self) -> bool:
        return not self.requirements


_TOKEN_RE = re.compile(r"\s*(!=|==|=|\(|\)|,|!|[^\s!=(),]+)")


def parse_label_selector(text: str | None) -> LabelSelector:
    """Parse a labelSelector; raise a 400 BadRequest naming the problem."""
    if not text or not text.strip():
        return LabelSelector([])
    tokens = _tokenize(text)
    reqs: list[Requirement] = []
    i = 0

    def fail(detail: str) -> Exception:
        return bad_request(f'unable to parse requirement: {detail} (labelSelector "{text}")')

    while i < len(tokens):
        tok = tokens[i]
        if tok == "!":
            if i + 1 >= len(tokens) or tokens[i + 1] in _PUNCT:
                raise fail("found '!', expected: identifier")
            key = _check_key(tokens[i + 1], fail)
            reqs.append(Requirement(key, "!"))
            i += 2
        elif tok in _PUNCT:
            raise fail(f"found '{tok}', expected: !, identifier, or 'end of string'")
        else:
            key = _check_key(tok, fail)
            nxt = tokens[i + 1] if i + 1 < len(tokens) else None
            if nxt is None or nxt == ",":
                reqs.append(Requirement(key, "exists"))
                i += 1
            elif nxt in ("=", "==", "!="):
                if i + 2 >= len(tokens) or tokens[i + 2] in _PUNCT:
                    # `a=` means the empty value
                    value = ""
                    i += 2
                else:
                    value = tokens[i + 2]
                    i += 3
                _check_value(value, fail)
                reqs.append(Requirement(key, "!=" if nxt == "!=" else "=", (value,)))
            elif nxt in ("in", "notin"):
                if i + 2 >= len(tokens) or tokens[i + 2] != "(":
                    raise fail(
                        f"found '{tokens[i + 2] if i + 2 < len(tokens) else ''}', expected: '('"
                    )
                values: list[str] = []
                j = i + 3
                while True:
                    if j >= len(tokens):
                        raise fail("found 'end of string', expected: ')'")
                    t = tokens[j]
                    if t == ")":
                        j += 1
                        break
                    if t == ",":
                        j += 1
                        continue
                    values.append(_check_value(t, fail))
                    j += 1
                reqs.append(Requirement(key, nxt, tuple(values)))
                i = j
            else:
                raise fail(f"found '{nxt}', expected: in, notin, =, ==, !=, or end of string")
        if i < len(tokens):
            if tokens[i] != ",":
                raise fail(f"found '{tokens[i]}', expected: ',' or 'end of string'")
            i += 1
            if i >= len(tokens):
                raise fail("found 'end of string', expected: identifier")
    return LabelSelector(reqs)


_PUNCT = {"!=", "==", "=", "(", ")", ",", "!"}


def _tokenize(text: str) -> list[str]:
    tokens: list[str] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN_RE.match(text, pos)
        if not m:
            break
        tokens.append(m.group(1))
        pos = m.end()
    return tokens


def _check_key(key: str, fail: Callable[[str], Exception]) -> str:
    if not _KEY_RE.match(key):
        raise fail(
            f'invalid label key "{key}": a valid label key must be a name of 63 '
            "characters or fewer, optionally prefixed by a DNS subdomain and '/'"
        )
    return key


def _check_value(value: str, fail: Callable[[str], Exception]) -> str:
    if not _VALUE_RE.match(value):
        raise fail(
            f'invalid label value: "{value}": a valid label must be an empty string or '
            "consist of alphanumeric characters, '-', '_' or '.', and must start and "
            "end with an alphanumeric character"
        )
    return value


# ------------------------------------------------------------------------------ field selectors


@dataclass(frozen=True)
class FieldRequirement:
    field: str
    negated: bool
    value: str


class FieldSelector:
    def __init__(self, requirements: list[FieldRequirement]) -> None:
        self.requirements = requirements

    def matches(self, obj: dict[str, Any]) -> bool:
        for r in self.requirements:
            actual = field_value(obj, r.field)
            if (actual == r.value) == r.negated:
                return False
        return True

    @property
    def empty(self) -> bool:
        return not self.requirements

    def value_of(self, field: str) -> str | None:
        """The value an ``=`` term pins ``field`` to (a quick path for metadata.name)."""
        for r in self.requirements:
            if r.field == field and not r.negated:
                return r.value
        return None


def parse_field_selector(text: str | None, kind: str) -> FieldSelector:
    if not text or not text.strip():
        return FieldSelector([])
    reqs: list[FieldRequirement] = []
    for term in _split_unescaped(text):
        term = term.strip()
        if not term:
            continue
        for op in ("!=", "==", "="):
            key, sep, value = term.partition(op)
            if sep:
                break
        else:
            raise bad_request(f"invalid selector: '{text}'; can't understand '{term}'")
        key = key.strip()
        allowed = FIELDS.get(kind, ("metadata.name", "metadata.namespace"))
        if key not in allowed:
            raise bad_request(f"field label not supported: {key}")
        reqs.append(FieldRequirement(key, op == "!=", _unescape(value.strip())))
    return FieldSelector(reqs)


def _split_unescaped(text: str) -> list[str]:
    parts, current, escaped = [], [], False
    for ch in text:
        if escaped:
            current.append("\\" + ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == ",":
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return parts


def _unescape(value: str) -> str:
    return re.sub(r"\\(.)", r"\1", value)


def field_value(obj: dict[str, Any], path: str) -> str:
    """The string value of a dotted field path in ``obj`` ("" when absent), as Kubernetes'
    field sets hold them (``source`` of an Event is its component)."""
    if path == "source":
        return str((obj.get("source") or {}).get("component", ""))
    node: Any = obj
    for part in path.split("."):
        if not isinstance(node, dict):
            return ""
        node = node.get(part)
    if node is None:
        return ""
    return str(node)

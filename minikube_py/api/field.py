"""Field errors as the Kubernetes API server words them.

A ``FieldError`` is one cause of an invalid object: the field path
(``spec.containers[1].image``), a machine reason (``FieldValueRequired``, the ``reason`` of a
Kubernetes ``StatusCause``) and the human text (``Required value``,
``Invalid value: "Bad_Name": a lowercase RFC 1123 ...``).  ``str(err)`` is
``<field>: <message>``, exactly what ``kubectl`` prints.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

REQUIRED = "FieldValueRequired"
INVALID = "FieldValueInvalid"
NOT_SUPPORTED = "FieldValueNotSupported"
DUPLICATE = "FieldValueDuplicate"
NOT_FOUND = "FieldValueNotFound"
FORBIDDEN = "FieldValueForbidden"
TOO_LONG = "FieldValueTooLong"
TYPE_INVALID = "FieldValueTypeInvalid"

_TYPE_WORDS = {
    REQUIRED: "Required value",
    INVALID: "Invalid value",
    NOT_SUPPORTED: "Unsupported value",
    DUPLICATE: "Duplicate value",
    NOT_FOUND: "Not found",
    FORBIDDEN: "Forbidden",
    TOO_LONG: "Too long",
    TYPE_INVALID: "Invalid value",
}
# These types never echo the offending value.
_NO_VALUE = {REQUIRED, FORBIDDEN, TOO_LONG}
_OMIT = object()


@dataclass(frozen=True)
class FieldError:
    """One invalid field: path, reason and Kubernetes' message for it."""

    field: str
    reason: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


def format_value(value: object) -> str:
    """Render a bad value the way Go's field errors do: strings quoted, numbers bare."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def make(reason: str, field: str, value: object = _OMIT, detail: str = "") -> FieldError:
    text = _TYPE_WORDS[reason]
    if reason not in _NO_VALUE and value is not _OMIT:
        text += f": {format_value(value)}"
    if detail:
        text += f": {detail}"
    return FieldError(field, reason, text)


def required(field: str, detail: str = "") -> FieldError:
    return make(REQUIRED, field, detail=detail)


def invalid(field: str, value: object, detail: str) -> FieldError:
    return make(INVALID, field, value, detail)


def not_supported(field: str, value: object, supported: list[str] | tuple[str, ...]) -> FieldError:
    detail = "supported values: " + ", ".join(json.dumps(v) for v in supported) if supported else ""
    return make(NOT_SUPPORTED, field, value, detail)


def duplicate(field: str, value: object) -> FieldError:
    return make(DUPLICATE, field, value)


def not_found(field: str, value: object) -> FieldError:
    return make(NOT_FOUND, field, value)


def forbidden(field: str, detail: str) -> FieldError:
    return make(FORBIDDEN, field, detail=detail)


def too_long(field: str, max_bytes: int) -> FieldError:
    return make(TOO_LONG, field, detail=f"must have at most {max_bytes} bytes")


def type_invalid(field: str, value: object, detail: str) -> FieldError:
    return make(TYPE_INVALID, field, value, detail)


def child(path: str, name: str) -> str:
    """``spec`` + ``containers`` -> ``spec.containers``."""
    return f"{path}.{name}" if path else name


def index(path: str, i: int) -> str:
    return f"{path}[{i}]"


def key(path: str, k: str) -> str:
    """A map key, as Kubernetes prints it: ``resources.limits[memory]``."""
    return f"{path}[{k}]"

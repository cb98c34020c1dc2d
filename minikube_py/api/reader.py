"""Reading decoded YAML/JSON into typed objects, collecting errors instead of raising.

Kubernetes decodes JSON strictly by type (a string where an int32 belongs fails) and, with
field validation on, reports fields it does not know.  ``ObjectReader`` does both for one JSON
object: typed getters record a ``FieldError`` on a wrong type, and ``extra()`` returns the
fields Kubernetes knows but we do not model (kept so ``to_dict()`` gives them back) while
recording every other leftover key as an unknown-field warning.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from minikube_py.api import field as f
from minikube_py.api.quantity import Quantity, QuantityError


@dataclass
class ParseContext:
    """Where a parse puts its findings: field errors and unknown-field paths."""

    errors: list[f.FieldError] = field(default_factory=list)
    unknown_fields: list[str] = field(default_factory=list)

    def error(self, err: f.FieldError) -> None:
        self.errors.append(err)


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


class ObjectReader:
    """Typed access to one JSON object at ``path``; remembers which keys were read."""

    def __init__(self, ctx: ParseContext, data: Any, path: str) -> None:
        self.ctx = ctx
        self.path = path
        self.used: set[str] = set()
        if data is None:
            data = {}
        if not isinstance(data, dict):
            ctx.error(f.type_invalid(path, data, f"must be an object, not {_type_name(data)}"))
            data = {}
        self.data: dict[str, Any] = data

    def at(self, key: str) -> str:
        return f.child(self.path, key)

    def raw(self, key: str) -> Any:
        self.used.add(key)
        return self.data.get(key)

    def _wrong(self, key: str, value: Any, want: str) -> None:
        self.ctx.error(
            f.type_invalid(self.at(key), value, f"must be {want}, not {_type_name(value)}")
        )

    def str(self, key: str, default: str | None = None) -> str | None:
        value = self.raw(key)
        if value is None:
            return default
        if not isinstance(value, str):
            self._wrong(key, value, "a string")
            return default
        return value

    def int(self, key: str) -> int | None:
        value = self.raw(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self._wrong(key, value, "an integer")
            return None
        return value

    def bool(self, key: str) -> bool | None:
        value = self.raw(key)
        if value is None:
            return None
        if not isinstance(value, bool):
            self._wrong(key, value, "a boolean")
            return None
        return value

    def str_list(self, key: str) -> list[str] | None:
        value = self.raw(key)
        if value is None:
            return None
        if not isinstance(value, list):
            self._wrong(key, value, "an array of strings")
            return None
        out: list[str] = []
        for i, item in enumerate(value):
            if isinstance(item, str):
                out.append(item)
            else:
                self.ctx.error(
                    f.type_invalid(
                        f.index(self.at(key), i), item, f"must be a string, not {_type_name(item)}"
                    )
                )
        return out

    def int_list(self, key: str) -> list[int] | None:
        value = self.raw(key)
        if value is None:
            return None
        if not isinstance(value, list):
            self._wrong(key, value, "an array of integers")
            return None
        out: list[int] = []
        for i, item in enumerate(value):
            if isinstance(item, int) and not isinstance(item, bool):
                out.append(item)
            else:
                self.ctx.error(
                    f.type_invalid(
                        f.index(self.at(key), i),
                        item,
                        f"must be an integer, not {_type_name(item)}",
                    )
                )
        return out

    def str_map(self, key: str) -> dict[str, str]:
        value = self.raw(key)
        if value is None:
            return {}
        if not isinstance(value, dict):
            self._wrong(key, value, "an object of strings")
            return {}
        out: dict[str, str] = {}
        for k, v in value.items():
            if isinstance(v, str):
                out[str(k)] = v
            else:
                self.ctx.error(
                    f.type_invalid(
                        f.key(self.at(key), str(k)), v, f"must be a string, not {_type_name(v)}"
                    )
                )
        return out

    def quantity_map(self, key: str) -> dict[str, Quantity]:
        value = self.raw(key)
        if value is None:
            return {}
        if not isinstance(value, dict):
            self._wrong(key, value, "an object of quantities")
            return {}
        out: dict[str, Quantity] = {}
        for k, v in value.items():
            q = parse_quantity(self.ctx, f.key(self.at(key), str(k)), v)
            if q is not None:
                out[str(k)] = q
        return out

    def reader(self, key: str) -> ObjectReader | None:
        value = self.raw(key)
        if value is None:
            return None
        return ObjectReader(self.ctx, value, self.at(key))

    def items(self, key: str) -> list[tuple[str, Any]]:
        """(path, element) for each element of an array field."""
        value = self.raw(key)
        if value is None:
            return []
        if not isinstance(value, list):
            self._wrong(key, value, "an array")
            return []
        return [(f.index(self.at(key), i), item) for i, item in enumerate(value)]

    def extra(self, known: frozenset[str]) -> dict[str, Any]:
        """Known-but-unmodelled fields (kept verbatim); record the rest as unknown."""
        out: dict[str, Any] = {}
        for k, v in self.data.items():
            if k in self.used:
                continue
            if k in known:
                out[k] = v
            else:
                self.ctx.unknown_fields.append(self.at(str(k)))
        return out


def parse_quantity(ctx: ParseContext, path: str, value: Any) -> Quantity | None:
    try:
        return Quantity.parse(value)
    except QuantityError as e:
        ctx.error(f.invalid(path, value if isinstance(value, str) else str(value), str(e)))
        return None

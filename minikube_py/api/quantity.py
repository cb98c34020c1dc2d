"""Kubernetes resource quantities: ``100m``, ``0.5``, ``64Mi``, ``1G``, ``1e3``.

A quantity is an exact number (a ``Fraction`` here) with the format it was written in:
binary SI (``Ki`` .. ``Ei``), decimal SI (``n`` .. ``E``) or a decimal exponent (``1e3``).
``str()`` gives the canonical form the API server stores and returns (``0.5`` -> ``500m``,
``1024Mi`` -> ``1Gi``, ``1000`` -> ``1k``); values are rounded up to nano units as Kubernetes does.
"""

from __future__ import annotations

import functools
import math
import re
from fractions import Fraction

QUANTITY_REGEX_TEXT = "^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$"
PARSE_ERROR = f"quantities must match the regular expression '{QUANTITY_REGEX_TEXT}'"

BINARY_SI = "BinarySI"
DECIMAL_SI = "DecimalSI"
DECIMAL_EXPONENT = "DecimalExponent"

_NUMBER_RE = re.compile(r"^([+-]?)([0-9]*)(?:\.([0-9]*))?(.*)$")
_EXPONENT_RE = re.compile(r"^[eE]([+-]?[0-9]+)$")
_BINARY = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_DECIMAL_SUFFIX = {exp: suffix for suffix, exp in _DECIMAL.items()}
_BINARY_SUFFIX = {exp: suffix for suffix, exp in _BINARY.items()}
_NANO = Fraction(1, 10**9)


class QuantityError(ValueError):
    """Not a Kubernetes quantity; str() is Kubernetes' own message."""

    def __init__(self, text: str) -> None:
        super().__init__(PARSE_ERROR)
        self.text = text


@functools.total_ordering
class Quantity:
    """An exact resource amount plus the format to print it in."""

    __slots__ = ("format", "value")

    def __init__(self, value: Fraction | int, fmt: str = DECIMAL_SI) -> None:
        self.value = Fraction(value)
        self.format = fmt

    @classmethod
    def parse(cls, text: str | int | float) -> Quantity:
        """Parse a quantity from YAML/JSON (a string or a bare number)."""
        if isinstance(text, bool):
            raise QuantityError(str(text))
        if isinstance(text, int):
            return cls(text, DECIMAL_SI)
        if isinstance(text, float):
            if not math.isfinite(text):
                raise QuantityError(str(text))
            text = repr(text)
        if not isinstance(text, str):
            raise QuantityError(str(text))
        m = _NUMBER_RE.match(text)
        if not m:
            raise QuantityError(text)
        sign, whole, frac, suffix = m.group(1), m.group(2), m.group(3), m.group(4)
        frac = frac or ""
        if not whole and not frac:
            raise QuantityError(text)
        number = Fraction(int(whole or "0")) + (
            Fraction(int(frac), 10 ** len(frac)) if frac else Fraction(0)
        )
        if sign == "-":
            number = -number
        if suffix in _BINARY:
            return cls(number * 2 ** _BINARY[suffix], BINARY_SI)
        if suffix in _DECIMAL:
            return cls(number * Fraction(10) ** _DECIMAL[suffix], DECIMAL_SI)
        e = _EXPONENT_RE.match(suffix)
        if e:
            return cls(number * Fraction(10) ** int(e.group(1)), DECIMAL_EXPONENT)
        raise QuantityError(text)

    # -- numbers the kubelet uses -----------------------------------------------------------
    def value_ceil(self) -> int:
        """The amount as an integer, rounded up (bytes for memory)."""
        return math.ceil(self.value)

    def milli_value(self) -> int:
        """The amount in thousandths, rounded up (millicores for cpu)."""
        return math.ceil(self.value * 1000)

    def is_zero(self) -> bool:
        return self.value == 0

    # -- canonical text ------------------------------------------------------------------
    def __str__(self) -> str:
        value = self.value
        fmt = self.format
        if fmt == BINARY_SI and (-1024 < value < 1024 or value.denominator != 1):
            fmt = DECIMAL_SI
        if fmt == BINARY_SI:
            return _binary_text(int(value))
        return _decimal_text(value, fmt)

    def __repr__(self) -> str:
        return f"Quantity({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Quantity):
            return NotImplemented
        return self.value == other.value

    def __lt__(self, other: Quantity) -> bool:
        return self.value < other.value

    def __hash__(self) -> int:
        return hash(self.value)


def _binary_text(amount: int) -> str:
    exp = 0
    while exp < 60 and amount != 0 and amount % 1024 == 0:
        amount //= 1024
        exp += 10
    return f"{amount}{_BINARY_SUFFIX.get(exp, '')}"


def _decimal_text(value: Fraction, fmt: str) -> str:
    negative = value < 0
    nanos = math.ceil(abs(value) / _NANO)  # round away from zero to whole nano units
    exp = -9
    while nanos != 0 and nanos % 1000 == 0 and exp < 18:
        nanos //= 1000
        exp += 3
    if nanos == 0:
        exp = 0
    sign = "-" if negative and nanos else ""
    if fmt == DECIMAL_EXPONENT:
        return f"{sign}{nanos}" + (f"e{exp}" if exp else "")
    return f"{sign}{nanos}{_DECIMAL_SUFFIX[exp]}"

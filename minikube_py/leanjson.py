"""JSON for the CLI's start-up path, without importing `json`.

`json` imports `re`, and `re` imports `enum` and more: ~13 ms of every CLI command's
~25 ms floor on this VM, for a few small documents.  The parsing and encoding in `json`
are C (`_json`'s scanner and encoder); this drives the same C code directly, with
`json`'s defaults (strict strings, NaN/Infinity allowed, compact separators), so the
results are the same.  A decoding error is `json.JSONDecodeError` (imported then: only
the error path pays for it).  Where `_json` is missing, `json` does the work.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

try:
    import _json
except ImportError:  # another Python: the json module, as it is
    _json = None

_WHITESPACE = " \t\n\r"
_CONSTANTS = {"-Infinity": float("-inf"), "Infinity": float("inf"), "NaN": float("nan")}


class _Context:
    """The attributes _json.make_scanner reads (json.JSONDecoder's, with its defaults)."""

    def __init__(self, object_pairs_hook: Callable | None) -> None:
        self.strict = True
        self.object_hook = None
        self.object_pairs_hook = object_pairs_hook
        self.parse_float = float
        self.parse_int = int
        self.parse_constant = _CONSTANTS.__getitem__
        self.memo: dict = {}


def loads(text: str | bytes, *, object_pairs_hook: Callable | None = None) -> Any:
    """json.loads(text, object_pairs_hook=...)."""
    if _json is None:
        import json

        return json.loads(text, object_pairs_hook=object_pairs_hook)
    if isinstance(text, bytes | bytearray):
        text = text.decode("utf-8-sig" if text.startswith(b"\xef\xbb\xbf") else "utf-8")
    scan = _json.make_scanner(_Context(object_pairs_hook))
    start = _skip(text, 0)
    try:
        obj, end = scan(text, start)
    except StopIteration as e:
        raise _error("Expecting value", text, e.value) from None
    end = _skip(text, end)
    if end != len(text):
        raise _error("Extra data", text, end)
    return obj


def dumps(obj: Any) -> str:
    """json.dumps(obj, separators=(",", ":")): compact, ASCII, sorted as given."""
    if _json is None:
        import json

        return json.dumps(obj, separators=(",", ":"))
    encode = _json.make_encoder(
        {}, _not_serializable, _json.encode_basestring_ascii, None, ":", ",", False, False, True
    )
    return "".join(encode(obj, 0))


def _not_serializable(o: Any) -> Any:
    raise TypeError(f"Object of type {o.__class__.__name__} is not JSON serializable")


def _skip(text: str, i: int) -> int:
    while i < len(text) and text[i] in _WHITESPACE:
        i += 1
    return i


def _error(message: str, text: str, pos: int) -> Exception:
    from json import JSONDecodeError

    return JSONDecodeError(message, text, pos)

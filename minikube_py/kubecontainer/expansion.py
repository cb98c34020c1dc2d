"""Kubernetes' ``$(VAR)`` expansion for command, args and env values.

The rules kubelet applies (``third_party/forked/golang/expansion``):

- ``$(NAME)`` becomes NAME's value when the mapping knows NAME, and stays ``$(NAME)``
  verbatim when it does not;
- ``$$`` is an escaped ``$``: ``$$(NAME)`` gives the literal text ``$(NAME)``;
- a ``$`` followed by anything else, an unterminated ``$(``, or a ``$`` at the end is
  kept as written.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

Mapping_ = Callable[[str], str]


def mapping_for(*contexts: Mapping[str, str]) -> Mapping_:
    """Look a name up in each context in turn; unknown names come back as ``$(name)``."""

    def lookup(name: str) -> str:
        for ctx in contexts:
            if name in ctx:
                return ctx[name]
        return f"$({name})"

    return lookup


def expand(text: str, mapping: Mapping_) -> str:
    out: list[str] = []
    checkpoint = 0
    cursor = 0
    while cursor < len(text):
        if text[cursor] == "$" and cursor + 1 < len(text):
            out.append(text[checkpoint:cursor])
            read, is_var, advance = _read_variable_name(text[cursor + 1 :])
            out.append(mapping(read) if is_var else read)
            cursor += advance
            checkpoint = cursor + 1
        cursor += 1
    out.append(text[checkpoint:])
    return "".join(out)


def _read_variable_name(rest: str) -> tuple[str, bool, int]:
    """(text or name, whether it is a variable, characters consumed after the '$')."""
    first = rest[0]
    if first == "$":
        return "$", False, 1
    if first == "(":
        end = rest.find(")", 1)
        if end != -1:
            return rest[1:end], True, end + 1
        return "$(", False, 1
    return "$" + first, False, 1

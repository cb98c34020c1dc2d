"""Manifest text as Kubernetes reads it: the one decoder for run -f, apply and static pods.

JSON (one document) when the text starts with ``{`` or ``[`` and parses as such, else
YAML (``---`` separated, empty documents dropped).  Timestamps stay strings
(``creationTimestamp``), and a key given twice in one mapping is an error in both,
rather than a silent overwrite.  A leaf module: yaml is imported only for YAML text,
so the CLI's lean JSON path pays for neither yaml nor the typed model.
"""

from __future__ import annotations

from minikube_py import leanjson

TYPE_CHECKING = False
if TYPE_CHECKING:  # not imported at run time: `typing` alone is ~10 ms of CLI start-up
    from typing import Any


class DecodeError(Exception):
    """A manifest file cannot be read, or is not JSON or YAML; the message names the
    file and, for YAML, where."""


def read(path: str) -> str:
    """The text of manifest file ``path`` (UTF-8)."""
    try:
        with open(path, encoding="utf-8") as stream:
            return stream.read()
    except FileNotFoundError:
        raise DecodeError(f'{path}: the path "{path}" does not exist') from None
    except IsADirectoryError:
        raise DecodeError(f"{path}: is a directory, not a manifest file") from None
    except UnicodeDecodeError as e:
        raise DecodeError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    except OSError as e:
        raise DecodeError(f"{path}: cannot read: {e.strerror}") from None


class _DuplicateKey(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise _DuplicateKey(k)
        out[k] = v
    return out


def decode(text: str, source: str) -> list[Any]:
    """The documents of ``text`` (read from ``source``, named in errors)."""
    if text.lstrip().startswith(("{", "[")):
        try:
            return [leanjson.loads(text, object_pairs_hook=_unique_keys)]
        except ValueError:  # json.JSONDecodeError
            pass  # YAML flow style, or several JSON documents: let YAML try
        except _DuplicateKey as e:
            raise DecodeError(f'{source}: error parsing JSON: duplicate field "{e.key}"') from None
    import io

    import yaml

    try:
        docs = list(yaml.load_all(io.StringIO(text), Loader=loader()))
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = e.problem or e.context or "syntax error"
        raise DecodeError(f"{source}: error parsing YAML{where}: {problem}") from None
    except yaml.YAMLError as e:
        raise DecodeError(f"{source}: error parsing YAML: {e}") from None
    return [d for d in docs if d is not None]


_LOADER: Any = None


def loader() -> Any:
    """The yaml Loader class with Kubernetes' rules (built once, on first use)."""
    global _LOADER
    if _LOADER is None:
        import yaml

        class KubeYAMLLoader(yaml.SafeLoader):
            def construct_mapping(self, node: Any, deep: bool = False) -> dict:
                seen: set[Any] = set()
                for key_node, _ in node.value:
                    key = self.construct_object(key_node, deep=True)
                    try:
                        duplicate = key in seen
                    except TypeError:
                        continue  # unhashable key: SafeLoader reports it
                    if duplicate:
                        raise yaml.constructor.ConstructorError(
                            None, None, f'key "{key}" already set in map', key_node.start_mark
                        )
                    seen.add(key)
                return super().construct_mapping(node, deep=deep)

        KubeYAMLLoader.yaml_implicit_resolvers = {
            first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
            for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
        }
        _LOADER = KubeYAMLLoader
    return _LOADER

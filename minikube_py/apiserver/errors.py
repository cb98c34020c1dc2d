"""API errors as Kubernetes answers them: a ``Status`` object with a reason and an HTTP code.

``APIError`` is a ``MinikubeError`` so the CLI shows its message as one line; ``status()`` is
the JSON body the server sends, and ``APIError.from_status`` turns a received body back into
the same exception on the client side.
"""

from __future__ import annotations

from minikube_py.errors import MinikubeError

TYPE_CHECKING = False
if TYPE_CHECKING:  # not imported at run time: `typing` alone is ~10 ms of CLI start-up
    from typing import Any

RESOURCES = {"Pod": "pods", "ReplicationController": "replicationcontrollers", "Event": "events"}
KINDS = {v: k for k, v in RESOURCES.items()}


class APIError(MinikubeError):
    """One failed API request: HTTP ``code``, Kubernetes ``reason``, message and details."""

    def __init__(
        self, code: int, reason: str, message: str, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details or {}

    def status(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
        }
        if self.details:
            out["details"] = self.details
        out["code"] = self.code
        return out

    def kubectl_message(self) -> str:
        """What kubectl prints: ``Error from server (NotFound): pods "x" not found``."""
        if self.reason == "Invalid":
            return f"The {self.message}"
        return f"Error from server ({self.reason or 'InternalError'}): {self.message}"

    @classmethod
    def from_status(cls, body: dict[str, Any], code: int) -> APIError:
        return cls(
            int(body.get("code") or code),
            str(body.get("reason") or ""),
            str(body.get("message") or f"the server answered HTTP {code}"),
            body.get("details") or None,
        )


def _resource(kind: str) -> str:
    return RESOURCES.get(kind, kind.lower() + "s")


def not_found(kind: str, name: str) -> APIError:
    resource = _resource(kind)
    return APIError(
        404, "NotFound", f'{resource} "{name}" not found', {"name": name, "kind": resource}
    )


def already_exists(kind: str, name: str) -> APIError:
    resource = _resource(kind)
    return APIError(
        409,
        "AlreadyExists",
        f'{resource} "{name}" already exists',
        {"name": name, "kind": resource},
    )


def invalid(err: Exception) -> APIError:
    """A 422 from a ``ManifestError`` (details.causes name each field)."""
    from minikube_py.api import invalid_status

    body = invalid_status(err)  # type: ignore[arg-type]
    return APIError(422, "Invalid", body["message"], body["details"])


def invalid_fields(kind: str, name: str, causes: list[dict[str, str]]) -> APIError:
    """A 422 built from causes (``{"field","reason","message"}``), worded as Kubernetes does."""
    texts = [f"{c['field']}: {c['message']}" if c.get("field") else c["message"] for c in causes]
    body = texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"
    return APIError(
        422,
        "Invalid",
        f'{kind} "{name}" is invalid: {body}',
        {"name": name, "kind": kind, "causes": causes},
    )


def bad_request(message: str) -> APIError:
    return APIError(400, "BadRequest", message)


def gone(message: str) -> APIError:
    return APIError(410, "Expired", message)


def method_not_allowed(method: str, path: str) -> APIError:
    return APIError(
        405,
        "MethodNotAllowed",
        f"the server does not allow this method on the requested resource ({method} {path})",
    )


def route_not_found(path: str) -> APIError:
    return APIError(404, "NotFound", f"the server could not find the requested resource ({path})")


def internal(message: str) -> APIError:
    return APIError(500, "InternalError", f"Internal error occurred: {message}")

"""API errors as Kubernetes ``Status`` objects.

Upstream: k8s.io/apimachinery/pkg/api/errors. Every failure a client can see is
one of these; the API server turns them into a ``kind: Status`` body in one
place, and the clients turn such a body back into the same exception, so code
on either side of HTTP handles errors the same way.
"""

from __future__ import annotations

from typing import Any


class StatusError(Exception):
    """A failure with a Kubernetes ``reason`` and HTTP ``code``."""

    code = 500
    reason = "InternalError"
    # Built by apierrors.NewGenericServerResponse upstream, which always sets
    # ``details`` (``"details":{}`` when it names nothing). Clients rely on it:
    # ``kubectl debug`` reads ``Details.Name`` of a 404 to tell "ephemeral
    # containers are disabled" from "no such pod", and panics on a nil Details.
    generic = False

    def __init__(
        self,
        message: str,
        *,
        name: str | None = None,
        group: str | None = None,
        kind: str | None = None,
        causes: list[dict[str, str]] | None = None,
        retry_after: int | None = None,
        code: int | None = None,
        reason: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.name = name
        self.group = group
        self.kind = kind
        self.causes = causes or []
        self.retry_after = retry_after
        if code is not None:
            self.code = code
        if reason is not None:
            self.reason = reason

    def status(self) -> dict[str, Any]:
        """The ``Status`` object a real API server would send.

        Keys come in the order of the Go structs' fields (``metav1.Status``:
        kind, apiVersion, metadata, status, message, reason, details, code;
        ``StatusDetails``: name, group, kind, causes, retryAfterSeconds), which
        is the order kube-apiserver writes them in.
        """
        details: dict[str, Any] = {}
        if self.name is not None:
            details["name"] = self.name
        if self.group:
            details["group"] = self.group
        if self.kind is not None:
            details["kind"] = self.kind
        if self.causes:
            details["causes"] = self.causes
        if self.retry_after is not None:
            details["retryAfterSeconds"] = self.retry_after
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
        }
        if details or self.generic:
            body["details"] = details
        body["code"] = self.code
        return body

    @classmethod
    def from_status(cls, status: dict[str, Any]) -> "StatusError":
        """Rebuild the exception a ``Status`` body stands for (used by clients)."""
        reason = status.get("reason") or ""
        code = int(status.get("code") or 500)
        details = status.get("details") or {}
        klass = _BY_REASON.get(reason)
        if klass is None:
            klass = _BY_CODE.get(code, StatusError)
        err = klass(
            status.get("message") or reason or f"error {code}",
            name=details.get("name"),
            group=details.get("group"),
            kind=details.get("kind"),
            causes=details.get("causes"),
            retry_after=details.get("retryAfterSeconds"),
            code=code,
            reason=reason or klass.reason,
        )
        return err


class BadRequest(StatusError):
    code = 400
    reason = "BadRequest"


class Unauthorized(StatusError):
    code = 401
    reason = "Unauthorized"


class Forbidden(StatusError):
    code = 403
    reason = "Forbidden"


class NotFound(StatusError):
    code = 404
    reason = "NotFound"


def not_found_generic(message: str = "the server could not find the requested resource") -> NotFound:
    """The 404 for a path the server does not serve (no such group, resource or
    subresource), as NewGenericServerResponse(404, ...) words it: with ``details: {}``."""
    err = NotFound(message)
    err.generic = True
    return err


class MethodNotAllowed(StatusError):
    code = 405
    reason = "MethodNotAllowed"


class NotAcceptable(StatusError):
    code = 406
    reason = "NotAcceptable"


class AlreadyExists(StatusError):
    code = 409
    reason = "AlreadyExists"


class Conflict(StatusError):
    code = 409
    reason = "Conflict"


class Gone(StatusError):
    """A watch or list asked for a resourceVersion older than the history kept."""

    code = 410
    reason = "Expired"


class RequestEntityTooLarge(StatusError):
    code = 413
    reason = "RequestEntityTooLarge"


class UnsupportedMediaType(StatusError):
    code = 415
    reason = "UnsupportedMediaType"


class Invalid(StatusError):
    """422: the object failed validation; ``causes`` name each bad field."""

    code = 422
    reason = "Invalid"


class TooManyRequests(StatusError):
    code = 429
    reason = "TooManyRequests"


class InternalError(StatusError):
    code = 500
    reason = "InternalError"


class ServiceUnavailable(StatusError):
    code = 503
    reason = "ServiceUnavailable"


class Timeout(StatusError):
    code = 504
    reason = "Timeout"


_BY_REASON: dict[str, type[StatusError]] = {
    k.reason: k
    for k in (
        BadRequest, Unauthorized, Forbidden, NotFound, MethodNotAllowed, NotAcceptable,
        AlreadyExists, Conflict, Gone, RequestEntityTooLarge, UnsupportedMediaType,
        Invalid, TooManyRequests, InternalError, ServiceUnavailable, Timeout,
    )
}
_BY_REASON["Gone"] = Gone
_BY_CODE: dict[int, type[StatusError]] = {
    400: BadRequest, 401: Unauthorized, 403: Forbidden, 404: NotFound, 405: MethodNotAllowed,
    409: Conflict, 410: Gone, 413: RequestEntityTooLarge, 415: UnsupportedMediaType,
    422: Invalid, 429: TooManyRequests, 500: InternalError, 503: ServiceUnavailable,
}


def field_error(field: str, message: str, reason: str = "FieldValueInvalid") -> dict[str, str]:
    """One entry of ``details.causes``, as kube-apiserver words it."""
    return {"reason": reason, "message": message, "field": field}


def invalid(kind: str, name: str, causes: list[dict[str, str]], group: str = "") -> Invalid:
    """The 422 for an object that failed validation.

    Kubernetes' message lists every cause, e.g.
    ``Pod "Web" is invalid: metadata.name: Invalid value: "Web": a lowercase RFC 1123 …``
    """
    parts = [f"{c['field']}: {c['message']}" if c.get("field") else c["message"] for c in causes]
    if len(parts) == 1:
        msg = f'{kind} "{name}" is invalid: {parts[0]}'
    else:
        msg = f'{kind} "{name}" is invalid: [{", ".join(parts)}]'
    return Invalid(msg, name=name, group=group or None, kind=kind, causes=causes)

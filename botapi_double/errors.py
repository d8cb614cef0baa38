"""Bot API errors in Telegram's wire format.

Telegram answers a failed call with the HTTP status equal to ``error_code`` and a body like
``{"ok": false, "error_code": 400, "description": "Bad Request: chat not found"}``, plus an
optional ``parameters`` object (``retry_after``, ``migrate_to_chat_id``). Everything in the double
that rejects a call raises :class:`ApiError`; the server turns it into exactly that answer.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ApiError",
    "bad_request",
    "conflict",
    "forbidden",
    "not_found",
    "too_many_requests",
    "unauthorized",
]


class ApiError(Exception):
    """A Bot API error answer: HTTP status ``error_code`` and Telegram's JSON body."""

    def __init__(
        self,
        error_code: int,
        description: str,
        parameters: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(description)
        self.error_code = error_code
        self.description = description
        self.parameters = parameters

    def to_json(self) -> dict[str, Any]:
        """Return the response body Telegram would send."""
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.error_code,
            "description": self.description,
        }
        if self.parameters:
            body["parameters"] = dict(self.parameters)
        return body

    def __repr__(self) -> str:
        return f"ApiError({self.error_code}, {self.description!r}, {self.parameters!r})"


def bad_request(message: str, parameters: dict[str, Any] | None = None) -> ApiError:
    """Return a 400 ``Bad Request: <message>`` error."""
    return ApiError(400, f"Bad Request: {message}", parameters)


def unauthorized() -> ApiError:
    """Return the 401 Telegram sends for a well-formed but unknown token."""
    return ApiError(401, "Unauthorized")


def forbidden(message: str) -> ApiError:
    """Return a 403 ``Forbidden: <message>`` error."""
    return ApiError(403, f"Forbidden: {message}")


def not_found() -> ApiError:
    """Return the 404 Telegram sends for an unknown method or a malformed token."""
    return ApiError(404, "Not Found")


def conflict(message: str) -> ApiError:
    """Return a 409 ``Conflict: <message>`` error."""
    return ApiError(409, f"Conflict: {message}")


def too_many_requests(retry_after: int) -> ApiError:
    """Return a 429 flood-control error with ``parameters.retry_after``."""
    return ApiError(
        429,
        f"Too Many Requests: retry after {retry_after}",
        {"retry_after": retry_after},
    )

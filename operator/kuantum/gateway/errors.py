"""Azure's error body, `{"error": {"code", "message"}}`, which azure-core turns into the SDK's exceptions."""

from __future__ import annotations

import json

from aiohttp import web
from kubernetes.client.rest import ApiException


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def error_response(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


def not_found(what: str) -> ApiError:
    return ApiError(404, "NotFound", what)


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def api_message(e: ApiException) -> str:
    """The API server's own message (its Status body), else the HTTP reason."""
    try:
        return str(json.loads(e.body or "").get("message") or e.reason)
    except (ValueError, AttributeError):
        return str(e.reason)

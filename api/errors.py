"""One error shape for everything under /api/: {"error": {"code", "message", "details"}}.

Never Dash's HTML, never a traceback, never a secret: messages are written for the caller.
"""
from __future__ import annotations

import logging
from typing import Any

from flask import Flask, got_request_exception, jsonify, request
from sqlalchemy.exc import OperationalError, InterfaceError
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

DATABASE_UNAVAILABLE = (OperationalError, InterfaceError)
"""What SQLAlchemy raises when the database does not answer: a request gets 503, a background
worker retries later. Any other exception is a bug and is reported as one."""

CODES = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 406: "not_acceptable", 409: "conflict", 413: "payload_too_large",
    415: "unsupported_media_type", 422: "unprocessable_entity", 429: "too_many_requests",
    500: "internal_error", 503: "service_unavailable",
}


class ApiError(Exception):
    """Raise from a route to answer with the standard error shape."""

    def __init__(self, status: int, message: str, details: Any = None, code: str | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = details
        self.code = code or CODES.get(status, "error")
        self.headers = headers or {}  # e.g. Retry-After on a 429


def error_response(status: int, message: str, details: Any = None, code: str | None = None,
                   headers: dict[str, str] | None = None):
    body = {"error": {"code": code or CODES.get(status, "error"), "message": message,
                      "details": details}}
    response = jsonify(body)
    response.status_code = status
    response.headers.update(headers or {})
    if status == 401:  # a 401 names the scheme it wants (RFC 9110)
        response.headers["WWW-Authenticate"] = 'Bearer realm="pipewatch"'
    return response


def _is_api_request() -> bool:
    return request.path.startswith("/api/") or request.path in ("/healthz", "/readyz")


def api_methods(server: Flask) -> list[str]:
    """The methods /api/ rules accept at this request's path, leaving out Dash's catch-all page
    route (`/<path:path>`, GET), which matches every path: a POST-only route is then 405 to a
    GET, and its Allow header does not offer GET."""
    adapter = server.create_url_adapter(request)
    methods = set()
    try:
        candidates = adapter.allowed_methods()
    except HTTPException:
        return []
    for method in candidates:
        try:
            rule, _ = adapter.match(method=method, return_rule=True)
        except HTTPException:
            continue
        if rule.rule.startswith("/api/"):
            methods.add(method)
    return sorted(methods)


def init_app(server: Flask) -> None:
    @server.before_request
    def _api_paths_are_not_pages():
        # Dash's catch-all page route (`/<path:path>`) matches any path, so an unknown /api/
        # path would otherwise get the HTML page with 200. Under /api/ only /api/ rules count.
        rule = request.url_rule
        if not request.path.startswith("/api/") or rule is None:
            return None
        if request.method == "OPTIONS" or not rule.rule.startswith("/api/"):
            allowed = api_methods(server)
            if not allowed:
                return error_response(404, f"no such endpoint: {request.path}")
            if request.method == "OPTIONS":
                response = server.response_class(status=200)
            else:
                response = error_response(405, f"{request.method} is not allowed here; "
                                               f"allowed: {', '.join(allowed)}")
            response.headers["Allow"] = ", ".join(allowed)
            return response
        return None

    @server.errorhandler(ApiError)
    def _api_error(exc: ApiError):
        return error_response(exc.status, exc.message, exc.details, exc.code, exc.headers)

    @server.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        if not _is_api_request():
            return exc
        message = exc.description or exc.name
        if exc.code == 404:
            message = f"no such endpoint: {request.path}"
        response = error_response(exc.code or 500, message)
        if exc.code == 405 and getattr(exc, "valid_methods", None):
            allowed = api_methods(server) if request.path.startswith("/api/") else None
            response.headers["Allow"] = ", ".join(allowed or exc.valid_methods)
        return response

    @server.errorhandler(OperationalError)  # DATABASE_UNAVAILABLE
    @server.errorhandler(InterfaceError)
    def _database_down(exc):
        log.warning("database unavailable: %s", type(exc.orig).__name__ if hasattr(exc, "orig") else exc)
        return error_response(503, "database unavailable", {"reason": "the database did not answer"},
                              code="database_unavailable")

    @server.errorhandler(Exception)
    def _unexpected(exc: Exception):
        if isinstance(exc, HTTPException):
            return _http_error(exc)
        if not _is_api_request():
            raise exc  # Flask's own handling: logged, signalled, a 500 page
        log.exception("unhandled error on %s %s", request.method, request.path)
        # Flask signals unhandled errors only when no handler caught them; this handler stands
        # in for Flask's, so it signals too (error reporters, and tests, listen for it).
        got_request_exception.send(server, exception=exc)
        return error_response(500, "internal error; the server log has the details")

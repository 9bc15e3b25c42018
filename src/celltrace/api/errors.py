"""Map errors to RFC 9457 problem documents (``application/problem+json``)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import DataError
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from celltrace.core.choices import ErrorCode
from celltrace.core.errors import DomainError

#: Validation errors listed in one problem document (the count is in its ``detail``).
MAX_LISTED_ERRORS = 100

TITLES = {
    400: "Bad request",
    401: "Authentication required",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Content too large",
    422: "Invalid input",
}


def problem_body(
    status: int,
    detail: str,
    code: str,
    field: str | None = None,
    errors: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """An RFC 9457 problem document with celltrace's ``code``, ``field`` and ``errors``."""
    return {
        "type": "about:blank",
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "code": code,
        "field": field,
        "errors": errors or [],
    }


def problem(
    api: NinjaAPI,
    request: HttpRequest,
    status: int,
    detail: str,
    code: str,
    field: str | None = None,
    errors: list[dict[str, Any]] | None = None,
) -> HttpResponse:
    body = problem_body(status, detail, code, field, errors)
    response = api.create_response(request, body, status=status)
    response["Content-Type"] = "application/problem+json"
    return response


def install(api: NinjaAPI) -> None:
    @api.exception_handler(DomainError)
    def domain_error(request: HttpRequest, exc: DomainError) -> HttpResponse:
        return problem(api, request, exc.status, exc.message, exc.code.value, exc.field)

    @api.exception_handler(ValidationError)
    def validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
        errors = []
        for err in exc.errors[:MAX_LISTED_ERRORS]:  # a huge body's every error is not echoed
            loc = [p for p in err.get("loc", []) if isinstance(p, str | int)]
            errors.append(
                {"loc": loc, "msg": str(err.get("msg", "")), "type": str(err.get("type", ""))}
            )
        first = errors[0] if errors else None
        field = None
        if first and first["loc"]:
            field = ".".join(str(p) for p in first["loc"][1:] or first["loc"])
        detail = f"{field}: {first['msg']}" if first and field else "The request is not valid."
        if len(exc.errors) > MAX_LISTED_ERRORS:
            detail += f" ({len(exc.errors)} errors; the first {MAX_LISTED_ERRORS} are listed.)"
        return problem(api, request, 422, detail, ErrorCode.INVALID.value, field, errors)

    @api.exception_handler(AuthenticationError)
    def auth_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
        return problem(
            api,
            request,
            401,
            "Send a valid API token or log in.",
            ErrorCode.AUTHENTICATION_FAILED.value,
        )

    @api.exception_handler(Http404)
    def not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
        return problem(api, request, 404, "Not found.", ErrorCode.NOT_FOUND.value)

    @api.exception_handler(OverflowError)
    def overflow(request: HttpRequest, exc: OverflowError) -> HttpResponse:
        # a number beyond what the database stores (SQLite raises this from the driver)
        return problem(
            api, request, 422, "A number in the request is out of range.", ErrorCode.INVALID.value
        )

    @api.exception_handler(DataError)
    def data_error(request: HttpRequest, exc: DataError) -> HttpResponse:
        # a value the database cannot hold or compare: a NUL character in text or a number out
        # of range on PostgreSQL. The statement failed, so nothing was written.
        return problem(
            api,
            request,
            422,
            "A value in the request cannot be stored: it contains a NUL character or a number "
            "out of range.",
            ErrorCode.INVALID.value,
        )

    @api.exception_handler(RequestDataTooBig)
    def too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
        return problem(
            api,
            request,
            413,
            f"The request body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes; "
            "send fewer rows per request.",
            ErrorCode.INVALID.value,
        )

    @api.exception_handler(HttpError)
    def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
        return problem(api, request, exc.status_code, str(exc), ErrorCode.INVALID.value)

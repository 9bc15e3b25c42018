"""Map errors to RFC 9457 problem documents (``application/problem+json``).

Every error the API answers is one, with the same members: domain errors, invalid input (422,
its ``field`` named the way the domain errors name it), 401 (with ``WWW-Authenticate``), an
address under ``/api/v1/`` that is no operation (404), a method the address does not take (405,
with ``Allow``) and an unexpected error (500: logged with its traceback like Django's own 500,
the body saying nothing about it but the request id).
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.core import signals
from django.core.exceptions import BadRequest, RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import DataError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.http.multipartparser import MultiPartParserError
from django.utils.log import log_response
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from celltrace.audit import context
from celltrace.core.choices import ErrorCode
from celltrace.core.errors import DomainError, Invalid, NotFound

PROBLEM_JSON = "application/problem+json"
#: Validation errors listed in one problem document (the count is in its ``detail``).
MAX_LISTED_ERRORS = 100
#: ``code`` of the refusals that are no domain error (they have no :class:`ErrorCode`).
METHOD_NOT_ALLOWED = "method_not_allowed"
SERVER_ERROR = "server_error"
#: What a 401 asks for (RFC 6750): a bearer token; the browser session is the other way in.
REALM = "celltrace"
#: Where Ninja says a value came from: the first member of a validation error's ``loc``.
SOURCES = frozenset({"body", "query", "path", "form", "file", "header", "cookie"})

TITLES = {
    400: "Bad request",
    401: "Authentication required",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Content too large",
    422: "Invalid input",
    429: "Too many requests",
    500: "Internal server error",
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


def www_authenticate(request: HttpRequest) -> str:
    """The ``WWW-Authenticate`` challenge of a 401: a bearer token (RFC 6750 §3), saying
    ``invalid_token`` when one was sent (expired, revoked or unknown)."""
    sent = request.headers.get("Authorization", "")
    if sent[:7].lower() == "bearer ":
        return f'Bearer realm="{REALM}", error="invalid_token"'
    return f'Bearer realm="{REALM}"'


def problem_response(
    request: HttpRequest,
    status: int,
    detail: str,
    code: str,
    field: str | None = None,
    errors: list[dict[str, Any]] | None = None,
) -> HttpResponse:
    """The problem document as a response (``WWW-Authenticate`` on a 401)."""
    body = problem_body(status, detail, code, field, errors)
    response = HttpResponse(json.dumps(body), status=status, content_type=PROBLEM_JSON)
    if status == 401:
        response["WWW-Authenticate"] = www_authenticate(request)
    return response


def field_of(loc: Sequence[str | int], body_param: str | None) -> str | None:
    """The ``field`` a validation error names, as the domain errors name it: ``loc`` without
    where the value came from (``body``, ``query``, ``path``, ``form``, …) and, in a body, without
    the name of the operation's one body parameter; list indices stay (``3.sensor``)."""
    parts = list(loc)
    if parts and parts[0] in SOURCES:
        source = parts.pop(0)
        if source == "body" and body_param is not None and parts and parts[0] == body_param:
            parts.pop(0)
    return ".".join(str(p) for p in parts) or None


@contextmanager
def request_fields(
    names: Mapping[str, str | None] | None = None,
    *,
    missing: str | None = None,
    unnamed: str | None = None,
) -> Iterator[None]:
    """Name the field of a domain error raised inside the block as the operation's request
    names it: services and selectors name their own arguments (``aliquots``, ``unit``), the
    request its fields (``aliquot_ids``, ``unit_id``).

    ``names`` maps a service's field to the request's (``None``: nothing in the body, the
    address names it); ``missing`` is the field of a :class:`NotFound` that names none (the
    object looked up from that field), ``unnamed`` that of an :class:`Invalid` that names none
    (a uniqueness check of the model). Other errors pass unchanged.
    """
    try:
        yield
    except DomainError as exc:
        if exc.field is None:
            if missing is not None and isinstance(exc, NotFound):
                exc.field = missing
            elif unnamed is not None and isinstance(exc, Invalid):
                exc.field = unnamed
        elif names is not None and exc.field in names:
            exc.field = names[exc.field]
        raise


def not_found(request: HttpRequest) -> HttpResponse:
    return problem_response(request, 404, _("Not found."), ErrorCode.NOT_FOUND.value)


@csrf_exempt
def no_such_operation(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """An address under the API that is no operation: 404 whatever the method."""
    return problem_response(
        request,
        404,
        _("There is no API operation at this address; see /api/v1/docs."),
        ErrorCode.NOT_FOUND.value,
    )


def method_not_allowed(request: HttpRequest, allowed: str) -> HttpResponse:
    allowed = ", ".join(sorted(m.strip() for m in allowed.split(",") if m.strip()))
    response = problem_response(
        request,
        405,
        _("%(method)s is not allowed at this address; allowed: %(allowed)s.")
        % {"method": request.method, "allowed": allowed},
        METHOD_NOT_ALLOWED,
    )
    response["Allow"] = allowed
    return response


def as_problems(view: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap one of the API's URL views: Ninja's plain-text 405 becomes a problem document with
    the same ``Allow`` header, and an ``Http404`` raised outside an operation (the API root)
    the 404 problem. Operations answer every other error themselves (:func:`install`)."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        try:
            response = view(request, *args, **kwargs)
        except Http404:
            return not_found(request)
        if isinstance(response, HttpResponseNotAllowed):
            return method_not_allowed(request, response["Allow"])
        return response

    return wrapper


def server_error(request: HttpRequest, exc: Any) -> HttpResponse:
    """An exception no handler expects: a 500 problem naming only the request id, logged with
    the traceback on ``django.request`` exactly as Django logs its own 500s (and announced with
    ``got_request_exception`` like them)."""
    response = problem_response(
        request,
        500,
        _(
            "Something went wrong on the server; nothing about it is shown here. If it keeps "
            "happening, tell your administrator the request ID %(request_id)s."
        )
        % {"request_id": context.current().request_id or "-"},
        SERVER_ERROR,
    )
    signals.got_request_exception.send(sender=None, request=request)
    log_response(
        "%s: %s",
        response.reason_phrase,
        request.path,
        response=response,
        request=request,
        exception=exc,
    )
    return response


def install(api: NinjaAPI) -> None:
    @api.exception_handler(DomainError)
    def domain_error(request: HttpRequest, exc: DomainError) -> HttpResponse:
        return problem_response(request, exc.status, exc.message, exc.code.value, exc.field)

    @api.exception_handler(ValidationError)
    def validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
        errors: list[dict[str, Any]] = []
        fields: list[str | None] = []
        for err in exc.errors[:MAX_LISTED_ERRORS]:  # a huge body's every error is not echoed
            loc = [p for p in err.get("loc", []) if isinstance(p, str | int)]
            errors.append(
                {"loc": loc, "msg": str(err.get("msg", "")), "type": str(err.get("type", ""))}
            )
            # "field" is set by CelltraceAPI, which knows the operation's body parameters
            fields.append(err["field"] if "field" in err else field_of(loc, None))
        field = fields[0] if fields else None
        if not errors:
            detail = _("The request is not valid.")
        else:
            msg = str(errors[0]["msg"])
            detail = f"{field}: {msg}" if field else msg
        if len(exc.errors) > MAX_LISTED_ERRORS:
            detail += " " + _("(%(count)d errors; the first %(listed)d are listed.)") % {
                "count": len(exc.errors),
                "listed": MAX_LISTED_ERRORS,
            }
        return problem_response(request, 422, detail, ErrorCode.INVALID.value, field, errors)

    @api.exception_handler(AuthenticationError)
    def auth_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
        return problem_response(
            request,
            401,
            _("Send a valid API token (Authorization: Bearer …) or log in."),
            ErrorCode.AUTHENTICATION_FAILED.value,
        )

    @api.exception_handler(Http404)
    def http404(request: HttpRequest, exc: Http404) -> HttpResponse:
        return not_found(request)

    @api.exception_handler(OverflowError)
    def overflow(request: HttpRequest, exc: OverflowError) -> HttpResponse:
        # a number beyond what the database stores (SQLite raises this from the driver)
        return problem_response(
            request, 422, _("A number in the request is out of range."), ErrorCode.INVALID.value
        )

    @api.exception_handler(DataError)
    def data_error(request: HttpRequest, exc: DataError) -> HttpResponse:
        # a value the database cannot hold or compare: a NUL character in text or a number out
        # of range on PostgreSQL. The statement failed, so nothing was written.
        return problem_response(
            request,
            422,
            _(
                "A value in the request cannot be stored: it contains a NUL character or a "
                "number out of range."
            ),
            ErrorCode.INVALID.value,
        )

    @api.exception_handler(RequestDataTooBig)
    def too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
        return problem_response(
            request,
            413,
            _("The request body is larger than %(limit)d bytes; send fewer rows per request.")
            % {"limit": settings.DATA_UPLOAD_MAX_MEMORY_SIZE},
            ErrorCode.INVALID.value,
        )

    def bad_request(request: HttpRequest, exc: Any) -> HttpResponse:
        # what Django answers 400 (a malformed multipart body, too many fields, …), logged on
        # django.security like Django logs it
        if isinstance(exc, SuspiciousOperation):
            logging.getLogger(f"django.security.{exc.__class__.__name__}").error(
                str(exc), exc_info=exc, extra={"status_code": 400, "request": request}
            )
        return problem_response(
            request, 400, _("The request is malformed."), ErrorCode.INVALID.value
        )

    api.add_exception_handler(SuspiciousOperation, bad_request)
    api.add_exception_handler(BadRequest, bad_request)
    api.add_exception_handler(MultiPartParserError, bad_request)

    @api.exception_handler(DjangoPermissionDenied)
    def django_permission_denied(request: HttpRequest, exc: DjangoPermissionDenied) -> HttpResponse:
        return problem_response(
            request, 403, _("You may not do this."), ErrorCode.PERMISSION_DENIED.value
        )

    @api.exception_handler(HttpError)
    def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
        return problem_response(request, exc.status_code, str(exc), ErrorCode.INVALID.value)

    api.add_exception_handler(Exception, server_error)

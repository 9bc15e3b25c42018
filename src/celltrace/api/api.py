"""The Ninja API object: routers of every domain app, authentication and error model."""

from __future__ import annotations

import types
import typing
from collections.abc import Sequence
from typing import Any, get_args, get_origin

from django.urls import URLPattern, URLResolver, re_path
from ninja import NinjaAPI
from ninja.errors import ValidationError, ValidationErrorContext
from ninja.openapi.docs import Swagger
from pydantic import BaseModel

from celltrace import __version__
from celltrace.api import errors, inputs
from celltrace.api.auth import SessionAuth, TokenAuth
from celltrace.audit.api import router as audit_router
from celltrace.bank.api import router as bank_router
from celltrace.core.api import router as core_router
from celltrace.imports.api import router as imports_router
from celltrace.metabolism.api import router as metabolism_router
from celltrace.monitoring.api import router as monitoring_router
from celltrace.qc.api import router as qc_router
from celltrace.storage.api import router as storage_router

PROBLEM_JSON = errors.PROBLEM_JSON
UNIONS = (typing.Union, types.UnionType)


def _bare(annotation: Any) -> Any:
    """``annotation`` without ``Annotated`` metadata and without ``| None``."""
    while True:
        if get_origin(annotation) is typing.Annotated:
            annotation = get_args(annotation)[0]
            continue
        if get_origin(annotation) in UNIONS:
            members = [a for a in get_args(annotation) if a is not type(None)]
            if len(members) == 1:
                annotation = members[0]
                continue
        return annotation


def without_union_tags(loc: Sequence[str | int], annotation: Any) -> tuple[str | int, ...]:
    """``loc`` of a pydantic error without the names pydantic gives the members of a union
    (``temperature_c.int`` for ``StrictInt | StrictFloat``): they are no part of the input.
    ``loc`` is walked along ``annotation`` (a model: its fields; a list: its items; a mapping:
    its values); what cannot be followed is kept as it is."""
    found: list[str | int] = []
    parts = list(loc)
    tp = annotation
    while parts:
        tp = _bare(tp)
        origin = get_origin(tp)
        if origin in UNIONS:  # two or more members (an optional one is unwrapped above)
            if isinstance(parts[0], str):
                parts.pop(0)  # the member's name
            break  # which member the rest concerns is not known: kept as it is
        part = parts.pop(0)
        found.append(part)
        if isinstance(tp, type) and issubclass(tp, BaseModel) and isinstance(part, str):
            fields = {f.alias or name: f for name, f in tp.model_fields.items()}
            field = fields.get(part) or tp.model_fields.get(part)
            if field is None:
                break
            tp = field.annotation
        elif origin in (list, tuple, set, frozenset) or (
            isinstance(origin, type) and issubclass(origin, Sequence)
        ):
            tp = get_args(tp)[0] if get_args(tp) else Any
        elif origin is dict or (isinstance(origin, type) and issubclass(origin, typing.Mapping)):
            if parts and parts[0] == "[key]":
                break
            args = get_args(tp)
            tp = args[1] if len(args) == 2 else Any
        else:
            break
    return (*found, *parts)


class CelltraceAPI(NinjaAPI):
    """The schema says what the API sends: error responses are RFC 9457 problem documents,
    ``application/problem+json`` (see :mod:`celltrace.api.errors`), not ``application/json``;
    and so does every address under the API that is no operation (404) or a method an address
    does not take (405)."""

    def _get_urls(self) -> list[URLResolver | URLPattern]:
        urls = super()._get_urls()
        for pattern in urls:
            if isinstance(pattern, URLPattern):
                pattern.callback = errors.as_problems(pattern.callback)
        # last: what no operation matched (Django tries the patterns in order)
        urls.append(re_path(r"^.*$", errors.no_such_operation, name="no-such-operation"))
        return urls

    def validation_error_from_error_contexts(
        self, error_contexts: list[ValidationErrorContext[Any]]
    ) -> ValidationError:
        """Ninja's errors, each with the ``field`` it names (:func:`errors.field_of`): only
        here is it known which body parameter a ``loc`` starts with, and whether it is the
        operation's only one (then its name, ``payload``, says nothing to the caller)."""
        found: list[dict[str, Any]] = []
        for error_context in error_contexts:
            model = error_context.model
            names = list(model.model_fields)
            single = (
                names[0] if model.__ninja_param_source__ == "body" and len(names) == 1 else None
            )
            # a body that is a JSON array: its rows are numbered from the body, as the
            # operation documents them (``["body", 3, "sensor"]``), without the parameter name
            array = single is not None and get_origin(
                _bare(model.model_fields[single].annotation)
            ) in (list, tuple)
            reverse = model.__ninja_flatten_map_reverse__
            for err in error_context.pydantic_validation_error.errors(include_url=False):
                raw = without_union_tags(err["loc"], model)
                loc = (model.__ninja_param_source__, *reverse.get(raw, raw))
                if array and loc[1:2] == (single,):
                    loc = (loc[0], *loc[2:])
                field = errors.field_of(loc, single)
                found.append({"type": err["type"], "loc": loc, "msg": err["msg"], "field": field})
        return ValidationError(found)

    def get_openapi_schema(
        self, *, path_prefix: str | None = None, path_params: dict[str, Any] | None = None
    ) -> Any:
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        for operations in schema["paths"].values():
            for operation in operations.values():
                for status, response in operation.get("responses", {}).items():
                    content = response.get("content")
                    if int(status) >= 400 and content and "application/json" in content:
                        response["content"] = {PROBLEM_JSON: content["application/json"]}
        return schema


api = CelltraceAPI(
    title="celltrace API",
    version=__version__,
    description=(
        "Quality and traceability for cell therapy. Authenticate with a personal API token "
        "(`Authorization: Bearer ct_…`, created on your account page) or a browser session. "
        "Errors are RFC 9457 problem details (`application/problem+json`) naming the field. "
        "Client users see only their own organisation's data: other objects answer 404."
    ),
    urls_namespace="api",
    auth=[TokenAuth(), SessionAuth()],
    docs=Swagger(settings={"persistAuthorization": False}),
    docs_url="/docs",
    openapi_url="/openapi.json",
)
errors.install(api)
api.add_decorator(inputs.checked, mode="operation")
api.add_router("/", core_router)
api.add_router("/", audit_router)
api.add_router("/", bank_router)
api.add_router("/", storage_router)
api.add_router("/", qc_router)
api.add_router("/", metabolism_router)
api.add_router("/", monitoring_router)
api.add_router("/", imports_router)

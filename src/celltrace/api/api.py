"""The Ninja API object: routers of every domain app, authentication and error model."""

from __future__ import annotations

from typing import Any

from django.urls import URLPattern, URLResolver, re_path
from ninja import NinjaAPI
from ninja.errors import ValidationError, ValidationErrorContext
from ninja.openapi.docs import Swagger

from celltrace import __version__
from celltrace.api import errors
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
            part = super().validation_error_from_error_contexts([error_context]).errors
            for err in part:
                err["field"] = errors.field_of(err.get("loc", ()), single)
            found.extend(part)
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
api.add_router("/", core_router)
api.add_router("/", audit_router)
api.add_router("/", bank_router)
api.add_router("/", storage_router)
api.add_router("/", qc_router)
api.add_router("/", metabolism_router)
api.add_router("/", monitoring_router)
api.add_router("/", imports_router)

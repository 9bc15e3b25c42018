"""Checks of every operation's raw input, made in one place so that no operation can forget them.

:func:`checked` decorates every operation of the API (``api.add_decorator``, mode
``operation``): it runs after authentication and after the schema validated the input, and
before the operation's code, so a refused request changes nothing. It refuses, with a 422
problem document naming the field:

- a NUL character (``\\u0000``) in any text of the request: a query or form value or name, a
  string or key anywhere in a JSON body, a path segment or an uploaded file's name. PostgreSQL
  cannot store one (the statement fails), SQLite stores it silently; neither is wanted, on any
  database, and the CSV importer refuses it too.
- a multipart or URL-encoded form field, or file part, that the operation does not take (the
  schema says ``additionalProperties: false``; Ninja drops unknown form fields unread, where a
  JSON body with an unknown field is refused).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator
from typing import Any, get_origin

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja.errors import ValidationError

from celltrace.api import errors

NUL = "\x00"


def _shown(text: str) -> str:
    """A name holding a NUL character as it can be shown (the character escaped)."""
    return text.replace(NUL, "\\u0000")


def _nul_paths(value: Any, path: tuple[str | int, ...] = ()) -> Iterator[tuple[str | int, ...]]:
    """Where in a parsed JSON value a string (a value or an object's key) holds a NUL."""
    if isinstance(value, str):
        if NUL in value:
            yield path
    elif isinstance(value, dict):
        for key, item in value.items():
            if NUL in key:
                yield (*path, _shown(key))
            else:
                yield from _nul_paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _nul_paths(item, (*path, index))


class Shape:
    """What an operation reads from a request, from its Ninja parameter models."""

    def __init__(self, view_func: Callable[..., Any]) -> None:
        operation = getattr(view_func, "_ninja_operation", None)
        models = list(getattr(operation, "models", []))
        #: the name of the one body parameter that is the whole JSON body, if any
        self.body_param: str | None = None
        #: whether that body is a JSON array (its rows are numbered from the body)
        self.body_array = False
        #: whether the operation reads a JSON body at all
        self.json_body = False
        #: names of the form fields and file parts the operation takes; None: it takes none
        self.form_names: set[str] | None = None
        for model in models:
            source = model.__ninja_param_source__
            multipart = getattr(model, "__ninja_body_params__", None)
            if source == "body" and multipart is None:
                self.json_body = True
                single = getattr(model, "__read_from_single_attr__", None)
                if single:
                    self.body_param = single
                    annotation = model.model_fields[single].annotation
                    self.body_array = get_origin(annotation) in (list, tuple)
            elif source in ("form", "file") or multipart is not None:
                names: set[str] = self.form_names if self.form_names is not None else set()
                flatten = getattr(model, "__ninja_flatten_map__", None)
                names.update(flatten or ())
                names.update(f.alias or name for name, f in model.model_fields.items())
                names.update(multipart or ())
                self.form_names = names

    def body_loc(self, path: tuple[str | int, ...]) -> tuple[str | int, ...]:
        if self.body_param is not None and not self.body_array:
            return ("body", self.body_param, *path)
        return ("body", *path)


def _problem(loc: tuple[str | int, ...], msg: str, kind: str, shape: Shape) -> dict[str, Any]:
    single = shape.body_param if not shape.body_array else None
    return {"loc": loc, "msg": msg, "type": kind, "field": errors.field_of(loc, single)}


def _is_form(request: HttpRequest) -> bool:
    return request.content_type in ("multipart/form-data", "application/x-www-form-urlencoded")


def problems_of(request: HttpRequest, shape: Shape) -> list[dict[str, Any]]:
    """The request's NUL characters and unknown form fields, as validation errors."""
    nul = _("Text must not contain the NUL character (\\u0000).")
    found: list[dict[str, Any]] = []
    match = request.resolver_match
    for name, value in (match.kwargs if match else {}).items():
        if isinstance(value, str) and NUL in value:
            found.append(_problem(("path", name), nul, "nul_character", shape))
    for key, values in request.GET.lists():
        if NUL in key or any(NUL in v for v in values):
            found.append(_problem(("query", _shown(key)), nul, "nul_character", shape))
    if _is_form(request):
        for key, values in request.POST.lists():
            if NUL in key or any(NUL in v for v in values):
                found.append(_problem(("form", _shown(key)), nul, "nul_character", shape))
        for key, uploads in request.FILES.lists():
            if NUL in key or any(NUL in (u.name or "") for u in uploads):
                found.append(_problem(("file", _shown(key)), nul, "nul_character", shape))
        if shape.form_names is not None:
            unknown = _("The operation takes no such field.")
            for key in [*request.POST, *request.FILES]:
                if key not in shape.form_names:
                    loc = ("form", _shown(key))
                    found.append(_problem(loc, unknown, "extra_forbidden", shape))
    if shape.json_body and request.body:
        # whatever the Content-Type says: Ninja reads a JSON body from any request
        try:
            body = json.loads(request.body)  # as Ninja's parser read it, whatever the type
        except ValueError:
            body = None
        for path in _nul_paths(body):
            found.append(_problem(shape.body_loc(path), nul, "nul_character", shape))
    return found


def checked(view_func: Callable[..., Any]) -> Callable[..., Any]:
    """An operation that refuses NUL characters and unknown form fields (422) before it runs."""
    shape = Shape(view_func)

    @functools.wraps(view_func)
    def operation(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        found = problems_of(request, shape)
        if found:
            raise ValidationError(found)
        return view_func(request, *args, **kwargs)

    return operation

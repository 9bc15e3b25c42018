"""Pages of computed QC results: compute a result from assay inputs or instrument files, the
sterility readings of a test in incubation, the readings due, and a flow result's dot plots.

Laboratory pages answer 404 to client users; a plot answers 404 unless its result is visible to
the user (a client sees its own released results only).
"""

from __future__ import annotations

import contextlib
import datetime as dt
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from celltrace.core.errors import DomainError, NotFound, PermissionDenied
from celltrace.core.tenancy import sees_all_tenants
from celltrace.qc import calculators, flow_plots, instrument_files, selectors, selectors_compute
from celltrace.qc.choices import RequestStatus
from celltrace.qc.forms_compute import IncubationStartForm, ReadingForm, form_for
from celltrace.qc.models import Result, Test
from celltrace.qc.services_compute import (
    STERILITY_METHODS,
    result_compute,
    sterility_incubation_start,
    sterility_reading_record,
)
from celltrace.web.views import actor_of, form_error


def _lab_test(request: HttpRequest, pk: int) -> tuple[Any, Test]:
    actor = actor_of(request)
    if not sees_all_tenants(actor):
        raise Http404
    try:
        return actor, selectors.test_get(actor, pk)
    except NotFound as exc:
        raise Http404 from exc


@login_required
def test_compute(request: HttpRequest, pk: int) -> HttpResponse:
    """Compute a test's result with one of its method's calculators (``?kind=``), then enter it
    with the calculation. Bad inputs, bad files and invalid runs write nothing."""
    actor, test = _lab_test(request, pk)
    code = test.method_version.method.code
    kinds = calculators.kinds_for(code)
    kind = calculators.kind_for(code, request.GET.get("kind") or None)
    form_class = form_for(code, kind.slug) if kind is not None else None
    if kind is None or form_class is None:
        raise Http404
    posted = request.method == "POST"
    form = form_class(request.POST if posted else None, request.FILES if posted else None)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            result = result_compute(
                actor=actor,
                test=test,
                kind=kind.slug,
                inputs=d,
                uploads=form.uploads(),
                comment=d.get("comment", ""),
            )
        except PermissionDenied as exc:
            messages.error(request, exc.message)
        except DomainError as exc:
            form_error(form, exc)
        else:
            _prime_plots(result)
            messages.success(
                request,
                _("Result computed and entered: %(v)s %(u)s.")
                % {"v": result.value_text, "u": result.unit},
            )
            return redirect("qc:test", pk=test.pk)
    return render(
        request,
        "qc/test_compute.html",
        {
            "test": test,
            "form": form,
            "kind": kind,
            "kinds": kinds,
            "multipart": bool(form.file_fields),
            "flowkit_missing": kind.slug == "fcs" and not calculators.flowkit_available(),
            "sterility": kind.slug == "readings",
            "grid": selectors_compute.sterility_grid(test) if kind.slug == "readings" else [],
        },
    )


def _prime_plots(result: Result) -> None:
    """Render a flow result's dot plots once, now, so the result page opens fast."""
    if flow_plots.has_plots(result.calculation):
        # the result page says why when the plots cannot be drawn
        with contextlib.suppress(DomainError):
            flow_plots.plots_of(result.calculation)


@login_required
def sterility_readings(request: HttpRequest, pk: int) -> HttpResponse:
    """Start the incubation of the media and record their readings day by day."""
    actor, test = _lab_test(request, pk)
    if test.method_version.method.code not in STERILITY_METHODS:
        raise Http404
    now = timezone.localtime()
    start_form = IncubationStartForm(
        request.POST if request.POST.get("action") == "start" else None,
        initial={"started_at": now.strftime("%Y-%m-%d %H:%M")},
        prefix="start",
    )
    reading_form = ReadingForm(
        request.POST if request.POST.get("action") == "read" else None,
        initial={"observed_at": now.strftime("%Y-%m-%d %H:%M")},
        prefix="read",
    )
    if request.method == "POST":
        try:
            if request.POST.get("action") == "start" and start_form.is_valid():
                d = start_form.cleaned_data
                sterility_incubation_start(
                    actor=actor,
                    test=test,
                    media=d["incubated_media"],
                    started_at=d["started_at"],
                    days=d["days"],
                )
                messages.success(request, _("Incubation started."))
                return redirect("qc:sterility", pk=test.pk)
            if request.POST.get("action") == "read" and reading_form.is_valid():
                sterility_reading_record(
                    actor=actor,
                    test=test,
                    growth=reading_form.growth(),
                    observed_at=reading_form.cleaned_data["observed_at"],
                    note=reading_form.cleaned_data["note"],
                )
                messages.success(request, _("Reading recorded."))
                return redirect("qc:sterility", pk=test.pk)
        except PermissionDenied as exc:
            messages.error(request, exc.message)
        except DomainError as exc:
            form_error(start_form if request.POST.get("action") == "start" else reading_form, exc)
    grid = selectors_compute.sterility_grid(test)
    open_ = test.request.status == RequestStatus.IN_TESTING and test.current_result is None
    return render(
        request,
        "qc/compute/sterility.html",
        {
            "test": test,
            "grid": grid,
            "started": {row.medium for row in grid},
            "start_form": start_form,
            "reading_form": reading_form,
            "open": open_,
        },
    )


@login_required
def readings_due(request: HttpRequest) -> HttpResponse:
    """Reminders: sterility readings due today (and missed ones) for tests in incubation."""
    actor = actor_of(request)
    if not sees_all_tenants(actor):
        raise Http404
    today = timezone.localdate()
    try:
        on = dt.date.fromisoformat(request.GET.get("on", "")) if request.GET.get("on") else today
    except ValueError:
        on = today
    return render(
        request,
        "qc/compute/readings_due.html",
        {"due": selectors_compute.readings_due(actor, on), "on": on, "today": today},
    )


@login_required
@require_GET
def result_plot(request: HttpRequest, pk: int, index: int) -> HttpResponse:
    """One dot plot of a flow result as ``image/svg+xml``; 404 unless the result is visible."""
    try:
        result = selectors.result_get(actor_of(request), pk)
        svg = flow_plots.plot_svg(result.calculation, index)
    except NotFound as exc:
        raise Http404 from exc
    except DomainError as exc:
        raise Http404 from exc
    response = HttpResponse(svg, content_type="image/svg+xml; charset=utf-8")
    response["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, max-age=3600"
    return response


def detail_context(test: Test, current: Result | None) -> dict[str, Any]:
    """What the test page shows about computing: the calculators, the sterility readings, and
    the current result's files and dot plots."""
    code = test.method_version.method.code
    plots: list[flow_plots.PlotInfo] = []
    plot_error = ""
    if current is not None and flow_plots.has_plots(current.calculation):
        try:
            plots = flow_plots.plots_of(current.calculation)
        except DomainError as exc:
            plot_error = exc.message
    return {
        "compute_kinds": calculators.kinds_for(code),
        "is_sterility": code in STERILITY_METHODS,
        "plots": plots,
        "plot_error": plot_error,
        "instrument_files": instrument_files.files_of(current.calculation) if current else [],
    }

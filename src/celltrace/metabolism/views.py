"""Pages of the metabolism app: runs, the plate and its wells, results, depositor profiles."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from celltrace.bank.models import Aliquot
from celltrace.core.errors import DomainError, Invalid, NotFound
from celltrace.core.models import Organisation
from celltrace.core.tenancy import scope, sees_all_tenants
from celltrace.metabolism import charts, labels, report, selectors, services
from celltrace.metabolism.forms import RunUploadForm, WellReasonForm
from celltrace.metabolism.models import MetabolismRun
from celltrace.metabolism.report import fmt_value
from celltrace.web.views import actor_of, form_error

_WELL = re.compile(r"^([A-P])(\d{2})$")
SVG_TYPE = "image/svg+xml; charset=utf-8"


def _run(request: HttpRequest, pk: int) -> MetabolismRun:
    try:
        return selectors.run_get(actor_of(request), pk)
    except NotFound as exc:
        raise Http404 from exc


@login_required
def run_list(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    runs = list(selectors.runs_visible(actor).order_by("-uploaded_at", "-pk")[:200])
    donors = list(selectors.donors_with_runs(actor))
    counts: dict[int, int] = {}
    for donor_id in selectors.runs_visible(actor).values_list("donor_id", flat=True):
        if donor_id is not None:
            counts[donor_id] = counts.get(donor_id, 0) + 1
    return render(
        request,
        "metabolism/run_list.html",
        {
            "runs": runs,
            "donors": [(d, counts.get(d.pk, 0)) for d in donors],
            "can_upload": services.can_analyse(actor),
        },
    )


@login_required
def run_new(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    if not services.can_analyse(actor):
        raise Http404
    form = RunUploadForm(
        request.POST or None,
        request.FILES or None,
        donors=selectors.donors_visible(actor),
        organisations=Organisation.objects.filter(is_active=True),
    )
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            run = _upload(actor, d)
        except DomainError as exc:
            form_error(form, exc)
        else:
            messages.success(request, _("The run was uploaded and analysed."))
            return redirect("metabolism:run", pk=run.pk)
    return render(request, "metabolism/run_form.html", {"form": form})


def _upload(actor: Any, d: dict[str, Any]) -> MetabolismRun:
    donor = d["donor"]
    aliquot = None
    if d["aliquot_barcode"]:
        aliquot = (
            scope(Aliquot.objects.all(), actor).filter(barcode=d["aliquot_barcode"].strip()).first()
        )
        if aliquot is None:
            raise NotFound(_("No aliquot has this barcode."), field="aliquot_barcode")
    organisation = d["organisation"]
    if donor is not None:
        organisation = donor.organisation
    elif aliquot is not None:
        organisation = aliquot.organisation
    if organisation is None:
        raise Invalid(_("Choose a donor or an organisation."), field="donor")
    upload = d["file"]
    norm = d["normalisation"]
    return services.metabolism_run_upload(
        actor=actor,
        organisation=organisation,
        file_bytes=upload.read(),
        filename=upload.name or "",
        assay=d["assay"],
        donor=donor,
        aliquot=aliquot,
        timepoint=d["timepoint"],
        timepoint_label=d["timepoint_label"],
        sampled_on=d["sampled_on"],
        normalisation=norm.read() if norm else None,
        normalisation_filename=norm.name if norm else "",
        normalisation_unit=d["normalisation_unit"] or "cells",
        normalisation_scale=d["normalisation_scale"] or Decimal(1),
        ccf=d["ccf"],
        po_ratio=d["po_ratio"],
        reason=d["reason"],
    )


def plate_rows(run: MetabolismRun) -> list[dict[str, Any]]:
    """The plate as rows of wells, each with its group, state and exclusion."""
    wells = {w["well"]: w for w in run.well_results}
    groups = [g["group"] for g in run.group_results]
    letters: set[str] = set()
    numbers: set[int] = set()
    for name in run.plate_layout:
        m = _WELL.match(name)
        if m:
            letters.add(m.group(1))
            numbers.add(int(m.group(2)))
    cols = sorted(numbers)
    rows = []
    for letter in sorted(letters):
        cells = []
        for n in cols:
            name = f"{letter}{n:02d}"
            group = run.plate_layout.get(name, "")
            w = wells.get(name)
            state = "excluded" if w and w["excluded"] else ("analysed" if w else "other")
            if group == "Background":
                state = "background"
            cells.append(
                {
                    "well": name,
                    "group": group,
                    "state": state,
                    "colour": groups.index(group) % 8 if group in groups else "",
                    "reason": w["exclusion_reason"] if w else "",
                }
            )
        rows.append({"letter": letter, "cells": cells})
    return rows


def results_table(run: MetabolismRun) -> dict[str, Any]:
    groups = run.group_results
    rows = []
    for p in run.parameters:
        key = p["key"]
        rows.append(
            {
                "key": key,
                "label": p["label"],
                "unit": p["unit"],
                "formula": labels.formula_text(p),
                "cells": [
                    {
                        "mean": fmt_value(g.get(key)),
                        "sd": fmt_value(g["sd"].get(key)),
                        "sem": fmt_value(g["sem"].get(key)),
                    }
                    for g in groups
                ],
            }
        )
    return {
        "groups": groups,
        "rows": rows,
        "legend": [(i % 8, g["group"]) for i, g in enumerate(groups)],
        "headers": [(i % 8, g) for i, g in enumerate(groups)],
    }


def well_table(run: MetabolismRun) -> dict[str, Any]:
    keys = [p["key"] for p in run.parameters]
    return {
        "parameters": run.parameters,
        "rows": [
            {
                "well": w["well"],
                "group": w["group"],
                "excluded": w["excluded"],
                "reason": w["exclusion_reason"],
                "values": [fmt_value(w["values"].get(k)) for k in keys],
            }
            for w in run.well_results
        ],
    }


def _normalisation_formula(run: MetabolismRun) -> str:
    """The calculation record's normalisation formula in the active language ("" if none)."""
    for key, value in run.calculation.get("normalisation", []):
        if key == "formula":
            return labels.normalisation_formula_text(str(value))
    return ""


@login_required
def run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    run = _run(request, pk)
    return render(
        request,
        "metabolism/run_detail.html",
        {
            "run": run,
            "plate": plate_rows(run),
            "results": results_table(run),
            "wells": well_table(run),
            "exclusions": list(selectors.exclusions_of(run)),
            "charts": charts.run_chart_names(run),
            "can_review": services.can_analyse(actor),
            "sees_all": sees_all_tenants(actor),
            "constants": run.constants,
            "calc": run.calculation,
            "normalisation_formula": _normalisation_formula(run),
        },
    )


def _well_action(request: HttpRequest, pk: int, well: str, include: bool) -> HttpResponse:
    actor = actor_of(request)
    run = _run(request, pk)
    if not services.can_analyse(actor):
        raise Http404
    form = WellReasonForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give a reason."))
        return redirect("metabolism:run", pk=run.pk)
    fn = services.well_include if include else services.well_exclude
    try:
        fn(actor=actor, run=run, well=well, reason=form.cleaned_data["reason"])
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        text = (
            _("Well %(well)s is included again; results recalculated.")
            if include
            else _("Well %(well)s is excluded; results recalculated.")
        )
        messages.success(request, text % {"well": well})
    return redirect("metabolism:run", pk=run.pk)


@login_required
@require_POST
def well_exclude(request: HttpRequest, pk: int, well: str) -> HttpResponse:
    return _well_action(request, pk, well, include=False)


@login_required
@require_POST
def well_include(request: HttpRequest, pk: int, well: str) -> HttpResponse:
    return _well_action(request, pk, well, include=True)


def _svg(text: str) -> HttpResponse:
    response = HttpResponse(text, content_type=SVG_TYPE)
    response["Cache-Control"] = "private, max-age=300"
    return response


@login_required
def run_chart(request: HttpRequest, pk: int, name: str) -> HttpResponse:
    run = _run(request, pk)
    try:
        return _svg(charts.run_chart(run, name))
    except KeyError as exc:
        raise Http404 from exc


def _profile(request: HttpRequest, pk: int) -> selectors.Profile:
    try:
        return selectors.donor_profile(actor_of(request), pk)
    except NotFound as exc:
        raise Http404 from exc


@login_required
def profile(request: HttpRequest, pk: int) -> HttpResponse:
    prof = _profile(request, pk)
    return render(request, "metabolism/profile.html", report.profile_context(prof))


@login_required
def profile_chart(request: HttpRequest, pk: int, name: str) -> HttpResponse:
    prof = _profile(request, pk)
    if not prof.runs:
        raise Http404
    if name == "energy_map":
        return _svg(charts.profile_energy_map(prof.runs))
    if name.startswith("parameters-") and name.removeprefix("parameters-") in prof.assays:
        return _svg(charts.parameters_over_time(prof.runs, name.removeprefix("parameters-")))
    raise Http404


@login_required
def profile_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    prof = _profile(request, pk)
    language = request.GET.get("lang", "en")
    if language not in report.LANGUAGES:
        raise Http404
    pdf = report.render_pdf(prof, language)
    response = HttpResponse(pdf, content_type="application/pdf")
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d")
    ref = re.sub(r"[^A-Za-z0-9._-]", "_", prof.donor.reference)
    response["Content-Disposition"] = (
        f'attachment; filename="energy-profile-{ref}-{language}-{stamp}.pdf"'
    )
    return response

"""Inventory import pages: upload with history, the run's progress and result, the template."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from celltrace.core.errors import DomainError, NotFound, PermissionDenied
from celltrace.imports import selectors, services, tasks, template
from celltrace.imports.choices import ImportStatus
from celltrace.imports.forms import UploadForm
from celltrace.imports.inventory import COLUMNS, MAX_ERRORS
from celltrace.imports.models import ImportRun
from celltrace.web.views import actor_of, form_error


def _staff(request: HttpRequest) -> None:
    try:
        selectors.runs_visible(actor_of(request))
    except NotFound as exc:
        raise Http404 from exc
    except PermissionDenied as exc:
        raise DjangoPermissionDenied(exc.message) from exc


def _run(request: HttpRequest, pk: int) -> ImportRun:
    _staff(request)
    try:
        return selectors.run_get(actor_of(request), pk)
    except NotFound as exc:
        raise Http404 from exc


@login_required
def index(request: HttpRequest) -> HttpResponse:
    _staff(request)
    actor = actor_of(request)
    services.import_run_expire_stale()
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            run = services.import_run_create(
                actor=actor,
                organisation=form.cleaned_data["organisation"],
                file_name=upload.name or "",
                content=upload,
                reason=form.cleaned_data["reason"],
                dry_run=form.cleaned_data["dry_run"],
            )
        except DomainError as exc:
            form_error(form, exc)
        else:
            tasks.start(run.pk)
            return redirect("imports:run", pk=run.pk)
    runs = list(selectors.runs_visible(actor)[:50])
    return render(
        request,
        "imports/index.html",
        {
            "form": form,
            "runs": runs,
            "columns": COLUMNS,
            "max_errors": MAX_ERRORS,
            "example_path": selectors.example_storage_path(),
        },
        status=422 if request.method == "POST" else 200,
    )


@login_required
@require_GET
def run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    run = _run(request, pk)
    return render(request, "imports/run.html", _run_context(run))


@login_required
@require_POST
def run_write(request: HttpRequest, pk: int) -> HttpResponse:
    """Import for real the file a check-only run found clean."""
    run = _run(request, pk)
    try:
        new = services.import_run_write_checked(actor=actor_of(request), run=run)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("imports:run", pk=run.pk)
    tasks.start(new.pk)
    return redirect("imports:run", pk=new.pk)


@login_required
@require_GET
def run_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """The progress block alone (htmx polls it until the run is finished)."""
    run = _run(request, pk)
    return render(request, "imports/partials/progress.html", _run_context(run))


def _run_context(run: ImportRun) -> dict[str, object]:
    return {
        "run": run,
        "progress": selectors.progress_of(run),
        "max_errors": MAX_ERRORS,
        # a clean check-only run is imported from its page (the pages are bank staff's)
        "can_write": run.dry_run and run.status == ImportStatus.VALID,
    }


@login_required
@require_GET
def template_csv(request: HttpRequest) -> HttpResponse:
    _staff(request)
    response = HttpResponse(template.csv_bytes(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="celltrace-inventory-template.csv"'
    return response


@login_required
@require_GET
def template_xlsx(request: HttpRequest) -> HttpResponse:
    _staff(request)
    response = HttpResponse(
        template.xlsx_bytes(),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    response["Content-Disposition"] = 'attachment; filename="celltrace-inventory-template.xlsx"'
    return response

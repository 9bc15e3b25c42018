"""Printable reports of the QC laboratory: the OOS investigation report (PDF).

Laboratory staff print any investigation; a client user only those of its own organisation's
requests (another client's answers 404). The report is in the language of the page (English or
Simplified Chinese) unless ``?lang=`` names one.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import translation

from celltrace.core.errors import Invalid, NotFound
from celltrace.qc import reports, selectors
from celltrace.web.views import actor_of


def pdf_attachment(pdf: bytes, name: str) -> HttpResponse:
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
def oos_report(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    try:
        oos = selectors.oos_get(actor, pk)
    except NotFound as exc:
        raise Http404 from exc
    try:
        language = reports.chosen_language(request.GET.get("lang", ""), translation.get_language())
    except Invalid as exc:
        return HttpResponse(exc.message, status=400, content_type="text/plain; charset=utf-8")
    pdf = reports.render_pdf(oos, language=language, printed_by=actor)
    return pdf_attachment(pdf, reports.filename(oos, language))

"""The printable OOS investigation report (PDF through WeasyPrint, like the certificate).

The report prints the request, client, sample, test, method (version and reference), the
specification and the out-of-specification result; phase I findings with the assignable-cause
decision, phase II findings, the CAPA reference, the conclusion and outcome; the results
entered on the test after the OOS result (retests) with their status; the signature
manifestations (printed name, UTC time, meaning, status; 21 CFR 11.50) of those results; and
the investigation's ledger history. It is rendered in English or Simplified Chinese, with a
font that has CJK glyphs. Printing writes nothing: the report is a view of records that are
themselves on the ledger, stamped with who printed it and when.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext as _

from celltrace.audit import signing
from celltrace.audit.models import AuditEvent
from celltrace.core.errors import Invalid
from celltrace.core.models import Organisation, User
from celltrace.core.pdf import html_to_pdf
from celltrace.qc.certificates import font_config
from celltrace.qc.choices import Language
from celltrace.qc.models import OosInvestigation, Result

ENTITY_TYPE = "qc.oosinvestigation"


def report_language(requested: str | None) -> str:
    """``en`` or ``zh-hans`` from an active language code (``zh``, ``zh-cn``, ``zh-Hans``…)."""
    code = (requested or "").strip().lower()
    return Language.ZH_HANS if code.startswith("zh") else Language.EN


def chosen_language(requested: str, active: str | None) -> str:
    """The language a user asked for (``en`` or ``zh-hans``), else the active one."""
    code = requested.strip().lower()
    if not code:
        return report_language(active)
    if code not in Language.values:
        raise Invalid(
            _("language: “%(value)s” is not a report language; use en or zh-hans.")
            % {"value": code[:10]},
            field="language",
        )
    return code


def _result_row(result: Result) -> dict[str, Any]:
    return {"result": result, "signatures": signing.manifestations(result)}


def oos_report_context(oos: OosInvestigation, *, printed_by: User) -> dict[str, Any]:
    """Everything the report prints; call inside the report's language."""
    result = (
        Result.objects.select_related(
            "test__method_version__method",
            "test__sample",
            "test__analyst",
            "entered_by",
            "invalidated_by",
            "limit",
        )
        .filter(pk=oos.result_id)
        .get()
    )
    test = result.test
    req = oos.request
    retests = list(
        Result.objects.filter(test=test, pk__gt=result.pk)
        .select_related("entered_by", "invalidated_by")
        .order_by("pk")
    )
    history = list(
        AuditEvent.objects.where(entity_type=ENTITY_TYPE, entity_id=str(oos.pk)).order_by("seq")
    )
    now = dt.datetime.now(dt.UTC)
    return {
        "oos": oos,
        "req": req,
        "client": req.organisation,
        "lab": Organisation.objects.filter(kind="operator").first(),
        "test": test,
        "sample": test.sample,
        "method": test.method_version,
        "specification": req.specification,
        "oos_result": _result_row(result),
        "retests": [_result_row(r) for r in retests],
        "history": history,
        "printed_by": printed_by,
        "printed_at_utc": now.strftime("%Y-%m-%d %H:%M:%S UTC"),
    }


def render_html(oos: OosInvestigation, *, language: str, printed_by: User) -> str:
    with translation.override(report_language(language)):
        context = oos_report_context(oos, printed_by=printed_by)
        context["language"] = report_language(language)
        return render_to_string("qc/oos_report.html", context)


def render_pdf(oos: OosInvestigation, *, language: str, printed_by: User) -> bytes:

    html = render_html(oos, language=language, printed_by=printed_by)
    return html_to_pdf(html, base_url=str(settings.BASE_DIR), font_config=font_config())


def filename(oos: OosInvestigation, language: str) -> str:
    return f"{oos.number}-report-{report_language(language)}.pdf"

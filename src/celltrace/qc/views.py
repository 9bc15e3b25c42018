"""Pages of the QC laboratory: the client portal, the laboratory's pages, public verification.

Every object is read through a tenant-scoped selector: another client's object is a 404.
Laboratory pages answer 404 to client users too.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from celltrace.audit.choices import SignatureMeaning
from celltrace.core.errors import DomainError, NotFound, PermissionDenied, permitted
from celltrace.core.models import User
from celltrace.core.tenancy import sees_all_tenants
from celltrace.qc import selectors, services, views_compute
from celltrace.qc.api import pdf_response
from celltrace.qc.choices import (
    Language,
    OosPhase,
    RequestStatus,
    ResultStatus,
    RoundingMode,
    SampleStatus,
)
from celltrace.qc.forms import (
    AmendForm,
    CertificateForm,
    CloseForm,
    Phase1Form,
    ReasonForm,
    ReceiptForm,
    RequestForm,
    ResultForm,
    VerifyForm,
)
from celltrace.qc.models import Certificate
from celltrace.web.views import actor_of, form_error

MAX_PDF_BYTES = 20 * 1024 * 1024


def _lab_or_404(actor: User) -> None:
    if not sees_all_tenants(actor):
        raise Http404


def _origin(request: HttpRequest) -> str:
    return request.build_absolute_uri("/").rstrip("/")


def _get(fn: Any, actor: User, pk: Any) -> Any:
    try:
        return fn(actor, pk)
    except NotFound as exc:
        raise Http404 from exc


def _refused(request: HttpRequest, exc: DomainError) -> None:
    messages.error(request, exc.message)


def _listed(certificates: QuerySet[Certificate]) -> QuerySet[Certificate]:
    """Certificates as listed: whether each is superseded (a translation with the version it
    translates) is read in the same query, without the PDFs."""
    return certificates.select_related("superseded_by", "translation_of__superseded_by").defer(
        "superseded_by__pdf", "translation_of__pdf", "translation_of__superseded_by__pdf"
    )


@login_required
def portal(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    status = request.GET.get("status", "")
    qs = selectors.requests_visible(actor).order_by("-pk")
    if status in RequestStatus.values:
        qs = qs.filter(status=status)
    return render(
        request,
        "qc/portal.html",
        {
            "requests": list(qs[:200]),
            "certificates": list(
                _listed(selectors.certificates_visible(actor)).order_by("-issued_at", "-pk")[:50]
            ),
            "statuses": RequestStatus.choices,
            "status": status,
            "lab": sees_all_tenants(actor),
        },
    )


@login_required
def request_new(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    lab = sees_all_tenants(actor)
    form = RequestForm(request.POST or None, lab=lab, organisation_id=actor.organisation_id)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            req = services.request_create(
                actor=actor,
                organisation=d.get("organisation"),
                product=d["product"],
                product_type=d["product_type"],
                batch=d["batch"],
                priority=d["priority"],
                notes=d["notes"],
                samples=form.sample_specs(),
                method_codes=[m.code for m in d["methods"]],
                panel_codes=[p.code for p in d["panels"]],
                submit=True,
            )
        except DomainError as exc:
            form_error(form, exc)
        else:
            messages.success(request, _("Request %(n)s submitted.") % {"n": req.number})
            return redirect(req.get_absolute_url())
    return render(request, "qc/request_new.html", {"form": form})


@login_required
def request_detail(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    req = _get(selectors.request_detail, actor, pk)
    lab = sees_all_tenants(actor)
    show_results = lab or req.status in selectors.RELEASED
    # the specification's limit for each method, shown before any result exists
    limits = selectors.limits_by_method(req.specification) if show_results else {}
    tests = []
    for test in req.tests.all():
        tests.append(
            {
                "test": test,
                "result": test.current_result if show_results else None,
                "limit": limits.get(test.method_version.method_id),
            }
        )
    certificates = list(_listed(selectors.certificates_visible(actor).filter(request=req)))
    # amendments and translations start from the latest version's original
    latest = next((c for c in certificates if c.translation_of_id is None), None)
    translate_form = None
    if latest is not None:
        have = {c.language for c in certificates if c.version == latest.version}
        missing = [(v, label) for v, label in Language.choices if v not in have]
        if missing:
            translate_form = CertificateForm(prefix="tr", initial={"language": missing[0][0]})
            language = translate_form.fields["language"]
            assert isinstance(language, forms.ChoiceField)
            language.choices = missing
    return render(
        request,
        "qc/request_detail.html",
        {
            "req": req,
            "lab": lab,
            "tests": tests,
            "show_results": show_results,
            "certificates": certificates,
            "latest_certificate": latest,
            "translate_form": translate_form,
            "open_oos": list(selectors.open_oos_of(req)) if lab else [],
            "release_refusal": services.release_refusal(req) if lab else None,
            "certificate_form": CertificateForm(),
            "amend_form": AmendForm(),
            "sign_release": lab and req.status == RequestStatus.REVIEWED,
            # actions are offered only to the roles their services accept
            "can_submit": permitted(services.require_requester, actor, "", ""),
            "cancel_form": ReasonForm(),
            "can_receive": services.is_lab(actor, *services.RECEIPT_ROLES),
            "can_plan": services.is_lab(actor, *services.LAB_ROLES),
            # services.certificate_issue, certificate_amend and certificate_translate: QA only
            "can_certify": services.is_lab(actor, *services.CERTIFICATE_ROLES),
        },
    )


@login_required
@require_POST
def request_submit(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    req = _get(selectors.request_get, actor, pk)
    try:
        services.request_submit(actor=actor, request=req)
    except NotFound as exc:
        raise Http404 from exc
    except DomainError as exc:
        _refused(request, exc)
    return redirect(req.get_absolute_url())


@login_required
@require_POST
def request_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    """Withdraw a draft or submitted request, with a reason (its client's users, QC staff)."""
    actor = actor_of(request)
    req = _get(selectors.request_get, actor, pk)
    form = ReasonForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give the reason for cancelling."))
        return redirect(req.get_absolute_url())
    try:
        services.request_cancel(actor=actor, request=req, reason=form.cleaned_data["reason"])
    except NotFound as exc:
        raise Http404 from exc
    except DomainError as exc:
        _refused(request, exc)
    else:
        messages.success(request, _("The request was cancelled."))
    return redirect(req.get_absolute_url())


@login_required
def receive(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    _lab_or_404(actor)
    req = _get(selectors.request_detail, actor, pk)
    form = ReceiptForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            sample = services.sample_receive(
                actor=actor,
                request=req,
                scanned_id=d["scanned_id"],
                accept=d["decision"] == "accept",
                temperature_c=d["temperature_c"],
                container_intact=d["container_intact"],
                label_matches=d["label_matches"],
                rejection_reason=d["rejection_reason"],
            )
        except DomainError as exc:
            form_error(form, exc)
        else:
            messages.success(
                request,
                _("Sample %(id)s: %(s)s.")
                % {"id": sample.client_sample_id, "s": sample.get_status_display()},
            )
            return redirect("qc:receive", pk=req.pk)
    can_receive = services.is_lab(actor, *services.RECEIPT_ROLES)
    return render(
        request,
        "qc/receive.html",
        {
            "req": req,
            "form": form,
            # services.sample_receive and sample_labels_print: RECEIPT_ROLES; the label sheet
            # (views_catalogue.sample_labels_pdf) answers 404 when every sample was rejected
            "can_receive": can_receive,
            "can_print_labels": can_receive
            and req.samples.exclude(status=SampleStatus.REJECTED).exists(),
        },
    )


@login_required
@require_POST
def tests_create(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    _lab_or_404(actor)
    req = _get(selectors.request_get, actor, pk)
    try:
        planned = services.tests_create(actor=actor, request=req)
    except DomainError as exc:
        _refused(request, exc)
    else:
        messages.success(
            request,
            ngettext(
                "%(n)s test planned; the request is in testing.",
                "%(n)s tests planned; the request is in testing.",
                len(planned),
            )
            % {"n": len(planned)},
        )
    return redirect(req.get_absolute_url())


@login_required
def incoming(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    _lab_or_404(actor)
    return render(request, "qc/incoming.html", {"requests": list(selectors.incoming(actor)[:500])})


@login_required
def worklist(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    _lab_or_404(actor)
    mine = request.GET.get("mine") == "1"
    method = request.GET.get("method", "")
    tests = selectors.worklist(actor, analyst=actor if mine else None, method_code=method)
    return render(
        request,
        "qc/worklist.html",
        {
            "tests": list(tests[:500]),
            "mine": mine,
            "method": method,
            "methods": selectors.methods(),
        },
    )


@login_required
def review_queue(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    _lab_or_404(actor)
    return render(request, "qc/review.html", {"results": list(selectors.review_queue(actor)[:500])})


@login_required
def test_detail(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    _lab_or_404(actor)
    test = _get(selectors.test_get, actor, pk)
    form = ResultForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.result_enter(
                actor=actor,
                test=test,
                value=form.cleaned_data["value"],
                comment=form.cleaned_data["comment"],
            )
        except PermissionDenied as exc:
            _refused(request, exc)
        except DomainError as exc:
            form_error(form, exc)
        else:
            messages.success(request, _("Result entered."))
            return redirect("qc:test", pk=test.pk)
    current = test.current_result
    limit, rounding_mode = services.limit_for(test)
    return render(
        request,
        "qc/test_detail.html",
        {
            "test": test,
            "current": current,
            "limit": limit,
            "rounding_mode": RoundingMode(rounding_mode).label if rounding_mode else "",
            "results": list(test.results.select_related("entered_by").order_by("pk")),
            "form": form,
            "invalidate_form": ReasonForm(),
            "can_enter": current is None and test.request.status == RequestStatus.IN_TESTING,
            **views_compute.detail_context(test, current),
            "meanings": f"{SignatureMeaning.PERFORMED},{SignatureMeaning.REVIEWED}",
            "has_oos": current is not None and hasattr(current, "oos"),
            "ResultStatus": ResultStatus,
        },
    )


@login_required
@require_POST
def result_invalidate(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    _lab_or_404(actor)
    result = _get(selectors.result_get, actor, pk)
    form = ReasonForm(request.POST)
    if form.is_valid():
        try:
            services.result_invalidate(
                actor=actor, result=result, reason=form.cleaned_data["reason"]
            )
        except DomainError as exc:
            _refused(request, exc)
        else:
            messages.success(request, _("Result invalidated; enter the retest."))
    else:
        messages.error(request, _("Give the reason for invalidating the result."))
    return redirect("qc:test", pk=result.test_id)


@login_required
def oos_list(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    _lab_or_404(actor)
    qs = selectors.oos_visible(actor)
    if request.GET.get("open") == "1":
        qs = qs.exclude(phase=OosPhase.CLOSED)
    return render(request, "qc/oos_list.html", {"items": list(qs[:500])})


@login_required
def oos_detail(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    _lab_or_404(actor)
    oos = _get(selectors.oos_get, actor, pk)
    phase1 = Phase1Form(request.POST or None, prefix="p1")
    close = CloseForm(request.POST or None, prefix="p2")
    if request.method == "POST":
        action = request.POST.get("action")
        form: Any = phase1 if action == "phase1" else close
        if form.is_valid():
            d = form.cleaned_data
            try:
                if action == "phase1":
                    services.oos_complete_phase1(
                        actor=actor,
                        oos=oos,
                        assignable_cause=d["assignable_cause"],
                        summary=d["summary"],
                    )
                else:
                    services.oos_close(
                        actor=actor,
                        oos=oos,
                        summary=d["summary"],
                        capa_reference=d["capa_reference"],
                        conclusion=d["conclusion"],
                        invalidate_result=d["invalidate_result"],
                    )
            except PermissionDenied as exc:
                _refused(request, exc)
            except DomainError as exc:
                form_error(form, exc)
            else:
                messages.success(request, _("Investigation updated."))
                return redirect(oos.get_absolute_url())
    return render(
        request,
        "qc/oos_detail.html",
        {
            "oos": oos,
            "phase1": phase1,
            "close": close,
            # each form is offered to the roles its service accepts
            "can_phase1": services.is_lab(actor, *services.OOS_PHASE1_ROLES),
            "can_close": services.is_lab(actor, *services.OOS_CLOSE_ROLES),
        },
    )


@login_required
def certificate_download(request: HttpRequest, pk: int) -> HttpResponse:
    cert = _get(selectors.certificate_get, actor_of(request), pk)
    return pdf_response(cert)


@login_required
@require_POST
def certificate_issue(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    _lab_or_404(actor)
    req = _get(selectors.request_get, actor, pk)
    form = CertificateForm(request.POST)
    if form.is_valid():
        try:
            cert = services.certificate_issue(
                actor=actor,
                request=req,
                language=form.cleaned_data["language"],
                verify_base=_origin(request),
            )
        except DomainError as exc:
            _refused(request, exc)
        else:
            messages.success(request, _("Certificate %(n)s issued.") % {"n": cert.number})
    return redirect(req.get_absolute_url())


@login_required
@require_POST
def certificate_amend(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    _lab_or_404(actor)
    cert = _get(selectors.certificate_get, actor, pk)
    form = AmendForm(request.POST)
    if form.is_valid():
        try:
            new = services.certificate_amend(
                actor=actor,
                certificate=cert,
                reason=form.cleaned_data["reason"],
                language=form.cleaned_data["language"],
                verify_base=_origin(request),
            )
        except DomainError as exc:
            _refused(request, exc)
        else:
            messages.success(request, _("Certificate %(n)s issued.") % {"n": new.number})
    else:
        messages.error(request, _("Give the reason for the amendment."))
    return redirect(cert.request.get_absolute_url())


@login_required
@require_POST
def certificate_translate(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    _lab_or_404(actor)
    cert = _get(selectors.certificate_get, actor, pk)
    form = CertificateForm(request.POST, prefix="tr")
    if form.is_valid():
        try:
            new = services.certificate_translate(
                actor=actor,
                certificate=cert,
                language=form.cleaned_data["language"],
                verify_base=_origin(request),
            )
        except DomainError as exc:
            _refused(request, exc)
        else:
            messages.success(
                request,
                _("Translation of certificate %(n)s issued in %(lang)s.")
                % {"n": new.number, "lang": new.get_language_display()},
            )
    else:
        messages.error(request, _("Choose the language of the translation."))
    return redirect(cert.request.get_absolute_url())


def verify(request: HttpRequest, uuid: Any) -> HttpResponse:
    """Public: upload a PDF and learn whether it is the certificate issued under this QR code."""
    cert = selectors.certificate_public(str(uuid))
    if cert is None:
        raise Http404
    form = VerifyForm(request.POST or None, request.FILES or None)
    outcome = None
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        if upload.size > MAX_PDF_BYTES:
            form.add_error("file", _("The file is too large to be a certificate."))
        else:
            outcome = services.certificate_verify(certificate=cert, pdf=upload.read())
    return render(request, "qc/verify.html", {"cert": cert, "form": form, "outcome": outcome})

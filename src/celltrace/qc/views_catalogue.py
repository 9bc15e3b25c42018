"""Pages of the method catalogue, specifications, test panels, sample labels and sample storage.

Laboratory staff read everything; QC reviewers, QA and administrators propose method and
specification versions and manage panels; QA approves versions by signing them "approved" on
the shared signature page. Client users read the effective catalogue and the panels they may
request (global ones and their own); any other object, and every editing page, is a 404.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from celltrace.core.choices import Role
from celltrace.core.errors import DomainError, NotFound
from celltrace.core.models import User
from celltrace.core.tenancy import sees_all_tenants
from celltrace.qc import sample_labels, selectors, services
from celltrace.qc.choices import RemovalPurpose, SampleStatus, VersionStatus
from celltrace.qc.forms_catalogue import (
    LimitForm,
    MethodForm,
    PanelForm,
    RetrieveForm,
    ScanForm,
    SpecificationForm,
    StoreForm,
    WithdrawForm,
)
from celltrace.qc.models import MethodVersion, Specification
from celltrace.web.decorators import own_site_only
from celltrace.web.views import actor_of, form_error


def _lab_or_404(actor: User) -> None:
    if not sees_all_tenants(actor):
        raise Http404


def _editor_or_404(actor: User) -> None:
    """Editing pages exist for laboratory staff only; their roles are checked by the services
    (an analyst sees the refusal, and nothing is written)."""
    _lab_or_404(actor)


def _get(fn: Any, actor: User, pk: Any) -> Any:
    try:
        return fn(actor, pk)
    except NotFound as exc:
        raise Http404 from exc


def _can_edit(actor: User) -> bool:
    return services.is_lab(actor, *services.CATALOGUE_ROLES)


def _is_qa(actor: User) -> bool:
    return services.is_lab(actor, Role.QA)


# --- methods --------------------------------------------------------------------------------


@login_required
def method_list(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    rows = []
    for method in selectors.method_catalogue(actor):
        versions = list(method.versions.all())
        rows.append(
            {
                "method": method,
                "current": next((v for v in versions if v.is_current), None),
                "pending": next((v for v in versions if v.status == VersionStatus.PENDING), None),
            }
        )
    return render(
        request,
        "qc/catalogue/methods.html",
        {"rows": rows, "lab": sees_all_tenants(actor), "can_edit": _can_edit(actor)},
    )


@login_required
def method_detail(request: HttpRequest, code: str) -> HttpResponse:
    actor = actor_of(request)
    method = _get(selectors.method_get, actor, code)
    versions = list(method.versions.all())
    return render(
        request,
        "qc/catalogue/method_detail.html",
        {
            "method": method,
            "versions": versions,
            "current": next((v for v in versions if v.is_current), None),
            "pending": next((v for v in versions if v.status == VersionStatus.PENDING), None),
            "lab": sees_all_tenants(actor),
            "can_edit": _can_edit(actor),
            "can_approve": _is_qa(actor),
            "withdraw_form": WithdrawForm(),
        },
    )


@login_required
def method_new(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    _editor_or_404(actor)
    form = MethodForm(request.POST or None, new_method=True)
    if request.method == "POST" and form.is_valid():
        try:
            version = services.method_create(
                actor=actor,
                code=form.cleaned_data["code"],
                values=form.values(),
                reason=form.cleaned_data["reason"],
            )
        except DomainError as exc:
            form_error(form, exc)
        else:
            messages.success(
                request,
                _("Method %(code)s created; version 1 awaits QA's approval.")
                % {"code": version.method.code},
            )
            return redirect("qc:method", code=version.method.code)
    return render(
        request, "qc/catalogue/method_form.html", {"form": form, "method": None, "current": None}
    )


@login_required
def method_version_new(request: HttpRequest, code: str) -> HttpResponse:
    actor = actor_of(request)
    _editor_or_404(actor)
    method = _get(selectors.method_get, actor, code)
    current = MethodVersion.objects.filter(method=method, is_current=True).first()
    initial = MethodForm.initial_from(current) if current else {}
    form = MethodForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            version = services.method_version_propose(
                actor=actor, method=method, values=form.values(), reason=form.cleaned_data["reason"]
            )
        except DomainError as exc:
            form_error(form, exc)
        else:
            messages.success(
                request,
                _("Version %(v)d of %(code)s proposed; it takes effect once QA approves it.")
                % {"v": version.version, "code": method.code},
            )
            return redirect("qc:method", code=method.code)
    return render(
        request,
        "qc/catalogue/method_form.html",
        {"form": form, "method": method, "current": current},
    )


@login_required
@require_POST
def method_version_withdraw(request: HttpRequest, code: str, version: int) -> HttpResponse:
    actor = actor_of(request)
    _editor_or_404(actor)
    method = _get(selectors.method_get, actor, code)
    mv = MethodVersion.objects.filter(method=method, version=version).first()
    if mv is None:
        raise Http404
    form = WithdrawForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give the reason for withdrawing the version."))
    else:
        try:
            services.method_version_withdraw(
                actor=actor, version=mv, reason=form.cleaned_data["reason"]
            )
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("Version %(v)d withdrawn.") % {"v": mv.version})
    return redirect("qc:method", code=method.code)


# --- specifications -------------------------------------------------------------------------


@login_required
def specification_list(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    _lab_or_404(actor)
    qs = selectors.specifications(actor).order_by(
        "product_type", "client__name", "code", "-version"
    )
    product_type = request.GET.get("product_type", "").strip()
    client = request.GET.get("client", "").strip()
    if product_type:
        qs = qs.filter(product_type__iexact=product_type)
    if client == "none":
        qs = qs.filter(client__isnull=True)
    elif client.isdigit():
        qs = qs.filter(client_id=int(client))
    if request.GET.get("all") != "1":
        qs = qs.exclude(status__in=[VersionStatus.SUPERSEDED, VersionStatus.WITHDRAWN])
    specs = list(qs[:500])
    product_types = sorted(
        set(Specification.objects.values_list("product_type", flat=True)), key=str.casefold
    )
    clients = sorted(
        set(
            Specification.objects.filter(client__isnull=False).values_list(
                "client_id", "client__name"
            )
        ),
        key=lambda c: str(c[1]).casefold(),
    )
    return render(
        request,
        "qc/catalogue/specifications.html",
        {
            "specs": specs,
            "product_types": product_types,
            "clients": clients,
            "product_type": product_type,
            "client": client,
            "show_all": request.GET.get("all") == "1",
            "can_edit": _can_edit(actor),
        },
    )


@login_required
def specification_detail(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    _lab_or_404(actor)
    spec = _get(selectors.specification_get, actor, pk)
    versions = list(
        Specification.objects.filter(code=spec.code)
        .select_related("created_by")
        .order_by("-version")
    )
    return render(
        request,
        "qc/catalogue/specification_detail.html",
        {
            "spec": spec,
            "limits": list(spec.limits.select_related("method").order_by("method__code")),
            "versions": versions,
            "can_edit": _can_edit(actor),
            "can_approve": _is_qa(actor) and spec.status == VersionStatus.PENDING,
            "withdraw_form": WithdrawForm(),
        },
    )


def _limit_forms(data: Any, base: Specification | None) -> list[LimitForm]:
    existing = {}
    if base is not None:
        existing = {li.method.code: li for li in base.limits.select_related("method")}
    forms = []
    for version in selectors.methods_catalogue().order_by("method__code"):
        limit = existing.get(version.method.code)
        initial = LimitForm.initial_from(limit) if limit else {"unit": version.unit}
        forms.append(LimitForm(data, version=version, initial=initial))
    return forms


def _limit_error(form: SpecificationForm, limit_forms: list[LimitForm], exc: DomainError) -> None:
    """Put an error named ``limits.<method>.<field>`` on that row's field; others on the form."""
    parts = (exc.field or "").split(".")
    if parts[0] == "limits" and len(parts) >= 2:
        row = next((f for f in limit_forms if f.code == parts[1]), None)
        if row is not None:
            field = parts[2] if len(parts) > 2 and parts[2] in row.fields else "kind"
            row.add_error(field, exc.message)
            return
    form_error(form, exc)


def _specification_form(
    request: HttpRequest, actor: User, base: Specification | None
) -> HttpResponse:
    initial: dict[str, Any] = {}
    if base is not None:
        initial = {"title": base.title, "rounding_mode": base.rounding_mode}
    data = request.POST if request.method == "POST" else None
    form = SpecificationForm(data, initial=initial, new_spec=base is None)
    limit_forms = _limit_forms(data, base)
    if request.method == "POST" and form.is_valid() and all(f.is_valid() for f in limit_forms):
        d = form.cleaned_data
        limits = [spec for spec in (f.limit_spec() for f in limit_forms) if spec is not None]
        try:
            spec = services.specification_propose(
                actor=actor,
                code=base.code if base else d["code"],
                title=d["title"],
                product_type=base.product_type if base else d["product_type"],
                client=base.client if base else d["client"],
                rounding_mode=d["rounding_mode"],
                limits=limits,
                reason=d["reason"],
            )
        except DomainError as exc:
            _limit_error(form, limit_forms, exc)
        else:
            messages.success(
                request,
                _("%(spec)s proposed; it takes effect once QA approves it.") % {"spec": spec},
            )
            return redirect(spec.get_absolute_url())
    return render(
        request,
        "qc/catalogue/specification_form.html",
        {"form": form, "limit_forms": limit_forms, "base": base},
    )


@login_required
def specification_new(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    _editor_or_404(actor)
    return _specification_form(request, actor, None)


@login_required
def specification_version_new(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    _editor_or_404(actor)
    base = _get(selectors.specification_get, actor, pk)
    return _specification_form(request, actor, base)


@login_required
@require_POST
def specification_withdraw(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    _editor_or_404(actor)
    spec = _get(selectors.specification_get, actor, pk)
    form = WithdrawForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give the reason for withdrawing the version."))
    else:
        try:
            services.specification_withdraw(
                actor=actor, spec=spec, reason=form.cleaned_data["reason"]
            )
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("%(spec)s withdrawn.") % {"spec": spec})
    return redirect(spec.get_absolute_url())


# --- test panels ----------------------------------------------------------------------------


@login_required
def panel_list(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    return render(
        request,
        "qc/catalogue/panels.html",
        {
            "panels": list(selectors.panels_visible(actor)[:500]),
            "lab": sees_all_tenants(actor),
            "can_edit": _can_edit(actor),
        },
    )


@login_required
def panel_detail(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    panel = _get(selectors.panel_get, actor, pk)
    versions = {v.method_id: v for v in selectors.methods_catalogue()}
    return render(
        request,
        "qc/catalogue/panel_detail.html",
        {
            "panel": panel,
            "methods": [(m, versions.get(m.pk)) for m in panel.methods.all()],
            "lab": sees_all_tenants(actor),
            "can_edit": _can_edit(actor),
        },
    )


@login_required
def panel_new(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    _editor_or_404(actor)
    form = PanelForm(request.POST or None, new_panel=True)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            panel = services.panel_create(
                actor=actor,
                code=d["code"],
                name=d["name"],
                description=d["description"],
                method_codes=[m.code for m in d["methods"]],
                product_type=d["product_type"],
                client=d["client"],
                is_active=d["is_active"],
            )
        except DomainError as exc:
            form_error(form, exc)
        else:
            messages.success(request, _("Panel %(code)s created.") % {"code": panel.code})
            return redirect(panel.get_absolute_url())
    return render(request, "qc/catalogue/panel_form.html", {"form": form, "panel": None})


@login_required
def panel_edit(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    _editor_or_404(actor)
    panel = _get(selectors.panel_get, actor, pk)
    initial = {
        "name": panel.name,
        "description": panel.description,
        "methods": list(panel.methods.all()),
        "product_type": panel.product_type,
        "client": panel.client,
        "is_active": panel.is_active,
    }
    form = PanelForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            services.panel_update(
                actor=actor,
                panel=panel,
                name=d["name"],
                description=d["description"],
                method_codes=[m.code for m in d["methods"]],
                product_type=d["product_type"],
                client=d["client"],
                is_active=d["is_active"],
                reason=d["reason"],
            )
        except DomainError as exc:
            form_error(form, exc)
        else:
            messages.success(request, _("Panel %(code)s updated.") % {"code": panel.code})
            return redirect(panel.get_absolute_url())
    return render(request, "qc/catalogue/panel_form.html", {"form": form, "panel": panel})


# --- sample labels and storage --------------------------------------------------------------


@login_required
@own_site_only
def sample_labels_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    """The label sheet (PDF) of a request's samples that are not rejected (laboratory)."""
    actor = actor_of(request)
    _lab_or_404(actor)
    req = _get(selectors.request_get, actor, pk)
    samples = list(
        req.samples.select_related("request", "organisation")
        .exclude(status=SampleStatus.REJECTED)
        .order_by("pk")
    )
    if not samples:
        raise Http404
    try:
        services.sample_labels_print(actor=actor, request=req, samples=samples)
    except DomainError as exc:
        raise Http404 from exc
    response = HttpResponse(sample_labels.render_pdf(samples), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{req.number}-labels.pdf"'
    return response


@login_required
def sample_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """Where a sample is, its storage history, and (laboratory) storing and retrieving it."""
    actor = actor_of(request)
    sample = _get(selectors.sample_get, actor, pk)
    lab = sees_all_tenants(actor)
    store_form = StoreForm(request.POST if request.POST.get("action") == "store" else None)
    retrieve_form = RetrieveForm(
        request.POST if request.POST.get("action") == "retrieve" else None,
        initial={"purpose": RemovalPurpose.TESTING},
    )
    if request.method == "POST":
        if not lab:
            raise Http404
        action = request.POST.get("action")
        form: Any = store_form if action == "store" else retrieve_form
        if form.is_valid():
            d = form.cleaned_data
            try:
                if action == "store":
                    from celltrace.storage import selectors as storage_selectors

                    box = storage_selectors.box_by_code(actor, d["box"])
                    position = storage_selectors.position_in_box(box, d["position"])
                    services.sample_store(
                        actor=actor, sample=sample, position=position, reason=d["reason"]
                    )
                    messages.success(request, _("Sample %(s)s stored.") % {"s": sample.number})
                else:
                    services.sample_retrieve(
                        actor=actor, sample=sample, purpose=d["purpose"], reason=d["reason"]
                    )
                    messages.success(request, _("Sample %(s)s retrieved.") % {"s": sample.number})
            except DomainError as exc:
                form_error(form, exc)
            else:
                return redirect("qc:sample", pk=sample.pk)
    placements = list(selectors.sample_placements(sample)) if lab else []
    current = next((p for p in placements if p.removed_at is None), None)
    return render(
        request,
        "qc/catalogue/sample_detail.html",
        {
            "sample": sample,
            "lab": lab,
            "current": current,
            "placements": placements,
            "store_form": store_form,
            "retrieve_form": retrieve_form,
            "can_store": lab
            and current is None
            and sample.status == SampleStatus.ACCEPTED
            and not any(p.removal_purpose == RemovalPurpose.DISPOSAL for p in placements),
        },
    )


@login_required
def sample_scan(request: HttpRequest) -> HttpResponse:
    """Scan a sample label to open the sample's page (laboratory)."""
    actor = actor_of(request)
    _lab_or_404(actor)
    form = ScanForm(request.GET or None)
    if form.is_valid():
        try:
            sample = selectors.sample_by_scan(actor, form.cleaned_data["sample"])
        except DomainError as exc:
            form_error(form, exc)
        else:
            return redirect("qc:sample", pk=sample.pk)
    return render(request, "qc/catalogue/sample_scan.html", {"form": form})

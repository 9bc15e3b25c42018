"""Forms of the method catalogue, specification, test panel and sample storage pages.

They parse input; the services validate the content (each error names its field) and write.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from celltrace.core.choices import OrganisationKind
from celltrace.core.models import Organisation
from celltrace.qc.choices import LimitKind, RemovalPurpose, ResultType, RoundingMode
from celltrace.qc.models import Method, MethodVersion, SpecificationLimit
from celltrace.qc.services import LimitSpec


def _clients() -> Any:
    return Organisation.objects.filter(kind=OrganisationKind.CLIENT).order_by("name")


class MethodForm(forms.Form):
    """A method version's content; ``code`` only when a method is created."""

    code = forms.SlugField(
        label=_("Code"),
        max_length=40,
        help_text=_("Lower-case letters, digits and hyphens, e.g. endotoxin-gel-clot."),
    )
    name = forms.CharField(label=_("Name"), max_length=200)
    reference = forms.CharField(
        label=_("Reference"),
        max_length=300,
        help_text=_(
            "Pharmacopoeial chapter or in-house procedure, e.g. USP <85>; Ph. Eur. 2.6.14."
        ),
    )
    result_type = forms.ChoiceField(label=_("Result type"), choices=ResultType.choices)
    unit = forms.CharField(label=_("Unit"), max_length=40, required=False)
    reported_decimals = forms.IntegerField(
        label=_("Reported decimals"),
        required=False,
        min_value=0,
        max_value=6,
        help_text=_("Numeric methods: decimals a result is reported with; empty if not fixed."),
    )
    lod = forms.CharField(label=_("Limit of detection"), max_length=40, required=False)
    loq = forms.CharField(label=_("Limit of quantitation"), max_length=40, required=False)
    turnaround_days = forms.IntegerField(
        label=_("Turnaround (days)"), min_value=1, max_value=365, initial=1
    )
    qualitative_options = forms.CharField(
        label=_("Qualitative outcomes"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Qualitative methods: one outcome per line, e.g. No growth, then Growth."),
    )
    reason = forms.CharField(
        label=_("Reason"), max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args: Any, new_method: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not new_method:
            del self.fields["code"]

    @staticmethod
    def initial_from(version: MethodVersion) -> dict[str, Any]:
        return {
            "name": version.name,
            "reference": version.reference,
            "result_type": version.result_type,
            "unit": version.unit,
            "reported_decimals": version.reported_decimals,
            "lod": version.lod,
            "loq": version.loq,
            "turnaround_days": version.turnaround_days,
            "qualitative_options": "\n".join(version.qualitative_options or []),
        }

    def values(self) -> dict[str, Any]:
        d = self.cleaned_data
        return {
            "name": d["name"],
            "reference": d["reference"],
            "result_type": d["result_type"],
            "unit": d["unit"],
            "reported_decimals": d["reported_decimals"],
            "lod": d["lod"],
            "loq": d["loq"],
            "turnaround_days": d["turnaround_days"],
            "qualitative_options": [
                line.strip() for line in d["qualitative_options"].splitlines() if line.strip()
            ],
        }


class SpecificationForm(forms.Form):
    """The head of a specification version; code, product type and client only when new."""

    code = forms.SlugField(
        label=_("Code"), max_length=40, help_text=_("e.g. car-t-release or aurora-car-t-release")
    )
    title = forms.CharField(label=_("Title"), max_length=200)
    product_type = forms.CharField(label=_("Product type"), max_length=100)
    client = forms.ModelChoiceField(
        label=_("Client"),
        queryset=Organisation.objects.none(),
        required=False,
        empty_label=_("All clients"),
    )
    rounding_mode = forms.ChoiceField(
        label=_("Rounding for conformance"), choices=RoundingMode.choices
    )
    reason = forms.CharField(
        label=_("Reason"), max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args: Any, new_spec: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if new_spec:
            self.fields["client"].queryset = _clients()  # type: ignore[attr-defined]
        else:
            for name in ("code", "product_type", "client"):
                del self.fields[name]


class LimitForm(forms.Form):
    """The criterion of one method (one table row); an empty kind leaves the method out."""

    kind = forms.ChoiceField(
        label=_("Kind"), choices=[("", "—"), *LimitKind.choices], required=False
    )
    lower = forms.CharField(label=_("Low limit"), max_length=40, required=False)
    lower_inclusive = forms.BooleanField(label=_("included"), required=False, initial=True)
    upper = forms.CharField(label=_("High limit"), max_length=40, required=False)
    upper_inclusive = forms.BooleanField(label=_("included"), required=False, initial=True)
    expected_text = forms.CharField(label=_("Expected result"), max_length=100, required=False)
    alert_lower = forms.CharField(label=_("Low alert"), max_length=40, required=False)
    alert_upper = forms.CharField(label=_("High alert"), max_length=40, required=False)
    unit = forms.CharField(label=_("Unit"), max_length=40, required=False)

    def __init__(self, *args: Any, version: MethodVersion, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", f"limit-{version.method.code}")
        super().__init__(*args, **kwargs)
        self.version = version
        self.code = version.method.code

    @staticmethod
    def initial_from(limit: SpecificationLimit) -> dict[str, Any]:
        return {
            "kind": limit.kind,
            "lower": limit.lower,
            "lower_inclusive": limit.lower_inclusive,
            "upper": limit.upper,
            "upper_inclusive": limit.upper_inclusive,
            "expected_text": limit.expected_text,
            "alert_lower": limit.alert_lower,
            "alert_upper": limit.alert_upper,
            "unit": limit.unit,
        }

    def limit_spec(self) -> LimitSpec | None:
        d = self.cleaned_data
        if not d.get("kind"):
            return None
        return LimitSpec(
            method_code=self.code,
            kind=d["kind"],
            lower=d["lower"],
            upper=d["upper"],
            lower_inclusive=d["lower_inclusive"],
            upper_inclusive=d["upper_inclusive"],
            expected_text=d["expected_text"],
            alert_lower=d["alert_lower"],
            alert_upper=d["alert_upper"],
            unit=d["unit"],
        )


class PanelForm(forms.Form):
    code = forms.SlugField(label=_("Code"), max_length=40)
    name = forms.CharField(label=_("Name"), max_length=200)
    description = forms.CharField(
        label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    methods = forms.ModelMultipleChoiceField(
        label=_("Methods"),
        queryset=Method.objects.filter(versions__is_current=True).distinct().order_by("code"),
        to_field_name="code",
        widget=forms.CheckboxSelectMultiple,
    )
    product_type = forms.CharField(
        label=_("Product type"),
        max_length=100,
        required=False,
        help_text=_("Optional: the product type the panel is meant for."),
    )
    client = forms.ModelChoiceField(
        label=_("Client"),
        queryset=Organisation.objects.none(),
        required=False,
        empty_label=_("All clients"),
        help_text=_("A client's own panel is shown to that client and the laboratory only."),
    )
    is_active = forms.BooleanField(label=_("Active"), required=False, initial=True)
    reason = forms.CharField(
        label=_("Reason for the change"), max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args: Any, new_panel: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["client"].queryset = _clients()  # type: ignore[attr-defined]
        if new_panel:
            del self.fields["reason"]
        else:
            del self.fields["code"]


class StoreForm(forms.Form):
    box = forms.CharField(
        label=_("Box (scan its barcode)"),
        max_length=40,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    position = forms.CharField(label=_("Position"), max_length=4, help_text=_("e.g. A1"))
    reason = forms.CharField(label=_("Comment"), required=False, max_length=2000)


class RetrieveForm(forms.Form):
    purpose = forms.ChoiceField(
        label=_("Purpose"), choices=RemovalPurpose.choices, widget=forms.RadioSelect
    )
    reason = forms.CharField(
        label=_("Reason"),
        required=False,
        max_length=2000,
        help_text=_("Required for disposal."),
    )


class WithdrawForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason for withdrawing"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class ScanForm(forms.Form):
    sample = forms.CharField(
        label=_("Scan the sample label"),
        max_length=80,
        widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "off"}),
    )

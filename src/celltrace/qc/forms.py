"""Forms of the QC laboratory pages. They parse input; services decide and write."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from celltrace.core.models import Organisation
from celltrace.qc.choices import Language, Priority
from celltrace.qc.models import Method, TestPanel
from celltrace.qc.services import SampleSpec


class RequestForm(forms.Form):
    organisation = forms.ModelChoiceField(
        label=_("Client"), queryset=Organisation.objects.none(), required=False
    )
    product = forms.CharField(label=_("Product"), max_length=200)
    product_type = forms.CharField(label=_("Product type"), max_length=100, initial="CAR-T cells")
    batch = forms.CharField(label=_("Batch or lot"), max_length=100)
    priority = forms.ChoiceField(label=_("Priority"), choices=Priority.choices)
    samples = forms.CharField(
        label=_("Samples"),
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("One sample per line: your sample id, then optionally ';' and the container."),
    )
    panels = forms.ModelMultipleChoiceField(
        label=_("Test panels"),
        queryset=TestPanel.objects.none(),
        to_field_name="code",
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text=_("Each panel adds its methods; a method chosen twice is tested once."),
    )
    methods = forms.ModelMultipleChoiceField(
        label=_("Tests"),
        queryset=Method.objects.filter(versions__is_current=True).distinct().order_by("code"),
        to_field_name="code",
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )
    notes = forms.CharField(
        label=_("Notes"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(
        self, *args: Any, lab: bool = False, organisation_id: int | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        panels = TestPanel.objects.filter(is_active=True).order_by("code")
        if not lab:
            panels = panels.filter(Q(client__isnull=True) | Q(client_id=organisation_id))
        self.fields["panels"].queryset = panels  # type: ignore[attr-defined]
        if lab:
            self.fields["organisation"].queryset = Organisation.objects.filter(kind="client")  # type: ignore[attr-defined]
            self.fields["organisation"].required = True
        else:
            del self.fields["organisation"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("methods") and not data.get("panels") and "methods" not in self.errors:
            self.add_error("methods", _("Choose at least one test or test panel."))
        return data

    def sample_specs(self) -> list[SampleSpec]:
        specs = []
        for line in self.cleaned_data["samples"].splitlines():
            if not line.strip():
                continue
            sample_id, _sep, container = line.partition(";")
            specs.append(SampleSpec(sample_id.strip(), container.strip()))
        return specs


class ReceiptForm(forms.Form):
    scanned_id = forms.CharField(
        label=_("Scan the sample label"),
        max_length=80,
        widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "off"}),
    )
    temperature_c = forms.DecimalField(
        label=_("Temperature on arrival (°C)"), max_digits=6, decimal_places=1, required=False
    )
    container_intact = forms.BooleanField(label=_("Container intact"), required=False, initial=True)
    label_matches = forms.BooleanField(
        label=_("Label matches the request"), required=False, initial=True
    )
    decision = forms.ChoiceField(
        label=_("Decision"),
        choices=[("accept", _("Accept")), ("reject", _("Reject"))],
        widget=forms.RadioSelect,
        initial="accept",
    )
    rejection_reason = forms.CharField(
        label=_("Reason (rejection or accepted deviation)"), required=False, max_length=2000
    )


class ResultForm(forms.Form):
    value = forms.CharField(
        label=_("Result"),
        max_length=100,
        help_text=_("As reported, e.g. 69.5, < 0.05 or No growth."),
    )
    comment = forms.CharField(label=_("Comment"), required=False, max_length=2000)


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"), max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )


class Phase1Form(forms.Form):
    assignable_cause = forms.TypedChoiceField(
        label=_("Assignable laboratory cause"),
        choices=[
            ("yes", _("Yes: invalidate the result and retest")),
            ("no", _("No: go to phase II")),
        ],
        coerce=lambda v: v == "yes",
        widget=forms.RadioSelect,
    )
    summary = forms.CharField(
        label=_("Findings"), max_length=4000, widget=forms.Textarea(attrs={"rows": 3})
    )


class CloseForm(forms.Form):
    summary = forms.CharField(
        label=_("Findings of phase II"), max_length=4000, widget=forms.Textarea(attrs={"rows": 3})
    )
    capa_reference = forms.CharField(label=_("CAPA reference"), max_length=80)
    conclusion = forms.CharField(
        label=_("Conclusion"), max_length=4000, widget=forms.Textarea(attrs={"rows": 2})
    )
    invalidate_result = forms.BooleanField(
        label=_("Laboratory cause found: invalidate the result"), required=False
    )


class CertificateForm(forms.Form):
    language = forms.ChoiceField(label=_("Language"), choices=Language.choices)


class AmendForm(forms.Form):
    reason = forms.CharField(label=_("Reason for the amendment"), max_length=2000)
    language = forms.ChoiceField(label=_("Language"), choices=Language.choices)


class VerifyForm(forms.Form):
    file = forms.FileField(label=_("Certificate PDF"))

"""Forms of the QC laboratory pages. They parse input; services decide and write."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.db.models import Q
from django import forms
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
    panels = forms.ModelMultipleChoiceField(
        label=_("Test panels"),
        queryset=TestPanel.objects.none(),
        to_field_name="code",
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text=_("Each panel adds its methods; a method chosen twice is tested once."),
    )
    )
    methods = forms.ModelMultipleChoiceField(
        label=_("Tests"),
        queryset=Method.objects.filter(versions__is_current=True).distinct().order_by("code"),
        to_field_name="code",
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    notes = forms.CharField(
        label=_("Notes"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(
        self, *args: Any, lab: bool = False, organisation_id: int | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        if lab:
            self.fields["organisation"].queryset = Organisation.objects.filter(kind="client")  # type: ignore[attr-defined]
            self.fields["organisation"].required = True
        else:
            del self.fields["organisation"]

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


def _numbers(text: str, label: str, *, integers: bool = False) -> list[Any]:
    """Numbers separated by spaces, commas or semicolons ('.' is the decimal separator)."""
    parts = [p for p in text.replace(",", " ").replace(";", " ").split() if p]
    if not parts:
        raise forms.ValidationError(_("%(field)s: enter at least one number.") % {"field": label})
    values: list[Any] = []
    for i, part in enumerate(parts, start=1):
        try:
            number = Decimal(part)
        except InvalidOperation:
            number = Decimal("NaN")
        if not number.is_finite() or number < 0:
            raise forms.ValidationError(
                _("%(field)s: value %(n)s (%(v)s) must be a number of 0 or more.")
                % {"field": label, "n": i, "v": part}
            )
        if integers:
            if number != number.to_integral_value():
                raise forms.ValidationError(
                    _("%(field)s: value %(n)s (%(v)s) must be a whole number of cells.")
                    % {"field": label, "n": i, "v": part}
                )
            values.append(int(number))
        else:
            values.append(number)
    return values


LIST_HELP = _("Separate the values with spaces or commas; use '.' for decimals.")


class HemocytometerForm(forms.Form):
    """Manual Neubauer count with an exclusion dye: one entry per large square counted."""

    viable_counts = forms.CharField(
        label=_("Live cells per large square"), max_length=2000, help_text=LIST_HELP
    )
    nonviable_counts = forms.CharField(
        label=_("Dead cells per large square"),
        max_length=2000,
        help_text=_("Same squares, same order as the live counts."),
    )
    dilution_factor = forms.DecimalField(
        label=_("Dilution factor"),
        min_value=1,
        max_digits=12,
        decimal_places=4,
        initial=2,
        help_text=_("Total dilution of the counted suspension: 2 for a 1:1 trypan-blue mix."),
    )
    comment = forms.CharField(label=_("Comment"), required=False, max_length=2000)

    def clean_viable_counts(self) -> list[int]:
        return _numbers(
            self.cleaned_data["viable_counts"], str(_("Live cells per large square")), integers=True
        )

    def clean_nonviable_counts(self) -> list[int]:
        return _numbers(
            self.cleaned_data["nonviable_counts"],
            str(_("Dead cells per large square")),
            integers=True,
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        live, dead = data.get("viable_counts"), data.get("nonviable_counts")
        if live is not None and dead is not None and len(live) != len(dead):
            self.add_error(
                "nonviable_counts",
                _("%(d)s dead counts for %(l)s live counts: enter one of each per square.")
                % {"d": len(dead), "l": len(live)},
            )
        return data


class EndotoxinKineticForm(forms.Form):
    """Kinetic chromogenic or turbidimetric LAL run: the standards, then the sample."""

    concentrations = forms.CharField(
        label=_("Standard concentrations (EU/mL), one per well"),
        max_length=4000,
        help_text=LIST_HELP,
    )
    onset_times = forms.CharField(
        label=_("Standard onset times (s), one per well"),
        max_length=4000,
        help_text=_("Same wells, same order as the concentrations."),
    )
    sample_onset_time = forms.DecimalField(
        label=_("Sample onset time (s)"), min_value=0, max_digits=12, decimal_places=3
    )
    dilution = forms.DecimalField(
        label=_("Sample dilution"), min_value=1, max_digits=12, decimal_places=4, initial=1
    )
    comment = forms.CharField(label=_("Comment"), required=False, max_length=2000)

    def clean_concentrations(self) -> list[Any]:
        return _numbers(
            self.cleaned_data["concentrations"], str(_("Standard concentrations (EU/mL)"))
        )

    def clean_onset_times(self) -> list[Any]:
        return _numbers(self.cleaned_data["onset_times"], str(_("Standard onset times (s)")))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        conc, times = data.get("concentrations"), data.get("onset_times")
        if conc is not None and times is not None and len(conc) != len(times):
            self.add_error(
                "onset_times",
                _("%(t)s onset times for %(c)s concentrations: enter one of each per well.")
                % {"t": len(times), "c": len(conc)},
            )
        return data


#: ``Method.code`` -> the form of its calculator's inputs (see ``celltrace.qc.calculators``).
COMPUTE_FORMS: dict[str, type[forms.Form]] = {
    "viability": HemocytometerForm,
    "cell-count": HemocytometerForm,
    "endotoxin": EndotoxinKineticForm,
}

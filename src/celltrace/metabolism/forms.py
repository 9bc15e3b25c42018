"""Forms of the metabolism pages."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from celltrace.bank.models import Donor
from celltrace.core.models import Organisation
from celltrace.metabolism.choices import AssayType, TimePoint


class DateInput(forms.DateInput):
    input_type = "date"


class DonorChoiceField(forms.ModelChoiceField):  # type: ignore[type-arg]
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.reference} · {obj.organisation.name}"


class RunUploadForm(forms.Form):
    file = forms.FileField(label=_("Seahorse Wave export (.xlsx)"))
    assay = forms.ChoiceField(label=_("Assay"), choices=AssayType.choices)
    donor = DonorChoiceField(
        label=_("Donor"),
        queryset=Donor.objects.none(),
        required=False,
        help_text=_("The depositor whose cells were measured (by pseudonymous reference)."),
    )
    organisation = forms.ModelChoiceField(
        label=_("Organisation"),
        queryset=Organisation.objects.none(),
        required=False,
        help_text=_("Only for a run without a donor: who owns it."),
    )
    aliquot_barcode = forms.CharField(label=_("Aliquot barcode"), max_length=40, required=False)
    timepoint = forms.ChoiceField(label=_("Time point"), choices=TimePoint.choices)
    timepoint_label = forms.CharField(
        label=_("Time point label"),
        max_length=100,
        required=False,
        help_text=_("For example: second draw, or the name of the intervention."),
    )
    sampled_on = forms.DateField(label=_("Date of the time point"), widget=DateInput)
    normalisation = forms.FileField(
        label=_("Normalisation CSV (cell counts or protein per well)"), required=False
    )
    normalisation_unit = forms.CharField(
        label=_("Normalisation unit"), max_length=40, initial="cells", required=False
    )
    normalisation_scale = forms.DecimalField(
        label=_("Normalisation scale factor"), initial=1, min_value=0, required=False
    )
    ccf = forms.DecimalField(
        label=_("CO2 contribution factor (CCF)"),
        required=False,
        max_digits=6,
        decimal_places=4,
        help_text=_("From the instrument's configuration record; empty uses the default."),
    )
    po_ratio = forms.DecimalField(
        label=_("P/O ratio"), required=False, max_digits=6, decimal_places=4
    )
    reason = forms.CharField(label=_("Comment"), max_length=2000, required=False)

    def __init__(self, *args: Any, donors: Any, organisations: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        donor_field = self.fields["donor"]
        org_field = self.fields["organisation"]
        assert isinstance(donor_field, forms.ModelChoiceField)
        assert isinstance(org_field, forms.ModelChoiceField)
        donor_field.queryset = donors
        org_field.queryset = organisations
        self.fields["sampled_on"].initial = dt.datetime.now(dt.UTC).date()


class WellReasonForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=2000)

"""Forms of the storage pages. They parse input; services decide and write."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from celltrace.storage.choices import BoxKind, FillOrder, UnitKind
from celltrace.storage.models import MAX_COLUMNS, MAX_ROWS, BoxType, Rack, Site, StorageUnit


def _temperature(label: Any) -> forms.DecimalField:
    return forms.DecimalField(label=label, max_digits=6, decimal_places=1)


class SiteForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    code = forms.SlugField(label=_("Code"), max_length=40)
    timezone = forms.CharField(
        label=_("Time zone"),
        max_length=64,
        initial="Asia/Shanghai",
        help_text=_("IANA name, e.g. Asia/Shanghai or Europe/Berlin."),
    )


class UnitForm(forms.Form):
    site = forms.ModelChoiceField(label=_("Site"), queryset=Site.objects.all())
    name = forms.CharField(label=_("Name"), max_length=200)
    code = forms.SlugField(label=_("Code"), max_length=40)
    kind = forms.ChoiceField(label=_("Kind"), choices=UnitKind.choices)
    set_point_c = _temperature(_("Set point (°C)"))
    alarm_low_c = _temperature(_("Low alarm (°C)"))
    alarm_high_c = _temperature(_("High alarm (°C)"))
    fill_order = forms.ChoiceField(label=_("Fill order"), choices=FillOrder.choices)


class RackForm(forms.Form):
    name = forms.CharField(label=_("Rack or canister name"), max_length=100)


class BoxTypeForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100, help_text=_("e.g. 9x9 cryobox"))
    kind = forms.ChoiceField(label=_("Kind"), choices=BoxKind.choices)
    rows = forms.IntegerField(label=_("Rows (A…)"), min_value=1, max_value=MAX_ROWS)
    columns = forms.IntegerField(label=_("Columns"), min_value=1, max_value=MAX_COLUMNS)


class BoxForm(forms.Form):
    name = forms.CharField(label=_("Box name"), max_length=100)
    box_type = forms.ModelChoiceField(label=_("Box type"), queryset=BoxType.objects.all())
    barcode = forms.CharField(
        label=_("Barcode (scan, or leave empty to generate)"), max_length=40, required=False
    )


class RackMoveForm(forms.Form):
    unit = forms.ModelChoiceField(label=_("Move to unit"), queryset=StorageUnit.objects.none())
    reason = forms.CharField(label=_("Reason"), max_length=1000)

    def __init__(self, *args: Any, exclude: int | None = None, **kw: Any) -> None:
        super().__init__(*args, **kw)
        units = StorageUnit.objects.filter(is_active=True)
        if exclude is not None:
            units = units.exclude(pk=exclude)
        self.fields["unit"].queryset = units  # type: ignore[attr-defined]


class BoxMoveForm(forms.Form):
    rack = forms.ModelChoiceField(label=_("Move to rack"), queryset=Rack.objects.none())
    reason = forms.CharField(label=_("Reason"), max_length=1000)

    def __init__(self, *args: Any, exclude: int | None = None, **kw: Any) -> None:
        super().__init__(*args, **kw)
        racks = Rack.objects.select_related("unit").order_by("unit__name", "name")
        if exclude is not None:
            racks = racks.exclude(pk=exclude)
        self.fields["rack"].queryset = racks  # type: ignore[attr-defined]
        self.fields["rack"].label_from_instance = lambda r: f"{r.unit.name} / {r.name}"  # type: ignore[attr-defined]


__all__ = [
    "BoxForm",
    "BoxMoveForm",
    "BoxTypeForm",
    "RackForm",
    "RackMoveForm",
    "SiteForm",
    "UnitForm",
]

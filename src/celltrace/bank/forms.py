"""Forms of the bank pages. They parse input; services decide and write."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from celltrace.bank.choices import AliquotStatus, ProductType, Use
from celltrace.bank.selectors import AliquotFilter

LAYOUTS = [
    ("a4_vial", _("A4, cryovial labels 4 × 10")),
    ("letter_vial", _("US Letter, cryovial labels 3 × 10")),
    ("a4_bag", _("A4, bag labels 2 × 2")),
    ("letter_bag", _("US Letter, bag labels 2 × 2")),
]


class AliquotSearchForm(forms.Form):
    """The search box (scanner input) and filters; the same fields as the API list."""

    q = forms.CharField(
        label=_("Scan or type a DIN or barcode"),
        required=False,
        max_length=200,
        widget=forms.TextInput(
            attrs={"autofocus": True, "autocomplete": "off", "class": "scan", "spellcheck": "false"}
        ),
    )
    donor = forms.CharField(label=_("Donor reference"), required=False, max_length=40)
    product_type = forms.ChoiceField(
        label=_("Product"), required=False, choices=[("", _("any")), *ProductType.choices]
    )
    status = forms.ChoiceField(
        label=_("Status"), required=False, choices=[("", _("any")), *AliquotStatus.choices]
    )
    unit = forms.IntegerField(label=_("Storage unit"), required=False, widget=forms.Select)
    box = forms.CharField(label=_("Box barcode"), required=False, max_length=40)

    def __init__(self, *args: object, units: list[tuple[int, str]] | None = None, **kw: object):
        super().__init__(*args, **kw)  # type: ignore[arg-type]
        if units is None:
            del self.fields["unit"]
            del self.fields["box"]
        else:
            self.fields["unit"].widget.choices = [("", _("any")), *units]

    def to_filter(self, box_id: int | None = None) -> AliquotFilter:
        d = self.cleaned_data
        return AliquotFilter(
            q=d.get("q") or "",
            donor=d.get("donor") or "",
            product_type=d.get("product_type") or "",
            status=d.get("status") or "",
            unit=d.get("unit"),
            box=box_id,
        )


class MoveForm(forms.Form):
    box = forms.CharField(
        label=_("Box barcode"), max_length=40, widget=forms.TextInput(attrs={"autocomplete": "off"})
    )
    position = forms.CharField(
        label=_("Position"), max_length=4, widget=forms.TextInput(attrs={"autocomplete": "off"})
    )
    reason = forms.CharField(label=_("Reason"), max_length=1000)


class StatusForm(forms.Form):
    status = forms.ChoiceField(label=_("New status"), choices=AliquotStatus.choices)
    use = forms.ChoiceField(
        label=_("Issued for"), required=False, choices=[("", "—"), *Use.choices]
    )
    reason = forms.CharField(label=_("Reason"), max_length=1000)


class RevealForm(forms.Form):
    reason = forms.CharField(
        label=_("Why do you need the personal data?"),
        max_length=1000,
        help_text=_("The reason is recorded on the ledger with your name."),
    )

"""Forms of the bank pages. They parse input; services decide and write."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from decimal import Decimal
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from celltrace.bank import isbt128, sprec
from celltrace.bank.choices import (
    ALLOWED_TRANSITIONS,
    AliquotStatus,
    CollectionType,
    ContainerType,
    ProductType,
    ShippingCondition,
    Use,
)
from celltrace.bank.selectors import AliquotFilter
from celltrace.core.choices import OrganisationKind
from celltrace.core.models import Organisation

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


class DivideForm(forms.Form):
    count = forms.IntegerField(label=_("Number of child aliquots"), min_value=1, max_value=20)
    volume_ul = forms.DecimalField(
        label=_("Volume of each (µL)"), min_value=Decimal("0.1"), max_digits=10, decimal_places=1
    )
    container_type = forms.ChoiceField(
        label=_("Container"),
        required=False,
        choices=[("", _("as the parent")), *ContainerType.choices],
    )
    cell_count = forms.IntegerField(
        label=_("Cells in each (optional)"), min_value=0, required=False
    )


class StatusForm(forms.Form):
    status = forms.ChoiceField(label=_("New status"), choices=AliquotStatus.choices)
    use = forms.ChoiceField(
        label=_("Issued for"), required=False, choices=[("", "—"), *Use.choices]
    )
    reason = forms.CharField(label=_("Reason"), max_length=1000)

    def __init__(
        self, *args: Any, current: str, offered: Collection[str] | None = None, **kwargs: Any
    ) -> None:
        """Offers only the statuses ``current`` may change to (none selected beforehand) and,
        when ``offered`` is given, only those of them (the ones the user's roles allow)."""
        super().__init__(*args, **kwargs)
        allowed = ALLOWED_TRANSITIONS.get(current, frozenset())
        if offered is not None:
            allowed = allowed & frozenset(offered)
        field = self.fields["status"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [("", "—")] + [
            (value, label) for value, label in AliquotStatus.choices if value in allowed
        ]


class RevealForm(forms.Form):
    reason = forms.CharField(
        label=_("Why do you need the personal data?"),
        max_length=1000,
        help_text=_("The reason is recorded on the ledger with your name."),
    )


# --- registration, processing and distribution forms ---------------------------------------

UTC_HELP = _("In UTC (coordinated universal time).")


class DateTimeUTCField(forms.DateTimeField):
    """A ``datetime-local`` input read as UTC (the label says so)."""

    widget = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")

    def to_python(self, value: Any) -> dt.datetime | None:
        result = super().to_python(value)
        if result is not None:
            result = result.replace(tzinfo=dt.UTC) if timezone.is_naive(result) else result
        return result


class DonorForm(forms.Form):
    organisation = forms.ModelChoiceField(
        label=_("Depositing organisation"), queryset=Organisation.objects.none()
    )
    reference = forms.CharField(
        label=_("Pseudonymous reference"),
        max_length=40,
        help_text=_("The code used on labels and screens, never the donor's name."),
    )
    name = forms.CharField(label=_("Name"), max_length=200, required=False)
    national_id = forms.CharField(label=_("National ID number"), max_length=40, required=False)
    phone = forms.CharField(label=_("Phone"), max_length=40, required=False)
    date_of_birth = forms.DateField(
        label=_("Date of birth"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.fields["organisation"].queryset = Organisation.objects.filter(  # type: ignore[attr-defined]
            is_active=True
        ).order_by("kind", "name")
        for name in ("name", "national_id", "phone", "date_of_birth"):
            self.fields[name].help_text = _("Stored encrypted; shown masked.")


class ConsentForm(forms.Form):
    version = forms.CharField(label=_("Consent form version"), max_length=20)
    signed_on = forms.DateField(
        label=_("Signed on"), widget=forms.DateInput(attrs={"type": "date"})
    )
    storage = forms.BooleanField(label=_("Storage"), required=False, initial=True)
    clinical = forms.BooleanField(label=_("Clinical use"), required=False)
    research = forms.BooleanField(label=_("Research use"), required=False)


class WithdrawForm(forms.Form):
    consent = forms.IntegerField(widget=forms.HiddenInput)
    reason = forms.CharField(label=_("Reason for the withdrawal"), max_length=1000)


def _sprec_choices(table: dict[str, tuple[str, str]]) -> list[tuple[str, str]]:
    """Choices for one SPREC element, described in the active language.

    Called from :class:`CollectionForm`'s ``__init__``, so per form (per request), never at import.
    """
    return [("", "—")] + [
        (code, f"{code} · {sprec.description(table, code)}")
        for code in sprec.allowed_values(table, "3.0")
    ]


class CollectionForm(forms.Form):
    collection_type = forms.ChoiceField(label=_("Collection type"), choices=CollectionType.choices)
    collected_at = DateTimeUTCField(label=_("Collected (UTC)"), help_text=UTC_HELP)
    volume_ml = forms.DecimalField(
        label=_("Volume (mL)"), min_value=Decimal(0), max_digits=10, decimal_places=2
    )
    collection_site = forms.CharField(label=_("Collection site"), max_length=200, required=False)
    din = forms.CharField(
        label=_("DIN (scan a legacy label, or leave empty to allocate one)"),
        max_length=200,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off", "class": "scan"}),
    )

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        for attr, human, table, _length in sprec.ELEMENTS:
            self.fields[f"sprec_{attr}"] = forms.ChoiceField(
                label=_("SPREC: %(element)s") % {"element": human},
                choices=_sprec_choices(table),
                required=False,
            )

    def clean_din(self) -> str:
        """A scanned DS001 (``=A9999…``), a 13-character DIN, or 14 with its check character."""
        raw = str(self.cleaned_data.get("din") or "").strip()
        if raw.startswith(("=", "]")):  # a scanned ISBT 128 data structure (DS001, DS023)
            try:
                scanned = isbt128.parse_scan(raw)
            except ValueError as exc:
                from celltrace.bank.selectors import unreadable_label

                raise forms.ValidationError(unreadable_label(raw, exc)) from exc
            parts = (
                scanned.structures if isinstance(scanned, isbt128.CompoundMessage) else [scanned]
            )
            dins = [p.value for p in parts if isinstance(p, isbt128.Din)]
            if not dins:
                raise forms.ValidationError(_("This barcode carries no DIN; scan the DIN label."))
            return dins[0]
        text = raw.replace(" ", "").upper()
        if len(text) == 14:
            din, given = text[:13], text[13]
            try:
                expected = isbt128.check_character(din)
            except ValueError as exc:
                raise forms.ValidationError(str(exc)) from exc
            if expected != given:
                raise forms.ValidationError(
                    _("The check character of %(din)s is %(expected)s, not %(given)s: re-scan.")
                    % {"din": din, "expected": expected, "given": given}
                )
            text = din
        return text

    def sprec_elements(self) -> dict[str, str] | None:
        """The SPREC elements chosen, None when none; all or none must be chosen."""
        values = {attr: self.cleaned_data.get(f"sprec_{attr}") or "" for attr, *_ in sprec.ELEMENTS}
        if not any(values.values()):
            return None
        return values

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        values = {attr: data.get(f"sprec_{attr}") or "" for attr, *_ in sprec.ELEMENTS}
        if any(values.values()):
            missing = [human for attr, human, *_ in sprec.ELEMENTS if not values[attr]]
            if missing:
                raise forms.ValidationError(
                    _("SPREC: choose every element or none (missing: %(names)s).")
                    % {"names": ", ".join(missing)}
                )
        return data


class ProcessForm(forms.Form):
    product_type = forms.ChoiceField(label=_("Product"), choices=ProductType.choices)
    pdc = forms.CharField(
        label=_("Product description code (ISBT 128)"),
        max_length=5,
        min_length=5,
        help_text=_("5 characters, e.g. S9001."),
    )
    isbt_collection_type = forms.CharField(
        label=_("ISBT 128 collection type"),
        max_length=1,
        initial="1",
        help_text=_("One character of the product code, e.g. 1 (autologous) or R (research)."),
    )
    processed_at = DateTimeUTCField(label=_("Processed (UTC)"), help_text=UTC_HELP)
    count = forms.IntegerField(label=_("Number of aliquots"), min_value=1, max_value=26)
    container_type = forms.ChoiceField(label=_("Container"), choices=ContainerType.choices)
    volume_ul = forms.DecimalField(
        label=_("Volume per aliquot (µL)"), min_value=Decimal(0), max_digits=10, decimal_places=1
    )
    cell_count = forms.IntegerField(label=_("Cells per aliquot"), min_value=0, required=False)
    viability_pct = forms.DecimalField(
        label=_("Viability (%)"),
        min_value=Decimal(0),
        max_value=Decimal(100),
        max_digits=5,
        decimal_places=2,
        required=False,
    )
    expiry = DateTimeUTCField(label=_("Expiry (UTC)"), required=False, help_text=UTC_HELP)
    place = forms.BooleanField(label=_("Place them into storage now"), required=False)
    unit = forms.TypedChoiceField(
        label=_("Storage unit"), coerce=int, required=False, empty_value=None
    )
    reason = forms.CharField(label=_("Comment"), max_length=1000, required=False)

    def __init__(self, *args: Any, units: list[tuple[int, str]] | None = None, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.fields["unit"].choices = [("", _("any unit with room")), *(units or [])]  # type: ignore[attr-defined]


class DeskForm(forms.Form):
    """The storage desk, one scan at a time: each scan ends with Enter and submits the form.

    Scan the aliquot then the box, or the box first and then one aliquot after another (the box
    is kept, each aliquot takes the next free position). The view puts the cursor in the field
    that is still missing (:meth:`focus`).
    """

    ACTIONS = [
        ("place", _("Place")),
        ("move", _("Move")),
        ("retrieve", _("Retrieve")),
        ("return", _("Return")),
    ]
    #: Actions that need a box to put the aliquot into.
    INTO_BOX = frozenset({"place", "move", "return"})
    action = forms.ChoiceField(label=_("Action"), choices=ACTIONS)
    code = forms.CharField(
        label=_("Aliquot (scan)"),
        max_length=200,
        required=False,
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "class": "scan", "spellcheck": "false"}
        ),
    )
    box = forms.CharField(
        label=_("Box barcode (scan)"),
        max_length=40,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off", "class": "scan"}),
    )
    position = forms.CharField(
        label=_("Position"),
        max_length=4,
        required=False,
        help_text=_("Empty: the first free position of the box in its fill order."),
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    reason = forms.CharField(
        label=_("Reason"),
        max_length=1000,
        required=False,
        help_text=_("Required to move or retrieve; kept for the next scans."),
    )

    def __init__(self, *args: Any, focus: str = "code", **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.focus(focus)

    def focus(self, name: str) -> None:
        for field_name, f in self.fields.items():
            f.widget.attrs.pop("autofocus", None)
            if field_name == name:
                f.widget.attrs["autofocus"] = True


class DistributionForm(forms.Form):
    recipient_organisation = forms.ModelChoiceField(
        label=_("Recipient organisation"),
        queryset=Organisation.objects.none(),
        required=False,
        help_text=_("The depositing client itself, or empty for a named clinical site."),
    )
    recipient_name = forms.CharField(label=_("Recipient (clinical site or person)"), max_length=200)
    recipient_address = forms.CharField(
        label=_("Delivery address"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    intended_use = forms.ChoiceField(label=_("Intended use"), choices=Use.choices)
    shipping_conditions = forms.ChoiceField(
        label=_("Shipping conditions"), choices=ShippingCondition.choices
    )
    shipping_notes = forms.CharField(
        label=_("Shipping notes"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    aliquots = forms.CharField(
        label=_("Aliquots (scan one per line)"),
        widget=forms.Textarea(attrs={"rows": 6, "class": "scan", "spellcheck": "false"}),
        help_text=_("Scan each label; every scan must identify exactly one aliquot."),
    )

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.fields["recipient_organisation"].queryset = Organisation.objects.filter(  # type: ignore[attr-defined]
            is_active=True, kind=OrganisationKind.CLIENT
        )

    def codes(self) -> list[str]:
        return [line.strip() for line in self.cleaned_data["aliquots"].splitlines() if line.strip()]


class CancelForm(forms.Form):
    reason = forms.CharField(label=_("Reason for cancelling"), max_length=1000)

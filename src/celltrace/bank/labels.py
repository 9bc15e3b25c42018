"""Label sheets for aliquots (ISBT 128 identity as Code 128 + DataMatrix), via celltrace.labels."""

from __future__ import annotations

from collections.abc import Iterable

from celltrace.bank.models import Aliquot
from celltrace.labels.label import LabelData, LabelKind
from celltrace.labels.sheets import A4_BAG, A4_VIAL, LETTER_BAG, LETTER_VIAL, SheetLayout
from celltrace.labels.sheets import render_label_sheet as _render

LAYOUTS: dict[str, SheetLayout] = {
    "a4_vial": A4_VIAL,
    "letter_vial": LETTER_VIAL,
    "a4_bag": A4_BAG,
    "letter_bag": LETTER_BAG,
}


def label_data(aliquot: Aliquot, kind: LabelKind) -> LabelData:
    product = aliquot.product
    volume = f"{aliquot.volume_ul} µL" if kind is LabelKind.BAG else ""
    return LabelData(
        din=aliquot.din_obj,
        product_code=aliquot.product_code,
        product_name=str(product.get_product_type_display()),
        expiry=aliquot.expiry,
        kind=kind,
        volume=volume,
        storage_temperature="≤ -150 °C" if kind is LabelKind.BAG else "",
    )


def render_sheet(aliquots: Iterable[Aliquot], layout_name: str) -> bytes:
    layout = LAYOUTS[layout_name]
    kind = LabelKind.BAG if layout_name.endswith("bag") else LabelKind.VIAL
    return _render([label_data(a, kind) for a in aliquots], layout, title="celltrace labels")

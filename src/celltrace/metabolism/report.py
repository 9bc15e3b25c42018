"""The depositor energy profile: page context and the bilingual PDF report (WeasyPrint).

The report states what was measured, when, on which instrument and file, and the group means
with their spread. It makes no statement about health, ageing or the effect of an
intervention: differences between time points are shown, not interpreted.
"""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import translation

from celltrace.core.pdf import html_to_pdf
from celltrace.metabolism import charts, labels
from celltrace.metabolism.choices import AssayType
from celltrace.metabolism.models import MetabolismRun
from celltrace.metabolism.selectors import Profile

LANGUAGES = ("en", "zh-hans")


def fmt_value(value: Any) -> str:
    """A result with two decimals ("—" when absent); one rounding to zero has no sign."""
    return "—" if value is None else f"{float(value):.2f}".replace("-0.00", "0.00")


def _cell(run: MetabolismRun, group: str, key: str) -> str:
    row = next((r for r in run.group_results if r["group"] == group), None)
    if row is None or row.get(key) is None:
        return "—"
    sd = row["sd"].get(key)
    text = fmt_value(row[key])
    if sd is not None:
        text += f" ± {fmt_value(sd)}"
    return f"{text} (n={row['n']})"


def parameter_formula(runs: list[MetabolismRun], key: str) -> str:
    """The formula of parameter ``key`` in the active language: one text when every run that
    has the parameter computed it alike, else each run's formula after its date."""
    found: list[tuple[MetabolismRun, dict[str, Any]]] = [
        (r, p) for r in runs for p in r.parameters if p["key"] == key
    ]
    if len({p["formula"] for _, p in found}) <= 1:
        return labels.formula_text(found[0][1]) if found else ""
    return "; ".join(f"{r.sampled_on.isoformat()}: {labels.formula_text(p)}" for r, p in found)


def run_warnings(runs: list[MetabolismRun]) -> list[dict[str, Any]]:
    """The runs that have warnings, each with its warnings in the active language."""
    return [
        {"run": r, "warnings": [labels.warning_text(w) for w in r.warnings]}
        for r in runs
        if r.warnings
    ]


def assay_tables(runs: list[MetabolismRun]) -> list[dict[str, Any]]:
    """Per assay: one column per time point, one row per parameter and group (the parameter's
    formula on its first row)."""
    tables = []
    for assay in AssayType:
        chosen = [r for r in runs if r.assay == assay.value]
        if not chosen:
            continue
        groups: list[str] = []
        for r in chosen:
            for row in r.group_results:
                if row["group"] not in groups:
                    groups.append(row["group"])
        rows = [
            {
                "label": labels.parameter_label(p),
                "unit": p["unit"],
                "formula": parameter_formula(chosen, p["key"]) if g_i == 0 else "",
                "group": group,
                "cells": [_cell(r, group, p["key"]) for r in chosen],
            }
            for p in chosen[-1].parameters
            for g_i, group in enumerate(groups)
        ]
        tables.append({"assay": assay.value, "title": assay.label, "runs": chosen, "rows": rows})
    return tables


def profile_context(prof: Profile) -> dict[str, Any]:
    return {
        "donor": prof.donor,
        "runs": prof.runs,
        "tables": assay_tables(prof.runs),
        "warnings": run_warnings(prof.runs),
        "assays": prof.assays,
        "kinetic": [(r, "kinetic_ocr") for r in prof.runs],
        "languages": LANGUAGES,
    }


def _data_uri(svg: str) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


def pdf_context(prof: Profile) -> dict[str, Any]:
    ctx = profile_context(prof)
    if prof.runs:
        ctx["energy_map"] = _data_uri(charts.profile_energy_map(prof.runs))
        ctx["parameter_charts"] = [
            (t["title"], _data_uri(charts.parameters_over_time(prof.runs, t["assay"])))
            for t in ctx["tables"]
        ]
        ctx["kinetic_charts"] = [
            (
                r,
                _data_uri(charts.run_chart(r, "kinetic_ocr")),
                _data_uri(charts.run_chart(r, "kinetic_ecar")),
            )
            for r in prof.runs
        ]
    ctx["generated_at"] = dt.datetime.now(dt.UTC)
    return ctx


def render_html(prof: Profile, language: str) -> str:
    with translation.override(language):
        return render_to_string(
            "metabolism/pdf/profile.html", {**pdf_context(prof), "language": language}
        )


def render_pdf(prof: Profile, language: str) -> bytes:

    return html_to_pdf(render_html(prof, language), base_url=str(settings.BASE_DIR))

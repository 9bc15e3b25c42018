"""Warnings and formulas as codes with parameters: same English text as before, exact parsing."""

from __future__ import annotations

import copy
import dataclasses
import json
import pickle
import subprocess
import sys
from collections.abc import Iterator

import pytest

from celltrace.assays.metabolism import messages
from celltrace.assays.metabolism.analysis import (
    AnalysisResult,
    AnalysisSettings,
    Assay,
    analyse,
)
from celltrace.assays.metabolism.messages import (
    FORMULA_TEMPLATES,
    AssayWarning,
    Formula,
    parse_formula,
    parse_warning,
    template_fields,
)
from celltrace.assays.metabolism.seahorse import (
    Injection,
    WaveExport,
    per_integrity_warnings,
    read_normalisation_csv,
    read_wave_export,
)
from tests.assays.metabolism.direct import COUNTS, XFE24, XFE96

# Awkward parameter values: separators of the templates, quotes, an empty-looking group name.
SAMPLE_VALUES = ("m3", "min(OCR m10–m12)", "'Group − 1: x'", "0.61", "a / b × 100")


def _samples(cls: type[messages.Message]) -> Iterator[messages.Message]:
    for code, template in cls.TEMPLATES.items():
        for value in SAMPLE_VALUES:
            yield cls(code, **dict.fromkeys(template_fields(template), value))


@pytest.mark.parametrize("cls", [AssayWarning, Formula])
def test_every_code_writes_its_template_and_parses_back(cls: type[messages.Message]) -> None:
    for msg in _samples(cls):
        fields = dict(msg.params)
        assert str(msg) == cls.TEMPLATES[msg.code].format(**fields)
        parsed = cls.parse(str(msg), msg.code)
        assert parsed is not None and parsed.code == msg.code, msg
        # the parsed parameters write the same text (the parse is the inverse of writing)
        assert str(cls(parsed.code, **parsed.params)) == str(msg)


def test_warning_texts_are_told_apart_without_a_code() -> None:
    for msg in _samples(AssayWarning):
        parsed = parse_warning(str(msg))
        assert parsed is not None and parsed.code == msg.code
        assert dict(parsed.params) == dict(msg.params)


def test_unknown_texts_and_codes_are_not_parsed() -> None:
    assert parse_warning("something else happened") is None
    assert parse_formula("basal_respiration", "basal is measured") is None
    assert parse_formula("no_such_parameter", "OCR m3") is None
    # a notation-only template matches any text, so formulas are parsed by their code only
    assert parse_formula("non_mitochondrial_ocr", "anything").params == {"nm": "anything"}


def test_a_message_is_its_english_text() -> None:
    w = AssayWarning("ccf_default_unverified", ccf="0.6", instrument="XFe24")
    text = (
        "CCF 0.6 is a default for XFe24 not yet verified against Agilent's primary text; "
        "pass the configured value"
    )
    assert w == text and isinstance(w, str) and hash(w) == hash(text)
    assert "not yet verified" in w
    assert w.code == "ccf_default_unverified"
    assert dict(w.params) == {"ccf": "0.6", "instrument": "XFe24"}
    assert json.dumps([w]) == json.dumps([text])
    assert type(str(w)) is str
    restored = pickle.loads(pickle.dumps(w))  # noqa: S301 (our own object, for lru caches)
    for clone in (copy.copy(w), copy.deepcopy(w), restored):
        assert clone == w and clone.code == w.code and dict(clone.params) == dict(w.params)
    with pytest.raises(AttributeError):
        w.code = "other"  # type: ignore[misc]


def test_bad_codes_and_parameters_are_refused() -> None:
    with pytest.raises(KeyError):
        AssayWarning("no_such_warning")
    with pytest.raises(TypeError, match="takes"):
        AssayWarning("group_without_wells")  # missing group
    with pytest.raises(TypeError, match="takes"):
        Formula("proton_leak", leak="OCR m6", nm="OCR m12", extra="x")


# ----------------------------------------------------------------------------------------------
# What the analysis writes


def _relabelled(export: WaveExport, injections: tuple[Injection, ...], strategy: str) -> WaveExport:
    groups = tuple(
        dataclasses.replace(g, injection_strategy=strategy) if g.injection_strategy else g
        for g in export.groups
    )
    return dataclasses.replace(export, injections=injections, groups=groups)


def _results() -> Iterator[AnalysisResult]:
    """Every assay and rule on the shared exports, plus an acute injection and a Glycolytic Rate
    relabelling (no shared export has either)."""
    x24 = read_wave_export(XFE24[0])
    x96 = read_wave_export(XFE96)
    for export in (x24, x96):
        yield analyse(export, Assay.MITO_STRESS)
        yield analyse(export, Assay.MITO_STRESS, settings=AnalysisSettings(mst_rule="fixed"))
        yield analyse(export, Assay.ATP_RATE)
    yield analyse(x24, Assay.MITO_STRESS, normalisation=read_normalisation_csv(COUNTS[XFE24[0]]))
    acute = dataclasses.replace(
        x24,
        injections=(
            Injection("A", "drug X", 2),
            Injection("B", "oligo", 4),
            Injection("C", "fccp", 7),
            Injection("D", "rot/ama", 9),
        ),
    )
    yield analyse(acute, Assay.MITO_STRESS)
    gra = _relabelled(
        x96,
        (Injection("A", "Rot/AA", 3), Injection("B", "2-DG", 6), Injection("C", "Media", 9)),
        "Glycolytic Rate Assay",
    )
    yield analyse(gra, Assay.GLYCOLYTIC_RATE, settings=AnalysisSettings(groups=("Group_1 MITO",)))
    group_a = [w for w in x24.wells if x24.well_groups[w] == "A"]
    yield analyse(x24, Assay.ATP_RATE, exclusions=dict.fromkeys(group_a, "test"))


def test_every_formula_and_warning_of_a_result_carries_its_code() -> None:
    formula_codes: set[str] = set()
    warning_codes: set[str] = set()
    for result in _results():
        for p in result.parameters:
            assert isinstance(p.formula, Formula) and p.formula.code == p.key
            parsed = parse_formula(p.key, str(p.formula))
            assert parsed is not None and dict(parsed.params) == dict(p.formula.params)
            formula_codes.add(p.key)
        for w in result.warnings:
            assert isinstance(w, AssayWarning)
            parsed = parse_warning(str(w))
            assert parsed is not None and parsed.code == w.code
            assert dict(parsed.params) == dict(w.params)
            warning_codes.add(w.code)
        norm = dict(result.normalisation)
        if norm:
            assert (
                isinstance(norm["formula"], Formula) and norm["formula"].code == "normalised_rate"
            )
            formula_codes.add("normalised_rate")
    # every formula code is written by some analysis above
    assert formula_codes == set(FORMULA_TEMPLATES)
    assert {"ccf_default_unverified", "group_without_wells"} <= warning_codes


def test_the_english_text_is_unchanged() -> None:
    """Records stored before warnings and formulas had codes must match a recalculation."""
    x96 = read_wave_export(XFE96)
    atp = analyse(x96, Assay.ATP_RATE)
    assert atp.warnings == (
        "CCF 0.61 is a default for XFe96/XF Pro not yet verified against Agilent's primary "
        "text; pass the configured value",
    )
    assert atp.parameter("glyco_atp_production_rate").formula == (
        "PER m3 (Wave PER column) − (OCR m3 − min(OCR m10–m12)) × CCF (0.61)"
    )
    assert atp.parameter("mito_atp_production_rate").formula == (
        "(OCR m3 − min(OCR m4–m6)) × 2 × P/O (2.75)"
    )
    mst = analyse(x96, Assay.MITO_STRESS).as_dict()
    formulas = {p["key"]: p["formula"] for p in mst["parameters"]}
    assert formulas["basal_respiration"] == "OCR m3 − min(OCR m10–m12)"
    assert formulas["coupling_efficiency_percent"] == (
        "ATP-linked respiration / basal respiration × 100"
    )
    per = dict(x96.per or {})
    well = next(w for w in x96.wells if w not in x96.background_wells)
    per[well] = (per[well][0] + 5.0, *per[well][1:])
    edited = per_integrity_warnings(dataclasses.replace(x96, per=per))
    assert edited == [
        "measurement 1: PER/(BF·Vol·kVol) − ECAR varies by 0.548 mpH/min across wells; Wave "
        "builds it as one constant per measurement — the export may be edited"
    ]
    assert edited[0].code == "per_identity_spread"  # type: ignore[attr-defined]
    assert per_integrity_warnings(dataclasses.replace(x96, per=None)) == [
        "the export has no PER column: PER-based assays cannot be analysed"
    ]
    assert per_integrity_warnings(dataclasses.replace(x96, kvol=None)) == [
        "Plate Volume, kVol or the buffer factors are missing: PER integrity not checked"
    ]


def test_the_library_stays_free_of_django() -> None:
    code = (
        "import sys, celltrace.assays.metabolism.analysis, celltrace.assays.metabolism.charts; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'django'))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.strip() == "[]"

"""Template filters that show a stored calculation in a readable form (labels, not keys)."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.translation import gettext_lazy as _

from celltrace.qc import calculators

register = template.Library()

#: Calculation keys -> labels a reviewer reads. Unknown keys are shown with their words.
LABELS: dict[str, Any] = {
    # counts
    "viable_counts": _("Live cells per large square"),
    "nonviable_counts": _("Dead cells per large square"),
    "squares": _("Squares counted"),
    "dilution_factor": _("Dilution factor"),
    "viable_per_ml": _("Viable cells/mL"),
    "nonviable_per_ml": _("Dead cells/mL"),
    "total_per_ml": _("Total cells/mL"),
    "viability_percent": _("Viability (%)"),
    "volume_ml": _("Product volume (mL)"),
    "body_mass_kg": _("Body mass (kg)"),
    "total_viable_cells": _("Total viable cells"),
    "dose_cells_per_kg": _("Dose (viable cells/kg)"),
    "layout": _("Layout"),
    "sample": _("Sample"),
    "rows": _("File rows"),
    "extra_dilution": _("Pre-dilution"),
    "cv_max_percent": _("Maximum replicate CV (%)"),
    "readings_total_per_ml": _("Total cells/mL per reading"),
    "readings_viable_per_ml": _("Viable cells/mL per reading"),
    "total_cv_percent": _("Replicate CV of the totals (%)"),
    "reported": _("Reported value"),
    # endotoxin
    "concentrations": _("Standard concentrations (EU/mL)"),
    "onset_times": _("Standard onset times (s)"),
    "sample_onset_time": _("Sample onset time (s)"),
    "sample_onset_times": _("Sample onset times (s)"),
    "ppc_onset_times": _("PPC onset times (s)"),
    "spike_eu_per_ml": _("PPC spike (EU/mL)"),
    "negative_control_onset_times": _("Negative control onset times (s)"),
    "dilution": _("Sample dilution"),
    "k_eu_per_kg": _("K (EU/kg)"),
    "dose_per_hour": _("Maximum dose per hour"),
    "pharmacopoeia": _("Body mass convention"),
    "product_concentration": _("Product concentration c"),
    "intercept": _("Curve intercept"),
    "slope": _("Curve slope"),
    "r": _("Correlation r"),
    "curve_valid": _("Curve valid"),
    "lambda_eu_per_ml": _("λ, lowest standard (EU/mL)"),
    "endotoxin_limit": _("Endotoxin limit K/M"),
    "mvd": _("Maximum valid dilution"),
    "test_solution_eu_per_ml": _("Test solution (EU/mL)"),
    "sample_concentrations": _("Sample replicates (EU/mL)"),
    "sample_mean_eu_per_ml": _("Sample mean (EU/mL)"),
    "ppc_concentrations": _("PPC replicates (EU/mL)"),
    "ppc_mean_eu_per_ml": _("PPC mean (EU/mL)"),
    "recovery_percent": _("PPC recovery (%)"),
    "sample_cv_percent": _("Sample replicate CV (%)"),
    "ppc_cv_percent": _("PPC replicate CV (%)"),
    "run_valid": _("Run valid"),
    "below_lowest_standard": _("Below the lowest standard"),
    "product_eu_per_ml": _("Product (EU/mL)"),
    "labelled_sensitivity": _("Labelled sensitivity λ (EU/mL)"),
    "std_concentrations": _("Standard concentrations (EU/mL)"),
    "std_series": _("Standard series"),
    "negative_controls": _("Negative controls"),
    "dilutions": _("Product dilutions"),
    "sample_series": _("Product series"),
    "positive_product_controls": _("Positive product controls"),
    "std_endpoints": _("Standard end points (EU/mL)"),
    "std_geometric_mean": _("Geometric mean end point (EU/mL)"),
    "label_claim_confirmed": _("Labelled sensitivity confirmed"),
    "sample_endpoint_dilutions": _("Product end-point dilutions"),
    "sample_geometric_mean_dilution": _("Geometric mean end-point dilution"),
    # sterility
    "incubations": _("Incubations"),
    "readings": _("Readings"),
    "as_of": _("Decided at"),
    "outcome": _("Outcome"),
    "growth": _("Growth"),
    "sample_id": _("Sample id"),
    "required_days": _("Required protocol (days)"),
    "bottles": _("Bottles"),
    # mycoplasma
    "samples": _("Sample wells (target / internal control Cq)"),
    "positive_controls": _("Positive controls"),
    "spiked_samples": _("Spiked samples"),
    "cq_cutoff": _("Cq cut-off"),
    "detected_wells": _("Wells detected"),
    "test_observations": _("Test readings"),
    "findings": _("Findings"),
    # vcn
    "target_std_copies": _("Target standards: copies"),
    "target_std_cq": _("Target standards: Cq"),
    "reference_std_copies": _("Reference gene standards: copies"),
    "reference_std_cq": _("Reference gene standards: Cq"),
    "sample_target_cq": _("Sample target Cq"),
    "sample_reference_cq": _("Sample reference gene Cq"),
    "reference_copies_per_cell": _("Reference gene copies per cell"),
    "efficiency_window_percent": _("Efficiency window (%)"),
    "r_squared_min": _("Minimum R²"),
    "target_slope": _("Target curve slope"),
    "target_efficiency_percent": _("Target efficiency (%)"),
    "target_r_squared": _("Target curve R²"),
    "reference_slope": _("Reference curve slope"),
    "reference_efficiency_percent": _("Reference efficiency (%)"),
    "reference_r_squared": _("Reference curve R²"),
    "sample_target_copies": _("Sample target copies"),
    "sample_reference_copies": _("Sample reference copies"),
    "vcn_per_diploid_genome": _("VCN per diploid genome"),
    "car_positive_percent": _("CAR+ (%)"),
    "copies_per_transduced_cell": _("Copies per transduced cell"),
    "target_positive": _("Target-positive droplets"),
    "reference_positive": _("Reference-positive droplets"),
    "total_droplets": _("Accepted droplets"),
    "droplet_nl": _("Droplet volume (nL)"),
    "min_droplets": _("Minimum accepted droplets"),
    "target_lambda": _("Target copies per droplet λ"),
    "reference_lambda": _("Reference copies per droplet λ"),
    "target_copies_per_ul": _("Target copies/µL"),
    "reference_copies_per_ul": _("Reference copies/µL"),
    "below_lod": _("Below the LOD"),
    # flow
    "control_sample": _("Control sample"),
    "control_kind": _("Control"),
    "population_map": _("Populations"),
    "wsp_sample": _("Sample in the workspace"),
    "compensation": _("Compensation"),
    "fcs_version": _("FCS version"),
    "cytometer": _("Cytometer"),
    "total_events": _("Total events"),
    "viability": _("Viable of singlets"),
    "cd45": _("CD45+"),
    "cd3": _("CD3+"),
    "car": _("CAR+ of CD3+"),
    "cd4": _("CD4+CD8- of CD3+"),
    "cd8": _("CD8+CD4- of CD3+"),
    "cd4_cd8_ratio": _("CD4/CD8 ratio"),
    "population_counts": _("Population counts"),
    "gate_counts": _("Events per gate (of parent)"),
    "flags": _("Flags"),
    "control_car": _("Control CAR+ of CD3+"),
    "car_net_percent": _("CAR+ net of the control (%)"),
}


def _label(key: str) -> Any:
    return LABELS.get(key, key.replace("_", " ").capitalize())


def _rows(values: Any) -> list[tuple[Any, Any, bool]]:
    if not isinstance(values, dict):
        return []
    rows = []
    for key, value in values.items():
        if key == "files":
            continue
        many = isinstance(value, list)
        rows.append((_label(key), value if not many or value else "—", many and bool(value)))
    return rows


@register.filter
def calculation_rows(calculation: Any) -> dict[str, Any]:
    """``{"files": [...], "inputs": [(label, value, is_list)], "outputs": [...]}``."""
    if not isinstance(calculation, dict):
        return {"files": [], "inputs": [], "outputs": []}
    inputs = calculation.get("inputs") or {}
    files = inputs.get("files") if isinstance(inputs, dict) else None
    return {
        "files": files if isinstance(files, list) else [],
        "inputs": _rows(inputs),
        "outputs": _rows(calculation.get("outputs")),
    }


@register.filter
def kind_label(slug: str) -> Any:
    for kinds in calculators.CALCULATORS.values():
        for kind in kinds:
            if kind.slug == slug:
                return kind.label
    return slug

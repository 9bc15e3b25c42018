"""Writes of the metabolism app: uploading a Seahorse run, excluding and including wells.

Every function here is one transaction that appends exactly one ledger entry. Results are
never edited: they are recomputed from the stored inputs (the Wave export, the normalisation
CSV, the CCF/P-O settings) and the active exclusions, with the pure analysis layer
:mod:`celltrace.assays.metabolism`, whenever the inputs or the exclusions change.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from celltrace.assays.errors import AssayInputError
from celltrace.assays.metabolism import analysis, seahorse
from celltrace.assays.metabolism.analysis import AnalysisResult, AnalysisSettings
from celltrace.assays.metabolism.seahorse import Normalisation, WaveExport
from celltrace.audit import ledger
from celltrace.audit.choices import Action
from celltrace.bank.models import Aliquot, Donor
from celltrace.core.choices import Role
from celltrace.core.errors import Conflict, Invalid, PermissionDenied
from celltrace.core.models import Organisation, User
from celltrace.core.validation import require_reason
from celltrace.metabolism.choices import AssayType, EventType, RunStatus, TimePoint
from celltrace.metabolism.models import MetabolismRun, WellExclusion

#: Operator roles that upload runs and review wells. Client users only read.
ANALYSIS_ROLES = (Role.ADMIN, Role.BANK_TECHNICIAN, Role.QC_ANALYST, Role.QC_REVIEWER)
MAX_EXPORT_BYTES = 20 * 1024 * 1024
MAX_NORMALISATION_BYTES = seahorse.MAX_CSV_BYTES
MAX_REASON_CHARS = 2000
CCF_RANGE = (Decimal("0.01"), Decimal("1"))
PO_RANGE = (Decimal("0.5"), Decimal("5"))


def can_analyse(actor: User) -> bool:
    return actor.is_active and actor.is_operator_staff and actor.has_role(*ANALYSIS_ROLES)


def require_analysis_role(actor: User) -> None:
    if not can_analyse(actor):
        raise PermissionDenied(
            _("Only laboratory analysts, bank technicians and administrators can do this.")
        )


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _reason(reason: str) -> str:
    return require_reason(reason, max_chars=MAX_REASON_CHARS)


def _decimal_in(value: Decimal | None, bounds: tuple[Decimal, Decimal], field: str) -> None:
    if value is None:
        return
    try:
        ok = value.is_finite() and bounds[0] <= value <= bounds[1]
    except (InvalidOperation, AttributeError):
        ok = False
    if not ok:
        raise Invalid(
            _("%(name)s must be a number from %(low)s to %(high)s.")
            % {"name": field, "low": bounds[0], "high": bounds[1]},
            field=field,
        )


# --- reading and analysing -------------------------------------------------------------------


def read_export(file_bytes: bytes, filename: str) -> WaveExport:
    """The Wave export, or :class:`Invalid` naming the problem (field ``file``)."""
    if not file_bytes:
        raise Invalid(_("The file is empty."), field="file")
    if len(file_bytes) > MAX_EXPORT_BYTES:
        raise Invalid(
            _("The file is larger than %(mb)s MB.") % {"mb": MAX_EXPORT_BYTES // (1024 * 1024)},
            field="file",
        )
    try:
        return seahorse.read_wave_export(file_bytes, filename=filename)
    except AssayInputError as exc:
        raise Invalid(
            _("The file cannot be read as a Seahorse Wave export: %(problem)s")
            % {"problem": str(exc)},
            field="file",
        ) from exc


def read_normalisation(data: bytes, filename: str, unit: str, scale: Decimal) -> Normalisation:
    if len(data) > MAX_NORMALISATION_BYTES:
        raise Invalid(_("The normalisation file is too large."), field="normalisation")
    try:
        return seahorse.read_normalisation_csv(
            data, unit=unit or "cells", scale_factor=float(scale), filename=filename
        )
    except AssayInputError as exc:
        raise Invalid(
            _("The normalisation file cannot be read: %(problem)s") % {"problem": str(exc)},
            field="normalisation",
        ) from exc


def _settings(ccf: Decimal | None, po_ratio: Decimal | None) -> AnalysisSettings:
    return AnalysisSettings(
        ccf=float(ccf) if ccf is not None else None,
        po_ratio=float(po_ratio) if po_ratio is not None else None,
    )


def _analyse(
    export: WaveExport,
    assay: str,
    exclusions: Mapping[str, str],
    normalisation: Normalisation | None,
    settings: AnalysisSettings,
) -> AnalysisResult:
    try:
        return analysis.analyse(
            export, assay, exclusions=exclusions, normalisation=normalisation, settings=settings
        )
    except AssayInputError as exc:
        raise Invalid(
            _("The run cannot be analysed as %(assay)s: %(problem)s")
            % {"assay": AssayType(assay).label, "problem": str(exc)},
            field=exc.field if exc.field in {"assay", "normalisation"} else "file",
        ) from exc


def active_exclusions(run: MetabolismRun) -> dict[str, str]:
    return dict(
        WellExclusion.objects.filter(run=run, included_at__isnull=True)
        .order_by("well")
        .values_list("well", "reason")
    )


def _run_normalisation(run: MetabolismRun) -> Normalisation | None:
    if run.normalisation_data is None:
        return None
    return read_normalisation(
        bytes(run.normalisation_data),
        run.normalisation_name,
        run.normalisation_unit,
        run.normalisation_scale or Decimal(1),
    )


def analyse_run(run: MetabolismRun, exclusions: Mapping[str, str] | None = None) -> AnalysisResult:
    """Analyse the run's stored inputs with ``exclusions`` (default: the active ones)."""
    export = read_export(bytes(run.file_data), run.file_name)
    return _analyse(
        export,
        run.assay,
        active_exclusions(run) if exclusions is None else exclusions,
        _run_normalisation(run),
        _settings(run.ccf, run.po_ratio),
    )


@dataclasses.dataclass(frozen=True)
class StoredResults:
    group_results: list[dict[str, Any]]
    well_results: list[dict[str, Any]]
    calculation: dict[str, Any]
    sha256: str


def _jsonable(value: Any) -> Any:
    """Tuples to lists through a JSON round trip (the shape a JSONField gives back)."""
    loaded = json.loads(json.dumps(value, allow_nan=False))
    return loaded


def results_digest(group_results: Any, well_results: Any, calculation: Any) -> str:
    blob = json.dumps(
        {"groups": group_results, "wells": well_results, "calculation": calculation},
        sort_keys=True,
        separators=(",", ":"),
        allow_nan=False,
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def stored_results(result: AnalysisResult) -> StoredResults:
    """What a run stores of one analysis: per-group rows, per-well values, the record."""
    groups = _jsonable(analysis.group_rows(result))
    wells = _jsonable(
        [
            {
                "well": w.well,
                "group": w.group,
                "excluded": w.excluded,
                "exclusion_reason": w.exclusion_reason,
                "values": dict(w.values),
                "points": {k: list(v) for k, v in w.points},
            }
            for w in result.wells
        ]
    )
    record = result.as_dict()
    for key in ("wells", "groups", "traces"):
        record.pop(key)
    calculation = _jsonable(record)
    return StoredResults(groups, wells, calculation, results_digest(groups, wells, calculation))


@lru_cache(maxsize=32)
def _cached_result(run_pk: int, results_sha256: str) -> AnalysisResult:
    run = MetabolismRun.objects.get(pk=run_pk)
    result = analyse_run(run)
    if stored_results(result).sha256 != results_sha256:
        raise Conflict(
            _("The stored results of run %(id)s differ from a recalculation.") % {"id": run_pk}
        )
    return result


def run_result(run: MetabolismRun) -> AnalysisResult:
    """The analysis behind the run's stored results (for charts), checked against them."""
    return _cached_result(run.pk, run.results_sha256)


def _status(result: AnalysisResult) -> str:
    return RunStatus.ANALYSED_WITH_WARNINGS if result.warnings else RunStatus.ANALYSED


def _apply(run: MetabolismRun, result: AnalysisResult) -> StoredResults:
    stored = stored_results(result)
    run.group_results = stored.group_results
    run.well_results = stored.well_results
    run.calculation = stored.calculation
    run.results_sha256 = stored.sha256
    run.calculation_version = result.calculation_version
    run.status = _status(result)
    run.computed_at = _now()
    return stored


def _group_n(run: MetabolismRun, group: str) -> int | None:
    for row in run.group_results:
        if row.get("group") == group:
            n: int = row["n"]
            return n
    return None


# --- runs ------------------------------------------------------------------------------------


def _links(
    organisation: Organisation, donor: Donor | None, aliquot: Aliquot | None
) -> Donor | None:
    if aliquot is not None:
        owner = Donor.objects.filter(collections__products__aliquots=aliquot).first()
        if donor is not None and owner is not None and owner.pk != donor.pk:
            raise Invalid(_("The aliquot belongs to another donor."), field="aliquot")
        donor = donor or owner
        if aliquot.organisation_id != organisation.pk:
            raise Invalid(
                _("The aliquot belongs to another organisation than the run."), field="aliquot"
            )
    if donor is not None and donor.organisation_id != organisation.pk:
        raise Invalid(_("The donor belongs to another organisation than the run."), field="donor")
    return donor


def metabolism_run_upload(
    *,
    actor: User,
    organisation: Organisation,
    file_bytes: bytes,
    filename: str,
    assay: str,
    timepoint: str,
    sampled_on: dt.date,
    donor: Donor | None = None,
    aliquot: Aliquot | None = None,
    timepoint_label: str = "",
    normalisation: bytes | None = None,
    normalisation_filename: str = "",
    normalisation_unit: str = "cells",
    normalisation_scale: Decimal = Decimal(1),
    ccf: Decimal | None = None,
    po_ratio: Decimal | None = None,
    reason: str = "",
) -> MetabolismRun:
    """Store and analyse one Seahorse Wave export as ``assay``; nothing is written on error."""
    require_analysis_role(actor)
    filename = (filename or "").strip().replace("\\", "/").rsplit("/", 1)[-1]
    if not filename:
        raise Invalid(_("Give the file name."), field="file")
    if len(filename) > 255:
        raise Invalid(_("The file name is too long."), field="file")
    if assay not in AssayType.values:
        raise Invalid(_("Unknown assay."), field="assay")
    if timepoint not in TimePoint.values:
        raise Invalid(_("Unknown time point."), field="timepoint")
    if len(timepoint_label.strip()) > 100:
        raise Invalid(_("The time point label is too long."), field="timepoint_label")
    if sampled_on > _now().date():
        raise Invalid(_("The time point cannot be in the future."), field="sampled_on")
    _decimal_in(ccf, CCF_RANGE, "ccf")
    _decimal_in(po_ratio, PO_RANGE, "po_ratio")
    _decimal_in(normalisation_scale, (Decimal("0.0001"), Decimal("1000000000")), "normalisation")
    donor = _links(organisation, donor, aliquot)

    export = read_export(file_bytes, filename)
    norm = None
    if normalisation is not None:
        norm = read_normalisation(
            normalisation,
            normalisation_filename or "normalisation.csv",
            normalisation_unit.strip(),
            normalisation_scale,
        )
    result = _analyse(export, assay, {}, norm, _settings(ccf, po_ratio))

    run = MetabolismRun(
        organisation=organisation,
        file_name=filename,
        file_sha256=export.sha256,
        file_data=file_bytes,
        file_size=len(file_bytes),
        assay=assay,
        instrument_family=export.instrument_family,
        instrument_serial=export.instrument_serial[:80],
        plate_format=export.plate_format,
        wave_version=export.wave_version[:40],
        wave_assay_name=export.assay_name[:255],
        constants=_jsonable([dataclasses.asdict(c) for c in export.constants]),
        plate_layout=dict(export.well_groups),
        donor=donor,
        aliquot=aliquot,
        timepoint=timepoint,
        timepoint_label=timepoint_label.strip(),
        sampled_on=sampled_on,
        ccf=ccf,
        po_ratio=po_ratio,
        uploaded_by=actor,
    )
    if norm is not None and normalisation is not None:
        run.normalisation_name = (normalisation_filename or "normalisation.csv")[:255]
        run.normalisation_sha256 = norm.sha256
        run.normalisation_data = normalisation
        run.normalisation_unit = norm.unit
        run.normalisation_scale = normalisation_scale
    stored = _apply(run, result)
    with transaction.atomic():
        run.save()
        ledger.append(
            actor=actor,
            action=Action.CREATE,
            event_type=EventType.RUN_UPLOADED,
            entity_type="metabolism.metabolismrun",
            entity_id=run.pk,
            entity_label=str(run),
            organisation_id=organisation.pk,
            new={
                "file_name": filename,
                "file_sha256": run.file_sha256,
                "file_size": run.file_size,
                "assay": assay,
                "instrument_family": run.instrument_family,
                "instrument_serial": run.instrument_serial,
                "wave_version": run.wave_version,
                "donor_id": donor.pk if donor else None,
                "aliquot_id": aliquot.pk if aliquot else None,
                "timepoint": timepoint,
                "timepoint_label": run.timepoint_label,
                "sampled_on": sampled_on,
                "normalisation_file": run.normalisation_name,
                "normalisation_sha256": run.normalisation_sha256,
                "normalisation_unit": run.normalisation_unit,
                "normalisation_scale": run.normalisation_scale,
                "ccf": ccf,
                "po_ratio": po_ratio,
                "calculation_version": run.calculation_version,
                "groups": {row["group"]: row["n"] for row in stored.group_results},
                "results_sha256": stored.sha256,
                "warnings": list(result.warnings),
            },
            reason=reason.strip(),
        )
    return run


# --- wells -----------------------------------------------------------------------------------


def _well(run: MetabolismRun, well: str) -> tuple[str, str]:
    try:
        name = seahorse.normalise_well(well)
    except ValueError as exc:
        raise Invalid(
            _("%(well)s is not a well name such as A01.") % {"well": well}, field="well"
        ) from exc
    group = run.plate_layout.get(name)
    if group is None:
        raise Invalid(_("The plate has no well %(well)s.") % {"well": name}, field="well")
    if not any(w["well"] == name for w in run.well_results):
        raise Invalid(
            _("Well %(well)s (group %(group)s) is not analysed in this assay.")
            % {"well": name, "group": group},
            field="well",
        )
    return name, group


def _locked(run: MetabolismRun) -> MetabolismRun:
    return MetabolismRun.objects.select_for_update().get(pk=run.pk)


def well_exclude(*, actor: User, run: MetabolismRun, well: str, reason: str) -> WellExclusion:
    """Leave ``well`` out of the group statistics, for ``reason``; results are recomputed."""
    require_analysis_role(actor)
    reason = _reason(reason)
    with transaction.atomic():
        locked = _locked(run)
        name, group = _well(locked, well)
        if WellExclusion.objects.filter(run=locked, well=name, included_at__isnull=True).exists():
            raise Conflict(_("Well %(well)s is already excluded.") % {"well": name}, field="well")
        old_excluded = sorted(active_exclusions(locked))
        old_n, old_sha = _group_n(locked, group), locked.results_sha256
        try:
            with transaction.atomic():
                exclusion = WellExclusion.objects.create(
                    organisation_id=locked.organisation_id,
                    run=locked,
                    well=name,
                    group=group,
                    reason=reason,
                    excluded_by=actor,
                    excluded_at=_now(),
                )
        except IntegrityError as exc:
            raise Conflict(
                _("Well %(well)s is already excluded.") % {"well": name}, field="well"
            ) from exc
        stored = _apply(locked, analyse_run(locked))
        locked.save(update_fields=_RESULT_FIELDS)
        ledger.append(
            actor=actor,
            action=Action.UPDATE,
            event_type=EventType.WELL_EXCLUDED,
            entity_type="metabolism.metabolismrun",
            entity_id=locked.pk,
            entity_label=str(locked),
            organisation_id=locked.organisation_id,
            old={"excluded_wells": old_excluded, "n": old_n, "results_sha256": old_sha},
            new={
                "well": name,
                "group": group,
                "exclusion_id": exclusion.pk,
                "excluded_wells": sorted(active_exclusions(locked)),
                "n": _group_n(locked, group),
                "results_sha256": stored.sha256,
            },
            reason=reason,
        )
    run.refresh_from_db()
    return exclusion


def well_include(*, actor: User, run: MetabolismRun, well: str, reason: str) -> WellExclusion:
    """Take an excluded well back into the group statistics, for ``reason``."""
    require_analysis_role(actor)
    reason = _reason(reason)
    with transaction.atomic():
        locked = _locked(run)
        name, group = _well(locked, well)
        exclusion = (
            WellExclusion.objects.select_for_update()
            .filter(run=locked, well=name, included_at__isnull=True)
            .first()
        )
        if exclusion is None:
            raise Conflict(_("Well %(well)s is not excluded.") % {"well": name}, field="well")
        old_excluded = sorted(active_exclusions(locked))
        old_n, old_sha = _group_n(locked, group), locked.results_sha256
        exclusion.included_by = actor
        exclusion.included_at = _now()
        exclusion.include_reason = reason
        exclusion.save(update_fields=["included_by", "included_at", "include_reason"])
        stored = _apply(locked, analyse_run(locked))
        locked.save(update_fields=_RESULT_FIELDS)
        ledger.append(
            actor=actor,
            action=Action.UPDATE,
            event_type=EventType.WELL_INCLUDED,
            entity_type="metabolism.metabolismrun",
            entity_id=locked.pk,
            entity_label=str(locked),
            organisation_id=locked.organisation_id,
            old={"excluded_wells": old_excluded, "n": old_n, "results_sha256": old_sha},
            new={
                "well": name,
                "group": group,
                "exclusion_id": exclusion.pk,
                "excluded_wells": sorted(active_exclusions(locked)),
                "n": _group_n(locked, group),
                "results_sha256": stored.sha256,
            },
            reason=reason,
        )
    run.refresh_from_db()
    return exclusion


_RESULT_FIELDS = [
    "group_results",
    "well_results",
    "calculation",
    "results_sha256",
    "calculation_version",
    "status",
    "computed_at",
]

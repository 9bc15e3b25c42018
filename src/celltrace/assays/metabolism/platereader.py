"""Plate-reader energy assays: ATP (luciferase), ADP/ATP ratio, NAD+/NADH, membrane potential.

Input is a long-format plate CSV (documented in docs/metabolism.md), one row per well and read::

    well,role,sample,concentration,signal,read,treatment
    A01,blank,,,102,,
    A02,standard,,0.1,1530,,
    B01,sample,donor-7 banking,,20500,,

* ``role``: ``standard`` (needs ``concentration``), ``blank``, ``sample`` (needs ``sample``),
  ``fccp`` (depolarised reference for membrane potential) or ``control`` (untreated reference).
* ``read``: the reading a row belongs to when a well is read more than once — ``A``/``B``/``C``
  for the two-step ADP/ATP kit, ``590``/``530`` (or ``red``/``green``) for JC-1.
* ``treatment``: ``acid`` (NADH destroyed → NAD+) or ``base`` (NAD+ destroyed → NADH) for the
  NAD+/NADH split lysate; standards carry the same treatment as the samples they quantify.

Standard curves are 4PL or 5PL fits (:mod:`celltrace.assays.curves`) judged by configurable
acceptance rules (:class:`CurveAcceptance`). Samples outside the accepted range are FLAGGED
``below_lloq``/``above_uloq`` with no value; nothing is extrapolated. Results report
measurements only.
"""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from celltrace.assays.curves import CurveFit, Model, Weighting, fit_curve
from celltrace.assays.errors import AssayInputError, InstrumentFileError
from celltrace.assays.metabolism.seahorse import normalise_well

CALCULATION_VERSION = "celltrace.metabolism.platereader/1.0"
MAX_PLATE_CSV_BYTES = 2 * 1024 * 1024
MAX_PLATE_ROWS = 20_000

ROLES = ("standard", "blank", "sample", "fccp", "control")
_JC1_RED = {"590", "red", "aggregate", "f590"}
_JC1_GREEN = {"530", "green", "monomer", "f530"}


class Flag(StrEnum):
    OK = "ok"
    BELOW_LLOQ = "below_lloq"
    ABOVE_ULOQ = "above_uloq"
    CURVE_REJECTED = "curve_rejected"
    REPLICATE_CV = "replicate_cv_above_limit"
    NOT_COMPUTABLE = "not_computable"


@dataclass(frozen=True)
class PlateRow:
    line: int
    well: str
    role: str
    sample: str
    concentration: float | None
    signal: float
    read: str
    treatment: str


@dataclass(frozen=True)
class PlateData:
    rows: tuple[PlateRow, ...]
    source: str
    sha256: str


def _number(cell: str, name: str, line: int, source: str) -> float:
    try:
        v = float(cell)
    except ValueError:
        raise InstrumentFileError(
            f"{source}, row {line}, column {name!r}: number expected, found {cell!r}",
            row=line,
            field=name,
        ) from None
    if not math.isfinite(v):
        raise InstrumentFileError(
            f"{source}, row {line}, column {name!r}: finite number expected, found {cell!r}",
            row=line,
            field=name,
        )
    return v


def read_plate_csv(source: str | Path | bytes, *, filename: str | None = None) -> PlateData:
    """Read a long-format plate CSV (see the module docstring)."""
    if isinstance(source, bytes):
        data, name = source, filename or "plate.csv"
    else:
        path = Path(source)
        try:
            if path.stat().st_size > MAX_PLATE_CSV_BYTES:
                raise InstrumentFileError(f"{path.name} is larger than {MAX_PLATE_CSV_BYTES} bytes")
            data = path.read_bytes()
        except OSError as exc:
            raise InstrumentFileError(f"cannot read {path}: {exc.strerror}") from exc
        name = filename or path.name
    if len(data) > MAX_PLATE_CSV_BYTES:
        raise InstrumentFileError(f"{name} is larger than {MAX_PLATE_CSV_BYTES} bytes")
    if data.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")):
        raise InstrumentFileError(f"{name} is a spreadsheet, not a CSV file; save it as CSV")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InstrumentFileError(f"{name} is not UTF-8 text: {exc}") from exc
    reader = csv.reader(io.StringIO(text))
    try:
        table = [r for r in reader if any(c.strip() for c in r)]
    except csv.Error as exc:
        raise InstrumentFileError(f"{name} is not a readable CSV file: {exc}") from exc
    if not table:
        raise InstrumentFileError(f"{name} is empty")
    header = [h.strip().casefold() for h in table[0]]
    for required in ("well", "role", "signal"):
        if required not in header:
            raise InstrumentFileError(
                f"{name}, row 1: column {required!r} missing (header: {', '.join(table[0])})",
                row=1,
                field=required,
            )
    if len(table) - 1 > MAX_PLATE_ROWS:
        raise InstrumentFileError(f"{name} has more than {MAX_PLATE_ROWS} rows")
    idx = {h: i for i, h in enumerate(header)}

    def get(row: list[str], key: str) -> str:
        i = idx.get(key)
        return row[i].strip() if i is not None and i < len(row) else ""

    rows: list[PlateRow] = []
    seen: set[tuple[str, str, str]] = set()
    for line, row in enumerate(table[1:], 2):
        try:
            well = normalise_well(get(row, "well"))
        except ValueError:
            raise InstrumentFileError(
                f"{name}, row {line}, column 'well': well name expected, found "
                f"{get(row, 'well')!r}",
                row=line,
                field="well",
            ) from None
        role = get(row, "role").casefold()
        if role not in ROLES:
            raise InstrumentFileError(
                f"{name}, row {line}, column 'role': {get(row, 'role')!r} is not one of "
                f"{', '.join(ROLES)}",
                row=line,
                field="role",
            )
        sample = get(row, "sample")
        if role == "sample" and not sample:
            raise InstrumentFileError(
                f"{name}, row {line}: a sample row needs a 'sample' name", row=line, field="sample"
            )
        conc: float | None = None
        c_text = get(row, "concentration")
        if role == "standard":
            if not c_text:
                raise InstrumentFileError(
                    f"{name}, row {line}: a standard needs a 'concentration'",
                    row=line,
                    field="concentration",
                )
            conc = _number(c_text, "concentration", line, name)
            if conc < 0:
                raise InstrumentFileError(
                    f"{name}, row {line}: concentration must be >= 0",
                    row=line,
                    field="concentration",
                )
        signal_text = get(row, "signal")
        if not signal_text:
            raise InstrumentFileError(
                f"{name}, row {line}, column 'signal' is empty", row=line, field="signal"
            )
        signal = _number(signal_text, "signal", line, name)
        read = get(row, "read").casefold()
        treatment = get(row, "treatment").casefold()
        key = (well, read, treatment)
        if key in seen:
            raise InstrumentFileError(
                f"{name}, row {line}: well {well} appears twice for the same read/treatment",
                row=line,
            )
        seen.add(key)
        rows.append(PlateRow(line, well, role, sample, conc, signal, read, treatment))
    if not rows:
        raise InstrumentFileError(f"{name} has no data rows")
    return PlateData(tuple(rows), name, hashlib.sha256(data).hexdigest())


# --------------------------------------------------------------------------------------------
# Standard curves


@dataclass(frozen=True)
class CurveAcceptance:
    """Acceptance rules for a standard curve (all configurable; defaults per
    docs/design/domain-facts.md §10)."""

    model: Model = "4PL"
    weighting: Weighting = "none"
    min_levels: int = 6  # distinct non-zero standard concentrations
    min_r_squared: float = 0.98  # a rule among others: R² alone is not acceptance
    tolerance_pct: float = 20.0  # back-calculated standards within ±20 %
    lloq_tolerance_pct: float = 25.0  # ±25 % at the lowest standard
    min_fraction_passing: float = 0.75  # of the non-zero levels
    require_monotonic: bool = True
    max_replicate_cv_pct: float | None = 20.0  # samples above it are flagged, not rejected

    def __post_init__(self) -> None:
        for name in (
            "min_r_squared",
            "tolerance_pct",
            "lloq_tolerance_pct",
            "min_fraction_passing",
        ):
            v = getattr(self, name)
            if not math.isfinite(v) or v < 0:
                raise AssayInputError(f"{name} must be a finite number >= 0", field=name)
        if self.min_levels < 1:
            raise AssayInputError("min_levels must be >= 1", field="min_levels")


@dataclass(frozen=True)
class StandardLevel:
    concentration: float
    n: int
    mean_signal: float
    back_calculated: float | None
    bias_pct: float | None
    tolerance_pct: float | None
    passed: bool | None  # None for the zero standard (no relative bias)


@dataclass(frozen=True)
class StandardCurve:
    fit: CurveFit | None
    levels: tuple[StandardLevel, ...]
    lloq: float | None
    uloq: float | None
    accepted: bool
    failures: tuple[str, ...]
    acceptance: CurveAcceptance
    treatment: str = ""


def _monotonic(means: Sequence[float]) -> bool:
    diffs = [b - a for a, b in itertools.pairwise(means)]
    return all(d > 0 for d in diffs) or all(d < 0 for d in diffs)


def evaluate_standards(
    points: Sequence[tuple[float, float]], acceptance: CurveAcceptance | None = None
) -> StandardCurve:
    """Fit standards ``(concentration, signal)`` and apply the acceptance rules."""
    acc = acceptance or CurveAcceptance()
    by_conc: dict[float, list[float]] = {}
    for c, s in points:
        if not (math.isfinite(c) and math.isfinite(s)) or c < 0:
            raise AssayInputError(f"standard ({c!r}, {s!r}) is not a finite pair with c >= 0")
        by_conc.setdefault(c, []).append(s)
    concs = sorted(by_conc)
    means = [statistics.fmean(by_conc[c]) for c in concs]
    nonzero = [c for c in concs if c > 0]
    failures: list[str] = []
    if len(nonzero) < acc.min_levels:
        failures.append(
            f"{len(nonzero)} non-zero standard levels; the rules need at least {acc.min_levels}"
        )
    if acc.require_monotonic and not _monotonic(means):
        failures.append("mean standard signals are not monotonic in concentration")
    fit: CurveFit | None = None
    try:
        fit = fit_curve(
            [c for c, _ in points], [s for _, s in points], acc.model, weighting=acc.weighting
        )
    except AssayInputError as exc:
        failures.append(f"curve fit failed: {exc}")
    levels: list[StandardLevel] = []
    if fit is not None:
        if fit.r_squared < acc.min_r_squared:
            failures.append(f"R² {fit.r_squared:.4f} is below {acc.min_r_squared}")
        lowest = nonzero[0] if nonzero else None
        for c, m in zip(concs, means, strict=True):
            if c == 0:
                levels.append(
                    StandardLevel(c, len(by_conc[c]), m, fit.inverse(m), None, None, None)
                )
                continue
            tol = acc.lloq_tolerance_pct if c == lowest else acc.tolerance_pct
            bc = fit.inverse(m)
            bias = None if bc is None else (bc - c) / c * 100.0
            ok = bias is not None and abs(bias) <= tol
            levels.append(StandardLevel(c, len(by_conc[c]), m, bc, bias, tol, ok))
    passing = [lv.concentration for lv in levels if lv.passed]
    if nonzero and fit is not None:
        frac = len(passing) / len(nonzero)
        if frac < acc.min_fraction_passing:
            failures.append(
                f"{len(passing)} of {len(nonzero)} standard levels back-calculate within tolerance "
                f"(need {acc.min_fraction_passing:.0%})"
            )
    lloq = min(passing) if passing else None
    uloq = max(passing) if passing else None
    if not passing and fit is not None:
        failures.append("no standard level back-calculates within tolerance")
    return StandardCurve(
        fit=fit,
        levels=tuple(levels),
        lloq=lloq,
        uloq=uloq,
        accepted=not failures and fit is not None,
        failures=tuple(failures),
        acceptance=acc,
    )


@dataclass(frozen=True)
class Quantity:
    """A back-calculated concentration, or a flag with the limit that was crossed."""

    value: float | None
    flag: Flag
    limit: float | None = None

    @property
    def text(self) -> str:
        if self.flag is Flag.BELOW_LLOQ:
            return f"< {self.limit:g} (below LLOQ)"
        if self.flag is Flag.ABOVE_ULOQ:
            return f"> {self.limit:g} (above ULOQ)"
        if self.value is None:
            return self.flag.value
        return f"{self.value:g}"


def quantify(curve: StandardCurve, signal: float) -> Quantity:
    """Back-calculate ``signal`` on an accepted curve; flag anything outside [LLOQ, ULOQ]."""
    if not math.isfinite(signal):
        raise AssayInputError(f"signal must be finite, got {signal!r}", field="signal")
    if not curve.accepted or curve.fit is None or curve.lloq is None or curve.uloq is None:
        return Quantity(None, Flag.CURVE_REJECTED)
    fit = curve.fit
    x = fit.inverse(signal)
    if x is None:
        low_side = signal <= min(fit.a, fit.d) if fit.increasing else signal >= max(fit.a, fit.d)
        if low_side:
            return Quantity(None, Flag.BELOW_LLOQ, curve.lloq)
        return Quantity(None, Flag.ABOVE_ULOQ, curve.uloq)
    if x < curve.lloq:
        return Quantity(None, Flag.BELOW_LLOQ, curve.lloq)
    if x > curve.uloq:
        return Quantity(None, Flag.ABOVE_ULOQ, curve.uloq)
    return Quantity(x, Flag.OK)


# --------------------------------------------------------------------------------------------
# Assays


@dataclass(frozen=True)
class SampleResult:
    sample: str
    wells: tuple[str, ...]
    mean_signal: float
    cv_pct: float | None
    quantity: Quantity
    flags: tuple[Flag, ...]


@dataclass(frozen=True)
class QuantifiedAssayResult:
    """ATP (luciferase) results: concentration of each sample on the ATP standard curve."""

    assay: str
    calculation_version: str
    source: str
    source_sha256: str
    unit: str
    blank_signal: float | None
    curve: StandardCurve
    samples: tuple[SampleResult, ...]


def _cv(values: Sequence[float]) -> float | None:
    if len(values) < 2:
        return None
    m = statistics.fmean(values)
    return statistics.stdev(values) / abs(m) * 100.0 if m != 0 else None


def _group_samples(rows: Sequence[PlateRow]) -> dict[str, list[PlateRow]]:
    out: dict[str, list[PlateRow]] = {}
    for r in rows:
        out.setdefault(r.sample, []).append(r)
    return out


def _sample_result(
    name: str, rows: Sequence[PlateRow], curve: StandardCurve, offset: float
) -> SampleResult:
    signals = [r.signal - offset for r in rows]
    mean = statistics.fmean(signals)
    cv = _cv(signals)
    q = quantify(curve, mean)
    flags = [q.flag] if q.flag is not Flag.OK else []
    lim = curve.acceptance.max_replicate_cv_pct
    if cv is not None and lim is not None and cv > lim:
        flags.append(Flag.REPLICATE_CV)
    return SampleResult(name, tuple(r.well for r in rows), mean, cv, q, tuple(flags))


def _blank(rows: Sequence[PlateRow]) -> float | None:
    blanks = [r.signal for r in rows if r.role == "blank"]
    return statistics.fmean(blanks) if blanks else None


def analyse_atp(
    plate: PlateData, acceptance: CurveAcceptance | None = None, *, unit: str = "nM"
) -> QuantifiedAssayResult:
    """ATP by luciferase: blank-subtracted RLU back-calculated on the ATP standard curve."""
    rows = list(plate.rows)
    blank = _blank(rows)
    offset = blank or 0.0
    standards = [(r.concentration, r.signal - offset) for r in rows if r.role == "standard"]
    pts = [(c, s) for c, s in standards if c is not None]
    if not pts:
        raise AssayInputError(f"{plate.source} has no ATP standards (role 'standard')")
    curve = evaluate_standards(pts, acceptance)
    samples = _group_samples([r for r in rows if r.role == "sample"])
    if not samples:
        raise AssayInputError(f"{plate.source} has no samples (role 'sample')")
    return QuantifiedAssayResult(
        assay="atp",
        calculation_version=CALCULATION_VERSION,
        source=plate.source,
        source_sha256=plate.sha256,
        unit=unit,
        blank_signal=blank,
        curve=curve,
        samples=tuple(_sample_result(n, rs, curve, offset) for n, rs in samples.items()),
    )


@dataclass(frozen=True)
class ADPATPSample:
    sample: str
    rlu_a: float
    rlu_b: float
    rlu_c: float
    ratio: float | None
    flags: tuple[Flag, ...]


@dataclass(frozen=True)
class ADPATPResult:
    assay: str
    calculation_version: str
    source: str
    source_sha256: str
    formula: str
    samples: tuple[ADPATPSample, ...]


def analyse_adp_atp(plate: PlateData) -> ADPATPResult:
    """Two-step luminescence ADP/ATP ratio = (RLU_C − RLU_B) / RLU_A per sample (mean of wells).

    Read A = ATP; B = the same wells after the wait; C = after the ADP→ATP conversion enzyme.
    The formula is the kit bulletin's (docs/design/domain-facts.md §10, to verify against the
    kit in use).
    """
    samples = _group_samples([r for r in plate.rows if r.role == "sample"])
    if not samples:
        raise AssayInputError(f"{plate.source} has no samples (role 'sample')")
    out: list[ADPATPSample] = []
    for name, rows in samples.items():
        reads: dict[str, list[float]] = {}
        for r in rows:
            reads.setdefault(r.read.upper(), []).append(r.signal)
        missing = [k for k in ("A", "B", "C") if k not in reads]
        if missing:
            raise AssayInputError(
                f"{plate.source}: sample {name!r} lacks read(s) {', '.join(missing)} "
                "(column 'read' must be A, B and C)",
                field="read",
            )
        a, b, c = (statistics.fmean(reads[k]) for k in ("A", "B", "C"))
        flags: list[Flag] = []
        ratio: float | None = None
        if a <= 0:
            flags.append(Flag.NOT_COMPUTABLE)
        else:
            ratio = (c - b) / a
        out.append(ADPATPSample(name, a, b, c, ratio, tuple(flags)))
    return ADPATPResult(
        "adp_atp",
        CALCULATION_VERSION,
        plate.source,
        plate.sha256,
        "(RLU_C − RLU_B) / RLU_A",
        tuple(out),
    )


@dataclass(frozen=True)
class NADSample:
    sample: str
    nad_plus: Quantity
    nadh: Quantity
    ratio: float | None  # NAD+/NADH, only when both are quantified
    total: float | None
    flags: tuple[Flag, ...]


@dataclass(frozen=True)
class NADResult:
    assay: str
    calculation_version: str
    source: str
    source_sha256: str
    unit: str
    acid_curve: StandardCurve
    base_curve: StandardCurve
    samples: tuple[NADSample, ...]


def analyse_nad(
    plate: PlateData, acceptance: CurveAcceptance | None = None, *, unit: str = "µM"
) -> NADResult:
    """NAD+/NADH from a split lysate: acid-treated wells → NAD+ on the acid-treated standard
    curve; base-treated wells → NADH on the base-treated curve. Ratio and total only when both
    are within their curve ranges."""
    curves: dict[str, StandardCurve] = {}
    blanks: dict[str, float] = {}
    for t in ("acid", "base"):
        rows = [r for r in plate.rows if r.treatment == t]
        blanks[t] = _blank(rows) or 0.0
        pts = [
            (r.concentration, r.signal - blanks[t])
            for r in rows
            if r.role == "standard" and r.concentration is not None
        ]
        if not pts:
            raise AssayInputError(
                f"{plate.source} has no {t}-treated NAD standards (role 'standard', "
                f"treatment '{t}')",
                field="treatment",
            )
        curves[t] = evaluate_standards(pts, acceptance)
    sample_rows = [r for r in plate.rows if r.role == "sample"]
    if not sample_rows:
        raise AssayInputError(f"{plate.source} has no samples (role 'sample')")
    out: list[NADSample] = []
    for name, rows in _group_samples(sample_rows).items():
        q: dict[str, Quantity] = {}
        for t in ("acid", "base"):
            sig = [r.signal - blanks[t] for r in rows if r.treatment == t]
            if not sig:
                raise AssayInputError(
                    f"{plate.source}: sample {name!r} has no {t}-treated well", field="treatment"
                )
            q[t] = quantify(curves[t], statistics.fmean(sig))
        nad, nadh = q["acid"], q["base"]
        flags = tuple(dict.fromkeys(x.flag for x in (nad, nadh) if x.flag is not Flag.OK))
        ratio = total = None
        if nad.value is not None and nadh.value is not None:
            total = nad.value + nadh.value
            ratio = nad.value / nadh.value if nadh.value > 0 else None
        out.append(NADSample(name, nad, nadh, ratio, total, flags))
    return NADResult(
        "nad_nadh",
        CALCULATION_VERSION,
        plate.source,
        plate.sha256,
        unit,
        curves["acid"],
        curves["base"],
        tuple(out),
    )


@dataclass(frozen=True)
class MMPSample:
    sample: str
    wells: tuple[str, ...]
    value: float  # JC-1: mean F590/F530 ratio; TMRM: mean MFI
    fccp_subtracted: float | None  # TMRM: MFI − FCCP MFI; JC-1: R − R_FCCP
    normalised: float | None  # JC-1: (R − R_FCCP) / (R_ctrl − R_FCCP)


@dataclass(frozen=True)
class MMPResult:
    assay: str
    calculation_version: str
    source: str
    source_sha256: str
    fccp_reference: float | None
    control_reference: float | None
    samples: tuple[MMPSample, ...]
    notes: tuple[str, ...] = field(default=())


def _jc1_ratios(rows: Sequence[PlateRow], source: str) -> dict[str, float]:
    red: dict[str, float] = {}
    green: dict[str, float] = {}
    for r in rows:
        if r.read in _JC1_RED:
            red[r.well] = r.signal
        elif r.read in _JC1_GREEN:
            green[r.well] = r.signal
        else:
            raise AssayInputError(
                f"{source}, row {r.line}: JC-1 read {r.read!r} must be 590/red or 530/green",
                row=r.line,
                field="read",
            )
    out: dict[str, float] = {}
    for w in red:
        if w not in green:
            raise AssayInputError(f"{source}: well {w} has a 590 nm read but no 530 nm read")
        if green[w] <= 0:
            raise AssayInputError(f"{source}: well {w} has a 530 nm signal <= 0", field=w)
        out[w] = red[w] / green[w]
    for w in green:
        if w not in red:
            raise AssayInputError(f"{source}: well {w} has a 530 nm read but no 590 nm read")
    return out


def analyse_jc1(plate: PlateData) -> MMPResult:
    """JC-1: R = F590/F530 per well; per sample mean R, R − R_FCCP and
    (R − R_FCCP)/(R_ctrl − R_FCCP) with the plate's FCCP and control wells."""
    ratios = _jc1_ratios(plate.rows, plate.source)
    role_of = {r.well: r for r in plate.rows}
    fccp = [v for w, v in ratios.items() if role_of[w].role == "fccp"]
    ctrl = [v for w, v in ratios.items() if role_of[w].role == "control"]
    r_fccp = statistics.fmean(fccp) if fccp else None
    r_ctrl = statistics.fmean(ctrl) if ctrl else None
    notes = []
    if r_fccp is None:
        notes.append("no FCCP wells: R − R_FCCP and the normalised ratio are not computed")
    if r_ctrl is None:
        notes.append("no control wells: the normalised ratio is not computed")
    by_sample: dict[str, list[str]] = {}
    for w in ratios:
        if role_of[w].role == "sample":
            by_sample.setdefault(role_of[w].sample, []).append(w)
    if not by_sample:
        raise AssayInputError(f"{plate.source} has no samples (role 'sample')")
    out = []
    for name, wells in by_sample.items():
        r = statistics.fmean(ratios[w] for w in wells)
        sub = r - r_fccp if r_fccp is not None else None
        norm = None
        if r_fccp is not None and r_ctrl is not None and r_ctrl != r_fccp:
            norm = (r - r_fccp) / (r_ctrl - r_fccp)
        out.append(MMPSample(name, tuple(wells), r, sub, norm))
    return MMPResult(
        "jc1",
        CALCULATION_VERSION,
        plate.source,
        plate.sha256,
        r_fccp,
        r_ctrl,
        tuple(out),
        tuple(notes),
    )


def analyse_tmrm(plate: PlateData) -> MMPResult:
    """TMRM/TMRE (non-quench): per sample mean MFI minus the mean FCCP-treated MFI."""
    rows = list(plate.rows)
    fccp = [r.signal for r in rows if r.role == "fccp"]
    r_fccp = statistics.fmean(fccp) if fccp else None
    ctrl = [r.signal for r in rows if r.role == "control"]
    r_ctrl = statistics.fmean(ctrl) if ctrl else None
    notes = [] if fccp else ["no FCCP wells: MFI − FCCP MFI is not computed"]
    samples = _group_samples([r for r in rows if r.role == "sample"])
    if not samples:
        raise AssayInputError(f"{plate.source} has no samples (role 'sample')")
    out = []
    for name, rs in samples.items():
        m = statistics.fmean(r.signal for r in rs)
        sub = m - r_fccp if r_fccp is not None else None
        norm = None
        if r_fccp is not None and r_ctrl is not None and r_ctrl != r_fccp:
            norm = (m - r_fccp) / (r_ctrl - r_fccp)
        out.append(MMPSample(name, tuple(r.well for r in rs), m, sub, norm))
    return MMPResult(
        "tmrm",
        CALCULATION_VERSION,
        plate.source,
        plate.sha256,
        r_fccp,
        r_ctrl,
        tuple(out),
        tuple(notes),
    )

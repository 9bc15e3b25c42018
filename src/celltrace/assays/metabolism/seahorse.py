"""Read Agilent Seahorse XF Wave exports (.xlsx) and per-well normalisation CSVs.

What is read (docs/design/domain-facts.md §9.4; layouts in docs/metabolism.md):

* ``Assay Configuration`` — found by **row labels, never by cell address**: Wave version, assay
  name, instrument serial, the group layout grid and the groups table (name, injection strategy,
  pretreatment, cell type, medium), the Protocol Summary (step names, ports, cycles → the
  measurement after which each injection happens), Calculation Settings, O2/pH settings, Proton
  Efflux Settings (``Plate Volume``, ``kVol``, calibration pH, default buffer factor), the
  Normalization Settings and the per-well Buffer Factor grid. Every constant is kept with its
  label and cell so that a calculation record can cite it.
* ``Rate`` — long format, one row per well × measurement: ``Measurement | Well | Group | Time |
  OCR | ECAR | PER``. Background-group rows are 0 (Wave already subtracted background).

The workbook is opened with ``read_only=True, data_only=True``: formulas are never evaluated.
Files that are not xlsx (checked by magic bytes), too large, or not Wave exports raise
:class:`~celltrace.assays.errors.InstrumentFileError` naming the sheet, row and column.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import math
import re
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from celltrace.assays.errors import InstrumentFileError
from celltrace.assays.metabolism.messages import AssayWarning

MAX_XLSX_BYTES = 50 * 1024 * 1024
MAX_XLSX_UNCOMPRESSED_BYTES = 400 * 1024 * 1024
MAX_RATE_ROWS = 200_000
MAX_CSV_BYTES = 1024 * 1024

CONFIG_SHEET = "Assay Configuration"
RATE_SHEET = "Rate"
BACKGROUND_GROUP = "Background"

# The PER integrity check of docs/design/domain-facts.md §9.5: PER/(BF·Vol·kVol) − ECAR is one
# constant per measurement across non-background wells (about 1e-12 in genuine exports). A larger
# spread flags an edited or damaged export.
PER_IDENTITY_TOLERANCE = 1e-6

_XLSX_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_WELL_RE = re.compile(r"^\s*([A-Pa-p])\s*0*([1-9]\d?)\s*$")
_ROW_LETTER_RE = re.compile(r"^[A-P]$")


def normalise_well(text: str) -> str:
    """``"a1"``, ``"A01"`` → ``"A01"``; raises ValueError for anything that is not a well."""
    m = _WELL_RE.match(text)
    if not m or int(m.group(2)) > 48:
        raise ValueError(f"{text!r} is not a well name such as A01")
    return f"{m.group(1).upper()}{int(m.group(2)):02d}"


def _col_letter(col: int) -> str:
    """1-based column index → spreadsheet letters."""
    out = ""
    while col > 0:
        col, rem = divmod(col - 1, 26)
        out = chr(65 + rem) + out
    return out


def _cell(row: int, col: int) -> str:
    return f"{_col_letter(col)}{row}"


def _label(value: Any) -> str:
    """Canonical form of a row label: case-folded, trailing colon and spaces removed."""
    if value is None:
        return ""
    return re.sub(r"\s+", " ", str(value)).strip().rstrip(":").strip().casefold()


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


@dataclass(frozen=True)
class Constant:
    """A value read from the export, with its label and where it was found."""

    label: str
    value: float | str
    location: str  # e.g. "Assay Configuration!B77"


@dataclass(frozen=True)
class ProtocolStep:
    """One column of the Protocol Summary."""

    name: str
    port: str | None
    cycles: int
    first_measurement: int | None  # None when the step has no measurement cycles
    last_measurement: int | None


@dataclass(frozen=True)
class Injection:
    """An injection from a cartridge port, made after measurement ``after_measurement``."""

    port: str
    name: str
    after_measurement: int


@dataclass(frozen=True)
class GroupInfo:
    """A row of the Groups table, with the wells the layout assigns to the group."""

    name: str
    injection_strategy: str
    pretreatment: str
    cell_type: str
    medium: str
    wells: tuple[str, ...]

    @property
    def is_background(self) -> bool:
        return self.name == BACKGROUND_GROUP


@dataclass(frozen=True)
class FileNormalisation:
    """Normalization Settings as stored in the export (often empty)."""

    unit: str
    scale_factor: float | None
    values: Mapping[str, float]


@dataclass(frozen=True)
class WaveExport:
    """Everything the analyses need from one Wave export."""

    filename: str
    sha256: str
    wave_version: str
    assay_name: str
    instrument_serial: str
    plate_rows: int
    plate_columns: int
    plate_volume_ul: float | None
    kvol: float | None
    constants: tuple[Constant, ...]
    steps: tuple[ProtocolStep, ...]
    injections: tuple[Injection, ...]
    groups: tuple[GroupInfo, ...]
    well_groups: Mapping[str, str]
    buffer_factors: Mapping[str, float]
    file_normalisation: FileNormalisation
    measurements: tuple[int, ...]
    times_min: tuple[float, ...]  # mean Time (min) per measurement
    wells: tuple[str, ...]  # plate order, as in the Rate sheet
    ocr: Mapping[str, tuple[float, ...]]  # pmol O2/min, per measurement
    ecar: Mapping[str, tuple[float, ...]]  # mpH/min
    per: Mapping[str, tuple[float, ...]] | None  # pmol H+/min; None if the export has no PER
    warnings: tuple[str, ...] = field(default=())

    @property
    def plate_format(self) -> str:
        return f"{self.plate_rows * self.plate_columns}-well"

    @property
    def instrument_family(self) -> str:
        """Inferred from the plate format: the export does not name the analyser model."""
        return {96: "XFe96/XF Pro", 24: "XFe24", 8: "XFp"}.get(
            self.plate_rows * self.plate_columns, "unknown"
        )

    @property
    def background_wells(self) -> tuple[str, ...]:
        return tuple(w for w in self.wells if self.well_groups.get(w) == BACKGROUND_GROUP)

    def group(self, name: str) -> GroupInfo:
        for g in self.groups:
            if g.name == name:
                return g
        raise KeyError(name)

    def constant(self, label: str) -> Constant | None:
        want = _label(label)
        for c in self.constants:
            if _label(c.label) == want:
                return c
        return None


# --------------------------------------------------------------------------------------------
# Opening the workbook


def _read_source(source: str | Path | bytes, filename: str | None) -> tuple[bytes, str]:
    if isinstance(source, bytes):
        return source, filename or "upload.xlsx"
    path = Path(source)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InstrumentFileError(f"cannot read {path}: {exc.strerror}") from exc
    if size > MAX_XLSX_BYTES:
        raise InstrumentFileError(
            f"{path.name} is {size} bytes; Wave exports above {MAX_XLSX_BYTES} bytes are refused"
        )
    return path.read_bytes(), filename or path.name


def _check_container(data: bytes, name: str) -> None:
    if len(data) > MAX_XLSX_BYTES:
        raise InstrumentFileError(
            f"{name} is {len(data)} bytes; Wave exports above {MAX_XLSX_BYTES} bytes are refused"
        )
    if data.startswith(_OLE_MAGIC):
        raise InstrumentFileError(
            f"{name} is a legacy .xls (OLE) file; export the assay from Wave as .xlsx"
        )
    if not data.startswith(_XLSX_MAGIC):
        raise InstrumentFileError(
            f"{name} is not an .xlsx workbook (no ZIP signature): not a Wave export"
        )
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            total = sum(info.file_size for info in zf.infolist())
            names = set(zf.namelist())
    except zipfile.BadZipFile as exc:
        raise InstrumentFileError(f"{name} is a damaged ZIP/xlsx container: {exc}") from exc
    if total > MAX_XLSX_UNCOMPRESSED_BYTES:
        raise InstrumentFileError(
            f"{name} expands to {total} bytes (limit {MAX_XLSX_UNCOMPRESSED_BYTES}); refused"
        )
    if "xl/workbook.xml" not in names:
        raise InstrumentFileError(f"{name} is a ZIP file but not an Excel workbook")


def _sheet_rows(wb: Any, title: str, name: str, max_rows: int) -> list[tuple[Any, ...]]:
    if title not in wb.sheetnames:
        raise InstrumentFileError(
            f"{name} has no sheet {title!r} (sheets: {', '.join(wb.sheetnames)}): "
            "not a Seahorse Wave export"
        )
    rows: list[tuple[Any, ...]] = []
    for row in wb[title].iter_rows(values_only=True):
        rows.append(tuple(row))
        if len(rows) > max_rows:
            raise InstrumentFileError(f"sheet {title!r} of {name} has more than {max_rows} rows")
    return rows


# --------------------------------------------------------------------------------------------
# Assay Configuration


class _Config:
    """Label-based access to the Assay Configuration sheet (1-based rows and columns)."""

    def __init__(self, rows: list[tuple[Any, ...]], name: str) -> None:
        self.rows = rows
        self.name = name

    def get(self, r: int, c: int) -> Any:
        if 1 <= r <= len(self.rows):
            row = self.rows[r - 1]
            if 1 <= c <= len(row):
                return row[c - 1]
        return None

    def find_label(self, label: str, col: int = 1) -> int | None:
        want = _label(label)
        for i, row in enumerate(self.rows, 1):
            if len(row) >= col and _label(row[col - 1]) == want:
                return i
        return None

    def find_anywhere(self, label: str) -> tuple[int, int] | None:
        want = _label(label)
        for i, row in enumerate(self.rows, 1):
            for j, v in enumerate(row, 1):
                if _label(v) == want:
                    return i, j
        return None

    def where(self, r: int, c: int) -> str:
        return f"{CONFIG_SHEET}!{_cell(r, c)}"

    def number(self, label: str, *, required: bool) -> tuple[float | None, Constant | None]:
        r = self.find_label(label)
        if r is None:
            if required:
                raise InstrumentFileError(
                    f"sheet {CONFIG_SHEET!r} of {self.name} has no row labelled {label!r} "
                    "in column A"
                )
            return None, None
        raw = self.get(r, 2)
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            if required:
                raise InstrumentFileError(
                    f"{self.where(r, 2)} ({label}) is empty in {self.name}", row=r, field=label
                )
            return None, None
        value = _as_number(raw)
        if value is None:
            raise InstrumentFileError(
                f"{self.where(r, 2)} ({label}) is not a finite number: {raw!r}",
                row=r,
                field=label,
            )
        return value, Constant(label, value, self.where(r, 2))

    def text(self, label: str) -> tuple[str, Constant | None]:
        r = self.find_label(label)
        if r is None:
            return "", None
        value = _text(self.get(r, 2))
        return value, Constant(label, value, self.where(r, 2))

    def grid(self, label: str) -> dict[str, tuple[Any, str]] | None:
        """A plate grid whose header row carries ``label`` in column A and column numbers.

        Returns well → (raw value, cell address), or None when the label is absent.
        """
        r = self.find_label(label)
        if r is None:
            return None
        header = self.rows[r - 1]
        cols: dict[int, int] = {}
        # Column numbers run 1, 2, … from column C; the first gap ends the grid (the Groups
        # table sits further right on the same rows).
        for j in range(3, len(header) + 1):
            v = header[j - 1]
            if isinstance(v, int | float) and not isinstance(v, bool) and float(v) == len(cols) + 1:
                cols[j] = int(v)
            else:
                break
        out: dict[str, tuple[Any, str]] = {}
        rr = r + 1
        while rr <= len(self.rows):
            letter = _text(self.get(rr, 2))
            if not _ROW_LETTER_RE.match(letter):
                break
            for j, n in cols.items():
                out[f"{letter}{n:02d}"] = (self.get(rr, j), self.where(rr, j))
            rr += 1
        return out


def _as_number(raw: Any) -> float | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int | float):
        v = float(raw)
    elif isinstance(raw, str):
        try:
            v = float(raw.strip())
        except ValueError:
            return None
    else:
        return None
    return v if math.isfinite(v) else None


_NUMERIC_CONSTANTS = (
    "Atmospheric Pressure",
    "% O2",
    "ksv",
    "Corrected Ksv",
    "Calculated FO",
    "Pseudo Volume",
    "TAC",
    "TAW",
    "TW",
    "TC",
    "TP",
    "Edge Offset",
    "Default Buffer Factor",
    "Calibration pH",
)
_TEXT_CONSTANTS = (
    "Background Correction",
    "Calculation Method",
    "Ksv Temp Correction",
    "ECAR Technique",
    "Temperature Gain Correction",
    "Cartridge Lot",
    "Cartridge Barcode",
    "Plate Lot",
    "Plate Barcode",
    "Last Run",
)


def _parse_layout(cfg: _Config) -> tuple[dict[str, str], int, int]:
    grid = cfg.grid("Group Layout")
    if grid is None:
        raise InstrumentFileError(
            f"sheet {CONFIG_SHEET!r} of {cfg.name} has no 'Group Layout' row in column A"
        )
    if not grid:
        raise InstrumentFileError(f"the Group Layout grid of {cfg.name} is empty")
    layout = {w: _text(v) for w, (v, _) in grid.items() if _text(v)}
    rows = len({w[0] for w in grid})
    cols = len({w[1:] for w in grid})
    return layout, rows, cols


def _parse_groups(cfg: _Config, layout: Mapping[str, str]) -> tuple[GroupInfo, ...]:
    pos = cfg.find_anywhere("Group Name")
    names_in_layout = list(dict.fromkeys(layout.values()))
    wells_by_group: dict[str, list[str]] = {}
    for w, g in layout.items():
        wells_by_group.setdefault(g, []).append(w)
    if pos is None:
        # No groups table: keep the layout's groups without conditions.
        return tuple(
            GroupInfo(g, "", "", "", "", tuple(sorted(wells_by_group[g], key=_well_key)))
            for g in names_in_layout
        )
    hr, hc = pos
    header = {_label(cfg.get(hr, j)): j for j in range(hc, hc + 8)}

    def col(label: str) -> int | None:
        return header.get(_label(label))

    groups: list[GroupInfo] = []
    seen: set[str] = set()
    r = hr + 1
    while r <= len(cfg.rows):
        name = _text(cfg.get(r, hc))
        if not name:
            break
        seen.add(name)

        def val(label: str, row: int = r) -> str:
            c = col(label)
            return _text(cfg.get(row, c)) if c else ""

        groups.append(
            GroupInfo(
                name=name,
                injection_strategy=val("Injection Strategy"),
                pretreatment=val("Pretreatments"),
                cell_type=val("Cell Type"),
                medium=val("XF Assay Medium"),
                wells=tuple(sorted(wells_by_group.get(name, []), key=_well_key)),
            )
        )
        r += 1
    for g in names_in_layout:
        if g not in seen:
            raise InstrumentFileError(
                f"group {g!r} is used in the Group Layout of {cfg.name} but is missing from the "
                f"Groups table at {cfg.where(hr, hc)}"
            )
    return tuple(groups)


_CYCLES_RE = re.compile(r"^\s*cycles\s*:\s*(\d+)\s*$", re.IGNORECASE)
_PORT_RE = re.compile(r"^\s*port\(s\)\s*:\s*(.+?)\s*$", re.IGNORECASE)


def _parse_protocol(cfg: _Config) -> tuple[ProtocolStep, ...]:
    r = cfg.find_label("Protocol Summary")
    if r is None:
        raise InstrumentFileError(
            f"sheet {CONFIG_SHEET!r} of {cfg.name} has no 'Protocol Summary' row in column A: "
            "the injection strategy cannot be read"
        )
    names_row = r + 1
    names = {
        j: _text(cfg.get(names_row, j))
        for j in range(2, len(cfg.rows[names_row - 1]) + 1 if names_row <= len(cfg.rows) else 2)
        if _text(cfg.get(names_row, j))
    }
    if not names:
        raise InstrumentFileError(
            f"the Protocol Summary of {cfg.name} lists no steps (row {names_row})", row=names_row
        )
    ports: dict[int, str] = {}
    cycles: dict[int, int] = {}
    rr = names_row + 1
    while rr <= len(cfg.rows) and not _text(cfg.get(rr, 1)):
        for j in names:
            t = _text(cfg.get(rr, j))
            if m := _PORT_RE.match(t):
                ports[j] = m.group(1)
            elif m := _CYCLES_RE.match(t):
                cycles[j] = int(m.group(1))
        rr += 1
    steps: list[ProtocolStep] = []
    done = 0
    for j in sorted(names):
        n = cycles.get(j, 0)
        first, last = (done + 1, done + n) if n else (None, None)
        steps.append(ProtocolStep(names[j], ports.get(j), n, first, last))
        done += n
    return tuple(steps)


def _injections(steps: Sequence[ProtocolStep]) -> tuple[Injection, ...]:
    out: list[Injection] = []
    done = 0
    for s in steps:
        if s.port is not None:
            out.append(Injection(port=s.port, name=s.name, after_measurement=done))
        done += s.cycles
    return tuple(out)


def _well_key(well: str) -> tuple[str, int]:
    return well[0], int(well[1:])


# --------------------------------------------------------------------------------------------
# Rate sheet


_RATE_COLUMNS = ("measurement", "well", "group", "time", "ocr", "ecar", "per")


def _rate_header(row: tuple[Any, ...], name: str) -> dict[str, int]:
    found: dict[str, int] = {}
    for j, v in enumerate(row):
        lab = _label(v)
        for key in _RATE_COLUMNS:
            if key not in found and (lab == key or lab.startswith(key + " ")):
                found[key] = j
    missing = [k for k in _RATE_COLUMNS[:6] if k not in found]
    if missing:
        raise InstrumentFileError(
            f"sheet {RATE_SHEET!r} of {name}: header row 1 lacks column(s) "
            f"{', '.join(repr(k.upper() if k in ('ocr', 'ecar') else k.title()) for k in missing)}"
            " — expected Measurement | Well | Group | Time | OCR | ECAR | PER",
            row=1,
        )
    return found


def _parse_rate(
    rows: list[tuple[Any, ...]], name: str
) -> tuple[
    tuple[int, ...],
    tuple[float, ...],
    tuple[str, ...],
    dict[str, str],
    dict[str, tuple[float, ...]],
    dict[str, tuple[float, ...]],
    dict[str, tuple[float, ...]] | None,
]:
    if not rows:
        raise InstrumentFileError(f"sheet {RATE_SHEET!r} of {name} is empty", row=1)
    cols = _rate_header(rows[0], name)
    has_per = "per" in cols
    data: dict[tuple[str, int], tuple[float, float, float]] = {}
    groups: dict[str, str] = {}
    times: dict[int, list[float]] = {}
    wells: list[str] = []

    def num(row: tuple[Any, ...], key: str, r: int) -> float:
        j = cols[key]
        raw = row[j] if j < len(row) else None
        v = _as_number(raw)
        if v is None:
            raise InstrumentFileError(
                f"sheet {RATE_SHEET!r} of {name}, cell {_cell(r, j + 1)} ({key.upper()}): "
                f"expected a finite number, found {raw!r}",
                row=r,
                field=key,
            )
        return v

    for r, row in enumerate(rows[1:], 2):
        if all(v is None or (isinstance(v, str) and not v.strip()) for v in row):
            continue
        m_raw = row[cols["measurement"]] if cols["measurement"] < len(row) else None
        m = _as_number(m_raw)
        if m is None or not m.is_integer() or m < 1:
            raise InstrumentFileError(
                f"sheet {RATE_SHEET!r} of {name}, cell {_cell(r, cols['measurement'] + 1)}: "
                f"measurement number expected, found {m_raw!r}",
                row=r,
                field="Measurement",
            )
        w_raw = _text(row[cols["well"]] if cols["well"] < len(row) else None)
        try:
            well = normalise_well(w_raw)
        except ValueError:
            raise InstrumentFileError(
                f"sheet {RATE_SHEET!r} of {name}, cell {_cell(r, cols['well'] + 1)}: "
                f"well name expected, found {w_raw!r}",
                row=r,
                field="Well",
            ) from None
        mi = int(m)
        if (well, mi) in data:
            raise InstrumentFileError(
                f"sheet {RATE_SHEET!r} of {name}, row {r}: well {well} measurement {mi} appears "
                "twice",
                row=r,
            )
        grp = _text(row[cols["group"]] if cols["group"] < len(row) else None)
        if well in groups and groups[well] != grp:
            raise InstrumentFileError(
                f"sheet {RATE_SHEET!r} of {name}, row {r}: well {well} is in group {grp!r} here "
                f"but in {groups[well]!r} on an earlier row",
                row=r,
            )
        if well not in groups:
            wells.append(well)
        groups[well] = grp
        times.setdefault(mi, []).append(num(row, "time", r))
        data[(well, mi)] = (
            num(row, "ocr", r),
            num(row, "ecar", r),
            num(row, "per", r) if has_per else math.nan,
        )
    if not data:
        raise InstrumentFileError(f"sheet {RATE_SHEET!r} of {name} has no rate rows", row=2)
    measurements = tuple(sorted(times))
    if measurements != tuple(range(1, len(measurements) + 1)):
        raise InstrumentFileError(
            f"sheet {RATE_SHEET!r} of {name}: measurements must run 1..N without gaps, "
            f"found {list(measurements)}"
        )
    for w in wells:
        for mi in measurements:
            if (w, mi) not in data:
                raise InstrumentFileError(
                    f"sheet {RATE_SHEET!r} of {name}: well {w} has no row for measurement {mi}"
                )
    ocr = {w: tuple(data[(w, mi)][0] for mi in measurements) for w in wells}
    ecar = {w: tuple(data[(w, mi)][1] for mi in measurements) for w in wells}
    per = {w: tuple(data[(w, mi)][2] for mi in measurements) for w in wells} if has_per else None
    mean_times = tuple(sum(times[mi]) / len(times[mi]) for mi in measurements)
    return measurements, mean_times, tuple(wells), groups, ocr, ecar, per


# --------------------------------------------------------------------------------------------
# Public reader


def read_wave_export(source: str | Path | bytes, *, filename: str | None = None) -> WaveExport:
    """Read a Wave .xlsx export from a path or from bytes.

    Raises :class:`InstrumentFileError` for anything that is not a readable Wave export.
    """
    data, name = _read_source(source, filename)
    _check_container(data, name)
    sha = hashlib.sha256(data).hexdigest()
    import openpyxl  # deferred: keeps `import celltrace.assays.metabolism` light

    try:
        wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for damaged workbooks
        raise InstrumentFileError(f"{name} cannot be opened as a workbook: {exc}") from exc
    try:
        cfg_rows = _sheet_rows(wb, CONFIG_SHEET, name, 5000)
        rate_rows = _sheet_rows(wb, RATE_SHEET, name, MAX_RATE_ROWS)
    finally:
        wb.close()
    cfg = _Config(cfg_rows, name)

    version, version_c = cfg.text("XFe Assay Version")
    if version_c is None:
        raise InstrumentFileError(
            f"sheet {CONFIG_SHEET!r} of {name} has no 'XFe Assay Version' row: "
            "not a Seahorse Wave export"
        )
    constants: list[Constant] = [version_c]
    assay_name, c = cfg.text("Assay Name")
    serial, c2 = cfg.text("Instrument Serial")
    constants += [x for x in (c, c2) if x is not None]

    plate_volume, pv_c = cfg.number("Plate Volume", required=False)
    kvol, kv_c = cfg.number("kVol", required=False)
    constants += [x for x in (pv_c, kv_c) if x is not None]
    for label in _NUMERIC_CONSTANTS:
        _, nc = cfg.number(label, required=False)
        if nc is not None:
            constants.append(nc)
    for label in _TEXT_CONSTANTS:
        _, tc = cfg.text(label)
        if tc is not None:
            constants.append(tc)

    layout, n_rows, n_cols = _parse_layout(cfg)
    groups = _parse_groups(cfg, layout)
    steps = _parse_protocol(cfg)
    injections = _injections(steps)

    buffer_factors: dict[str, float] = {}
    bf_grid = cfg.grid("Buffer Factor")
    if bf_grid is not None:
        for w, (raw, where) in bf_grid.items():
            if raw is None or (isinstance(raw, str) and not raw.strip()):
                continue
            v = _as_number(raw)
            if v is None or v < 0:
                raise InstrumentFileError(
                    f"{where} (buffer factor of well {w}) is not a finite number >= 0: {raw!r}",
                    field="Buffer Factor",
                )
            buffer_factors[w] = v
            constants.append(Constant(f"Buffer Factor {w}", v, where))

    unit, unit_c = cfg.text("Normalization Unit")
    scale, scale_c = cfg.number("Norm. Scale Factor", required=False)
    constants += [x for x in (unit_c, scale_c) if x is not None]
    norm_values: dict[str, float] = {}
    norm_grid = cfg.grid("Normalization Values")
    if norm_grid is not None:
        for w, (raw, where) in norm_grid.items():
            if raw is None or (isinstance(raw, str) and not raw.strip()):
                continue
            v = _as_number(raw)
            if v is None:
                raise InstrumentFileError(
                    f"{where} (normalisation value of well {w}) is not a finite number: {raw!r}",
                    field="Normalization Values",
                )
            norm_values[w] = v

    measurements, times, wells, rate_groups, ocr, ecar, per = _parse_rate(rate_rows, name)

    total_cycles = sum(s.cycles for s in steps)
    if total_cycles != len(measurements):
        raise InstrumentFileError(
            f"the Protocol Summary of {name} has {total_cycles} measurement cycles but sheet "
            f"{RATE_SHEET!r} has {len(measurements)} measurements: injections cannot be placed"
        )
    for w in wells:
        lg = layout.get(w)
        if lg is None:
            raise InstrumentFileError(
                f"well {w} has rates in sheet {RATE_SHEET!r} of {name} but no group in the "
                "Group Layout"
            )
        if lg != rate_groups[w]:
            raise InstrumentFileError(
                f"well {w} is in group {rate_groups[w]!r} in sheet {RATE_SHEET!r} but in "
                f"{lg!r} in the Group Layout of {name}"
            )
    well_groups = {w: layout[w] for w in wells}
    export = WaveExport(
        filename=name,
        sha256=sha,
        wave_version=version,
        assay_name=assay_name,
        instrument_serial=serial,
        plate_rows=n_rows,
        plate_columns=n_cols,
        plate_volume_ul=plate_volume,
        kvol=kvol,
        constants=tuple(constants),
        steps=steps,
        injections=injections,
        groups=tuple(g for g in groups if g.wells or g.name in well_groups.values()),
        well_groups=well_groups,
        buffer_factors=buffer_factors,
        file_normalisation=FileNormalisation(unit, scale, norm_values),
        measurements=measurements,
        times_min=times,
        wells=wells,
        ocr=ocr,
        ecar=ecar,
        per=per,
    )
    return dataclasses.replace(export, warnings=tuple(per_integrity_warnings(export)))


def per_offsets(export: WaveExport) -> dict[int, list[float]]:
    """PER/(BF·Vol·kVol) − ECAR per measurement, over non-background wells with BF > 0.

    Wave builds PER from ECAR before background subtraction, so these values are one constant
    per measurement in a genuine export (docs/design/domain-facts.md §9.5).
    """
    out: dict[int, list[float]] = {}
    if export.per is None or not export.plate_volume_ul or not export.kvol:
        return out
    for w in export.wells:
        bf = export.buffer_factors.get(w, 0.0)
        if export.well_groups[w] == BACKGROUND_GROUP or bf <= 0:
            continue
        k = bf * export.plate_volume_ul * export.kvol
        for i, mi in enumerate(export.measurements):
            out.setdefault(mi, []).append(export.per[w][i] / k - export.ecar[w][i])
    return out


def per_integrity_warnings(export: WaveExport) -> list[str]:
    """Check the PER identity of docs/design/domain-facts.md §9.5 and describe any violation (as
    :class:`~.messages.AssayWarning` texts).

    A spread of PER/(BF·Vol·kVol) − ECAR within a measurement above
    :data:`PER_IDENTITY_TOLERANCE` flags an edited or damaged export.
    """
    if export.per is None:
        return [AssayWarning("per_column_missing")]
    if not export.plate_volume_ul or not export.kvol or not export.buffer_factors:
        return [AssayWarning("per_check_skipped")]
    out: list[str] = []
    for mi, vals in sorted(per_offsets(export).items()):
        spread = max(vals) - min(vals)
        if spread > PER_IDENTITY_TOLERANCE:
            out.append(
                AssayWarning("per_identity_spread", measurement=str(mi), spread=f"{spread:.3g}")
            )
    return out


# --------------------------------------------------------------------------------------------
# Normalisation CSV


@dataclass(frozen=True)
class Normalisation:
    """Per-well normalisation values (cell counts, µg protein, …) and the Wave scale factor.

    ``normalised rate = rate / (value / scale_factor)`` (docs/design/domain-facts.md §9.1).
    """

    values: Mapping[str, float]
    unit: str = "cells"
    scale_factor: float = 1.0
    source: str = ""
    sha256: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "scale_factor", float(self.scale_factor))
        if not math.isfinite(self.scale_factor) or self.scale_factor <= 0:
            raise InstrumentFileError(
                f"normalisation scale factor must be a finite number > 0, got {self.scale_factor}",
                field="scale_factor",
            )
        if not self.unit.strip():
            raise InstrumentFileError("normalisation unit must not be empty", field="unit")

    @property
    def unit_label(self) -> str:
        """E.g. ``"10000 cells"``, or ``"cells"`` with scale 1."""
        s = self.scale_factor
        scale = (f"{int(s)}" if s.is_integer() else f"{s:g}") + " " if s != 1 else ""
        return f"{scale}{self.unit}"


def _csv_rows(text: str, name: str) -> list[list[str]]:
    try:
        return [r for r in csv.reader(io.StringIO(text)) if any(c.strip() for c in r)]
    except csv.Error as exc:
        raise InstrumentFileError(f"{name} is not a readable CSV file: {exc}") from exc


def _decode_csv(data: bytes, name: str) -> str:
    if len(data) > MAX_CSV_BYTES:
        raise InstrumentFileError(f"{name} is larger than {MAX_CSV_BYTES} bytes; refused")
    if data.startswith((_XLSX_MAGIC, _OLE_MAGIC)):
        raise InstrumentFileError(f"{name} is a spreadsheet, not a CSV file; save it as CSV")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InstrumentFileError(f"{name} is not UTF-8 text: {exc}") from exc


_COL_NUM_RE = re.compile(r"(\d+)\s*$")


def read_plate_grid(rows: Sequence[Sequence[str]], name: str) -> dict[str, float]:
    """Parse a plate grid: header ``<any>, 1, 2, …`` (or ``x01``, ``Col 1``…), rows ``A, …``.

    Empty cells are skipped; other cells must be finite numbers.
    """
    header = rows[0]
    cols: dict[int, int] = {}
    for j, h in enumerate(header[1:], 1):
        if not h.strip():
            continue
        m = _COL_NUM_RE.search(h.strip())
        if not m or not 1 <= int(m.group(1)) <= 48:
            raise InstrumentFileError(
                f"{name}, row 1, column {j + 1}: column number expected, found {h!r}",
                row=1,
                field=h,
            )
        cols[j] = int(m.group(1))
    out: dict[str, float] = {}
    for r, row in enumerate(rows[1:], 2):
        letter = row[0].strip().upper() if row else ""
        if not _ROW_LETTER_RE.match(letter):
            raise InstrumentFileError(
                f"{name}, row {r}, column 1: row letter A–P expected, found {row[0]!r}", row=r
            )
        for j, n in cols.items():
            cell = row[j].strip() if j < len(row) else ""
            if not cell:
                continue
            v = _as_number(cell)
            if v is None:
                raise InstrumentFileError(
                    f"{name}, row {r}, column {j + 1} (well {letter}{n:02d}): finite number "
                    f"expected, found {cell!r}",
                    row=r,
                    field=f"{letter}{n:02d}",
                )
            out[f"{letter}{n:02d}"] = v
    return out


def read_normalisation_csv(
    source: str | Path | bytes,
    *,
    unit: str = "cells",
    scale_factor: float = 1.0,
    filename: str | None = None,
) -> Normalisation:
    """Read per-well normalisation values from a CSV in one of two layouts.

    * **Grid**: first row ``row,1,2,…`` (column headers may be ``x01``, ``01``, ``Col 1``: the
      trailing number is the plate column), then one row per plate row starting with its letter
      — the layout of the shared ``xfe24-mst-counts_*.csv`` files.
    * **Long**: header ``well,<value name>`` then ``A01,12345`` rows.

    A UTF-8 byte-order mark and CRLF line ends are accepted. Values must be finite and >= 0.
    """
    if isinstance(source, bytes):
        data, name = source, filename or "normalisation.csv"
    else:
        path = Path(source)
        try:
            if path.stat().st_size > MAX_CSV_BYTES:
                raise InstrumentFileError(f"{path.name} is larger than {MAX_CSV_BYTES} bytes")
            data = path.read_bytes()
        except OSError as exc:
            raise InstrumentFileError(f"cannot read {path}: {exc.strerror}") from exc
        name = filename or path.name
    text = _decode_csv(data, name)
    rows = _csv_rows(text, name)
    if len(rows) < 2:
        raise InstrumentFileError(f"{name} has no data rows", row=1)
    first = _label(rows[0][0])
    if first == "well":
        if len(rows[0]) < 2:
            raise InstrumentFileError(f"{name}: long layout needs columns well,value", row=1)
        values: dict[str, float] = {}
        for r, row in enumerate(rows[1:], 2):
            try:
                well = normalise_well(row[0])
            except ValueError:
                raise InstrumentFileError(
                    f"{name}, row {r}, column 1: well name expected, found {row[0]!r}", row=r
                ) from None
            cell = row[1].strip() if len(row) > 1 else ""
            if not cell:
                continue
            v = _as_number(cell)
            if v is None:
                raise InstrumentFileError(
                    f"{name}, row {r}, column 2: finite number expected, found {cell!r}", row=r
                )
            if well in values:
                raise InstrumentFileError(f"{name}, row {r}: well {well} appears twice", row=r)
            values[well] = v
    else:
        values = read_plate_grid(rows, name)
    for w, v in values.items():
        if v < 0:
            raise InstrumentFileError(
                f"{name}: normalisation value of well {w} is negative ({v})", field=w
            )
    if not values:
        raise InstrumentFileError(f"{name} holds no normalisation values")
    return Normalisation(
        values=values,
        unit=unit,
        scale_factor=scale_factor,
        source=name,
        sha256=hashlib.sha256(data).hexdigest(),
    )


def iter_wells(export: WaveExport, groups: Iterable[str]) -> list[str]:
    """Wells of the given groups in plate order."""
    wanted = set(groups)
    return [w for w in export.wells if export.well_groups[w] in wanted]

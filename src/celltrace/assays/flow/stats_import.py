"""Population statistics exported from FlowJo, Kaluza or BD FACSDiva (CSV) → release counts.

Accepted layouts (detected from the header row; see docs/flow-cytometry.md):

``flowjo``   FlowJo table-editor export, one row per sample.  The first column holds the sample
             name; every other column is ``<gate path> | <statistic>``, e.g.
             ``Lymphocytes/Single Cells/Live/CD3+ | Count``.  ``Count`` columns are required for
             mapped populations; ``Freq. of Parent``/``Freq. of Total`` are read but only used as
             a cross-check.  Rows named ``Mean`` or ``SD`` are ignored.
``kaluza``   Kaluza gate-statistics table, one row per gate: ``Gate`` and ``Number`` columns,
             optional ``%Gated``/``%Total`` and an optional ``File``/``Sample`` column.
``facsdiva`` FACSDiva statistics export, one row per population: ``Population`` and
             ``#Events``, optional ``%Parent``/``%Total`` and an optional ``Tube Name``/
             ``Tube``/``Sample`` column.  Leading indentation of population names is ignored.

Release values are computed from **counts** only; exported percentages are rounded by the
software and never used as inputs.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from celltrace.assays.errors import InstrumentFileError
from celltrace.assays.flow.release import (
    FlowInputs,
    FlowSampleResult,
    PopulationCount,
    ReleasePopulation,
    SampleCounts,
    check_nesting,
    population_map,
    sample_result,
)


class StatsLayout(StrEnum):
    FLOWJO = "flowjo"
    KALUZA = "kaluza"
    FACSDIVA = "facsdiva"


@dataclass(frozen=True)
class PopulationStat:
    """One population of one sample as exported."""

    sample: str
    population: str  # FlowJo: full gate path; Kaluza/FACSDiva: gate/population name
    count: int | None
    percent_of_parent: float | None
    percent_of_total: float | None
    row: int  # 1-based line number in the file (FlowJo: the sample's row)


@dataclass(frozen=True)
class StatsTable:
    layout: StatsLayout
    file_name: str
    file_sha256: str
    rows: tuple[PopulationStat, ...]

    def samples(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for r in self.rows:
            seen.setdefault(r.sample, None)
        return tuple(seen)


_FLOWJO_SKIP_ROWS = {"mean", "sd"}
_KALUZA_SAMPLE_COLS = ("file", "file name", "sample", "data set")
_DIVA_SAMPLE_COLS = ("tube name", "tube", "sample", "specimen")


def _norm(header: str) -> str:
    return re.sub(r"\s+", " ", header.strip().lower().replace("% ", "%").rstrip(":"))


def _decode(raw: bytes, file_name: str) -> str:
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise InstrumentFileError(f"{file_name}: not a text file (neither UTF-8 nor Windows-1252)")


def _parse_int(value: str, file_name: str, row: int, col: str) -> int | None:
    text = value.strip()
    if text in ("", "n/a", "NaN", "-"):
        return None
    if not re.fullmatch(r"\d+", text):
        raise InstrumentFileError(
            f"{file_name} line {row}, column {col!r}: event count {value!r} is not a "
            f"non-negative whole number",
            row=row,
            field=col,
        )
    return int(text)


def _parse_float(value: str, file_name: str, row: int, col: str) -> float | None:
    text = value.strip().rstrip("%").strip()
    if text in ("", "n/a", "NaN", "-") or set(text) == {"#"}:  # FACSDiva shows #### for n/a
        return None
    try:
        return float(text)
    except ValueError:
        raise InstrumentFileError(
            f"{file_name} line {row}, column {col!r}: {value!r} is not a number",
            row=row,
            field=col,
        ) from None


def detect_layout(header: list[str]) -> StatsLayout | None:
    normed = [_norm(h) for h in header]
    if any(" | " in h for h in header):
        return StatsLayout.FLOWJO
    if "gate" in normed and "number" in normed:
        return StatsLayout.KALUZA
    if "population" in normed and "#events" in normed:
        return StatsLayout.FACSDIVA
    return None


def read_stats_csv(
    source: str | Path | bytes,
    *,
    layout: StatsLayout | str | None = None,
    file_name: str | None = None,
    sample_id: str | None = None,
) -> StatsTable:
    """Read an exported statistics CSV.  ``layout=None`` detects it from the header.

    ``sample_id`` names the sample for Kaluza/FACSDiva tables that carry no sample column
    (default: the file name without extension).
    """
    if isinstance(source, bytes):
        raw = source
        name = file_name or "statistics.csv"
    else:
        path = Path(source)
        name = file_name or path.name
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise InstrumentFileError(f"{name}: cannot be read ({exc.strerror})") from None
    sha = hashlib.sha256(raw).hexdigest()
    text = _decode(raw, name)
    sample = text[:4096]
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    lines = [row for row in csv.reader(io.StringIO(text), dialect) if any(c.strip() for c in row)]
    if not lines:
        raise InstrumentFileError(f"{name}: the file is empty")
    header = lines[0]
    detected = detect_layout(header)
    wanted = StatsLayout(layout) if layout is not None else detected
    if wanted is None:
        raise InstrumentFileError(
            f"{name}: unrecognised statistics layout (header {header[:6]!r}); expected a FlowJo "
            f"table ('<gate path> | Count' columns), a Kaluza table ('Gate', 'Number') or a "
            f"FACSDiva table ('Population', '#Events')",
            row=1,
        )
    if detected is not wanted:
        raise InstrumentFileError(
            f"{name}: header does not match the {wanted.value} layout (header {header[:6]!r})",
            row=1,
        )
    default_sample = sample_id or Path(name).stem
    if wanted is StatsLayout.FLOWJO:
        rows = _read_flowjo(lines, name)
    elif wanted is StatsLayout.KALUZA:
        rows = _read_long(
            lines, name, default_sample, "gate", "number", "%gated", "%total", _KALUZA_SAMPLE_COLS
        )
    else:
        rows = _read_long(
            lines,
            name,
            default_sample,
            "population",
            "#events",
            "%parent",
            "%total",
            _DIVA_SAMPLE_COLS,
        )
    if not rows:
        raise InstrumentFileError(f"{name}: no population rows found")
    return StatsTable(layout=wanted, file_name=name, file_sha256=sha, rows=tuple(rows))


def _read_flowjo(lines: list[list[str]], name: str) -> list[PopulationStat]:
    header = lines[0]
    columns: dict[str, dict[str, int]] = {}  # path -> statistic -> column index
    for idx, col in enumerate(header[1:], start=1):
        if " | " not in col:
            continue
        path, stat = col.rsplit(" | ", 1)
        columns.setdefault(path.strip(), {})[_norm(stat)] = idx
    out: list[PopulationStat] = []
    for line_no, line in enumerate(lines[1:], start=2):
        sample = line[0].strip() if line else ""
        if not sample or sample.lower() in _FLOWJO_SKIP_ROWS:
            continue
        if len(line) < len(header):
            raise InstrumentFileError(
                f"{name} line {line_no}: {len(line)} fields, header has {len(header)}",
                row=line_no,
            )
        for path, stats in columns.items():

            def cell(stat: str, stats: dict[str, int] = stats, line: list[str] = line) -> str:
                return line[stats[stat]] if stat in stats else ""

            out.append(
                PopulationStat(
                    sample=sample,
                    population=path,
                    count=_parse_int(cell("count"), name, line_no, f"{path} | Count"),
                    percent_of_parent=_parse_float(
                        cell("freq. of parent"), name, line_no, f"{path} | Freq. of Parent"
                    ),
                    percent_of_total=_parse_float(
                        cell("freq. of total"), name, line_no, f"{path} | Freq. of Total"
                    ),
                    row=line_no,
                )
            )
    return out


def _read_long(
    lines: list[list[str]],
    name: str,
    default_sample: str,
    pop_col: str,
    count_col: str,
    parent_col: str,
    total_col: str,
    sample_cols: tuple[str, ...],
) -> list[PopulationStat]:
    header = [_norm(h) for h in lines[0]]
    idx = {h: i for i, h in enumerate(header)}
    sample_idx = next((idx[c] for c in sample_cols if c in idx), None)
    out: list[PopulationStat] = []
    for line_no, line in enumerate(lines[1:], start=2):
        line = line + [""] * (len(header) - len(line))
        pop = line[idx[pop_col]].strip()
        if not pop:
            continue
        sample = line[sample_idx].strip() if sample_idx is not None else default_sample
        out.append(
            PopulationStat(
                sample=sample or default_sample,
                population=pop,
                count=_parse_int(line[idx[count_col]], name, line_no, lines[0][idx[count_col]]),
                percent_of_parent=(
                    _parse_float(line[idx[parent_col]], name, line_no, parent_col)
                    if parent_col in idx
                    else None
                ),
                percent_of_total=(
                    _parse_float(line[idx[total_col]], name, line_no, total_col)
                    if total_col in idx
                    else None
                ),
                row=line_no,
            )
        )
    return out


def _lookup(
    table: StatsTable, rows: list[PopulationStat], pop: ReleasePopulation, wanted: str
) -> PopulationStat:
    exact = [r for r in rows if r.population == wanted]
    if not exact and table.layout is StatsLayout.FLOWJO and "/" not in wanted:
        # FlowJo: a bare gate name matches the last component of a unique path
        exact = [r for r in rows if r.population.rsplit("/", 1)[-1] == wanted]
    if not exact:
        available = ", ".join(sorted({r.population for r in rows}))
        raise InstrumentFileError(
            f"{table.file_name}: population {wanted!r} (mapped to {pop.value}) not found for "
            f"sample {rows[0].sample!r}; available: {available}",
            field=pop.value,
        )
    if len(exact) > 1:
        raise InstrumentFileError(
            f"{table.file_name}: population {wanted!r} (mapped to {pop.value}) is ambiguous for "
            f"sample {rows[0].sample!r}: {', '.join(r.population for r in exact)}; use the full "
            f"gate path",
            row=exact[1].row,
            field=pop.value,
        )
    return exact[0]


def sample_from_stats(
    table: StatsTable,
    sample: str,
    populations: Mapping[ReleasePopulation, str] | Mapping[str, str],
) -> FlowSampleResult:
    """Map one sample's exported populations to release populations and compute the values.

    ``populations`` maps release populations (``"singlets"``, ``"viable"``, ``"cd3"``,
    ``"car"``, ``"cd4"``, ``"cd8"``, optionally ``"cd45"``) to the software's names: a FlowJo gate
    path (or a gate name that is unique in the table), or the Kaluza/FACSDiva gate name.
    """
    pmap = population_map(populations)
    rows = [r for r in table.rows if r.sample == sample]
    if not rows:
        raise InstrumentFileError(
            f"{table.file_name}: sample {sample!r} not found; samples: {', '.join(table.samples())}"
        )
    counts: list[PopulationCount] = []
    paths: dict[ReleasePopulation, tuple[str, ...]] = {}
    for pop, wanted in pmap:
        stat = _lookup(table, rows, pop, wanted)
        if stat.count is None:
            raise InstrumentFileError(
                f"{table.file_name} line {stat.row}: no event count for {stat.population!r} "
                f"({pop.value}); export counts, percentages alone cannot give an exact result",
                row=stat.row,
                field=pop.value,
            )
        counts.append(PopulationCount(pop, stat.population, stat.count))
        paths[pop] = tuple(stat.population.split("/"))
    if table.layout is StatsLayout.FLOWJO:
        check_nesting(paths, table.file_name)
    inputs = FlowInputs(
        sample_id=sample,
        source_kind=f"csv:{table.layout.value}",
        file_name=table.file_name,
        file_sha256=table.file_sha256,
        population_map=pmap,
    )
    return sample_result(inputs, SampleCounts(sample_id=sample, counts=tuple(counts)))

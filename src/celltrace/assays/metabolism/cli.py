"""Command core of ``celltrace metabolism analyse`` (no database needed).

    python -m celltrace.assays.metabolism.cli analyse FILE --assay mito-stress \\
        [--normalise CSV [--normalise-unit cells] [--normalise-scale 1000]] \\
        [--exclude WELL:REASON ...] [--ccf 0.61] [--po-ratio 2.75] [--group NAME ...] \\
        [--format json|table]

JSON output (stdout) is a list with one object per analysed group: ``group``, ``n`` (wells after
exclusions) and one key per parameter holding the group mean in Wave's units, plus ``sd``,
``sem`` and ``units`` objects keyed by parameter. Notes (exclusions, defaults used, warnings) go
to stderr. Bad input: a message on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn, TextIO

from celltrace.assays.errors import AssayInputError
from celltrace.assays.metabolism.analysis import (
    ASSAY_TITLES,
    AnalysisResult,
    AnalysisSettings,
    Assay,
    analyse,
    group_rows,
)
from celltrace.assays.metabolism.seahorse import read_normalisation_csv, read_wave_export

EXIT_OK = 0
EXIT_BAD_INPUT = 2


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise _UsageError(f"{self.prog}: {message}")


def _finite(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(v) or v <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be a finite number > 0")
    return v


def _exclusion(text: str) -> tuple[str, str]:
    well, sep, reason = text.partition(":")
    if not sep or not well.strip() or not reason.strip():
        raise argparse.ArgumentTypeError(
            f"{text!r}: use WELL:REASON, e.g. B03:'bubble seen in the well'"
        )
    return well.strip(), reason.strip()


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="celltrace metabolism", description="Seahorse XF analyses.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    a = sub.add_parser(
        "analyse",
        help="analyse a Wave export and print per-group results",
        description="Analyse an Agilent Seahorse Wave export (.xlsx) and print per-group "
        "results (mean, SD, SEM, n) without a database.",
    )
    a.add_argument("file", metavar="FILE", help="Wave export (.xlsx)")
    a.add_argument("--assay", required=True, choices=[x.value for x in Assay])
    a.add_argument("--normalise", metavar="CSV", help="per-well normalisation values (CSV)")
    a.add_argument("--normalise-unit", default="cells", help="unit of the CSV values")
    a.add_argument(
        "--normalise-scale",
        type=_finite,
        default=1.0,
        help="Wave scale factor: rate / (value / scale), e.g. 10000 for per 10^4 cells",
    )
    a.add_argument(
        "--exclude",
        metavar="WELL:REASON",
        type=_exclusion,
        nargs="+",
        action="extend",
        default=[],
        help="leave a well out of group statistics (the reason is required)",
    )
    a.add_argument("--ccf", type=_finite, help="CO2 contribution factor (PER-based assays)")
    a.add_argument("--po-ratio", type=_finite, help="P/O ratio for mitoATP (default 2.75)")
    a.add_argument(
        "--group", metavar="NAME", action="append", help="analyse only this group (repeatable)"
    )
    a.add_argument(
        "--rule",
        choices=["agilent", "fixed"],
        default="agilent",
        help="Mito Stress Test points: Agilent min/max/last rules (default) or fixed points",
    )
    a.add_argument("--format", choices=["json", "table"], default="table")

    p = sub.add_parser(
        "plate",
        help="analyse a plate-reader energy assay (ATP, ADP/ATP, NAD+/NADH, TMRM, JC-1)",
        description="Analyse a plate-reader CSV (columns well, role, sample, concentration, "
        "signal; see docs/metabolism.md): fit the standard curve (4PL/5PL), check its "
        "acceptance rules and back-calculate samples. Samples outside the curve are flagged, "
        "never extrapolated.",
    )
    p.add_argument("file", metavar="FILE", help="plate CSV")
    p.add_argument("--assay", required=True, choices=sorted(PLATE_ASSAYS))
    p.add_argument("--format", choices=["json", "table"], default="table")
    return parser


PLATE_ASSAYS = {
    "atp": "analyse_atp",
    "adp-atp": "analyse_adp_atp",
    "nad": "analyse_nad",
    "jc1": "analyse_jc1",
    "tmrm": "analyse_tmrm",
}


def _jsonable(value: object) -> object:
    """Dataclass results as plain JSON (enums by value, floats as they are)."""
    import dataclasses
    import enum

    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def _plate(ns: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from celltrace.assays.metabolism import platereader

    plate = platereader.read_plate_csv(Path(ns.file))
    result = getattr(platereader, PLATE_ASSAYS[ns.assay])(plate)
    data = _jsonable(result)
    assert isinstance(data, dict)
    if ns.format == "json":
        json.dump(data, out, indent=2, ensure_ascii=False)
        out.write("\n")
        return EXIT_OK
    out.write(f"{data.get('assay', ns.assay)} — {Path(ns.file).name}\n")
    for key in ("curve", "acid_curve", "base_curve"):
        curve = data.get(key)
        if isinstance(curve, dict):
            state = "accepted" if curve.get("accepted") else "REJECTED"
            reasons = "; ".join(str(r) for r in curve.get("failures") or [])
            out.write(f"{key}: {state}{' — ' + reasons if reasons else ''}\n")
    for sample in data.get("samples") or []:
        assert isinstance(sample, dict)
        flat = {k: v for k, v in sample.items() if not isinstance(v, dict | list)}
        quantity = sample.get("quantity")
        if isinstance(quantity, dict):
            flat["value"] = quantity.get("value")
            flat["flag"] = quantity.get("flag")
        shown = {k: (f"{v:.4g}" if isinstance(v, float) else v) for k, v in flat.items()}
        out.write("  " + "  ".join(f"{k}={v}" for k, v in shown.items()) + "\n")
    return EXIT_OK


def _fmt(v: float | None) -> str:
    return "—" if v is None else f"{v:.2f}"


def render_table(result: AnalysisResult) -> str:
    """Aligned text table: one line per group and parameter."""
    header = ["group", "n", "parameter", "mean", "SD", "SEM", "unit"]
    rows: list[list[str]] = []
    for g in result.groups:
        for p in result.parameters:
            s = g.stat(p.key)
            rows.append([g.group, str(s.n), p.key, _fmt(s.mean), _fmt(s.sd), _fmt(s.sem), p.unit])
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    right = {1, 3, 4, 5}

    def line(cells: Sequence[str]) -> str:
        out = [
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(out).rstrip()

    lines = [
        f"{ASSAY_TITLES[Assay(result.assay)]} — {result.file_name} "
        f"(sha256 {result.file_sha256[:12]}…)",
        line(header),
        line(["-" * w for w in widths]),
        *(line(r) for r in rows),
    ]
    return "\n".join(lines) + "\n"


def _notes(result: AnalysisResult, stream: TextIO) -> None:
    for e in result.excluded:
        print(f"note: well {e.well} ({e.group}) excluded: {e.reason}", file=stream)
    for g, why in result.skipped_groups:
        print(f"note: group {g!r} not analysed ({why})", file=stream)
    for c in result.constants:
        if c.location.startswith(("default", "settings")):
            print(f"note: {c.label} = {c.value} ({c.location})", file=stream)
    for w in result.warnings:
        print(f"warning: {w}", file=stream)


def _analyse(ns: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    export = read_wave_export(ns.file)
    norm = None
    if ns.normalise:
        norm = read_normalisation_csv(
            ns.normalise, unit=ns.normalise_unit, scale_factor=ns.normalise_scale
        )
    settings = AnalysisSettings(
        ccf=ns.ccf,
        po_ratio=ns.po_ratio,
        groups=tuple(ns.group) if ns.group else None,
        mst_rule=ns.rule,
    )
    exclusions: dict[str, str] = {}
    for well, reason in ns.exclude:
        if well in exclusions:
            raise AssayInputError(f"well {well} is excluded twice", field="exclude")
        exclusions[well] = reason
    result = analyse(export, ns.assay, exclusions=exclusions, normalisation=norm, settings=settings)
    if ns.format == "json":
        out.write(json.dumps(group_rows(result), indent=2, ensure_ascii=False, allow_nan=False))
        out.write("\n")
    else:
        out.write(render_table(result))
    _notes(result, err)
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code (0 success, 2 bad input)."""
    out, err = sys.stdout, sys.stderr
    parser = build_parser()
    try:
        ns = parser.parse_args(argv)
    except _UsageError as exc:
        print(parser.format_usage().rstrip(), file=err)
        print(f"error: {exc}", file=err)
        return EXIT_BAD_INPUT
    except SystemExit as exc:  # --help
        return exc.code if isinstance(exc.code, int) else EXIT_OK
    try:
        if ns.command == "plate":
            return _plate(ns, out, err)
        return _analyse(ns, out, err)
    except AssayInputError as exc:
        print(f"error: {exc}", file=err)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())

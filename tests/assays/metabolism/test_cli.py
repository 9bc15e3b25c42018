"""The ``metabolism analyse`` command core: JSON shape, table, exit codes."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

from celltrace.assays.metabolism.cli import main
from tests.assays.metabolism.direct import COUNTS, XFE24, XFE96, load, mito_stress_direct

MST_KEYS = {
    "non_mitochondrial_ocr",
    "basal_respiration",
    "maximal_respiration",
    "proton_leak",
    "atp_linked_respiration",
    "spare_respiratory_capacity",
    "spare_respiratory_capacity_percent",
    "coupling_efficiency_percent",
}
ATP_KEYS = {
    "mito_atp_production_rate",
    "glyco_atp_production_rate",
    "total_atp_production_rate",
    "atp_rate_index",
    "glyco_atp_percent",
}


def test_json_shape_and_values(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["analyse", str(XFE24[0]), "--assay", "mito-stress", "--format", "json"])
    out = capsys.readouterr().out
    assert code == 0
    rows = json.loads(out)
    direct = load(XFE24[0])
    groups = sorted({direct.group[w] for w in direct.wells("Mito Stress")})
    assert isinstance(rows, list) and [r["group"] for r in rows] == groups
    for row in rows:
        assert set(row) == {"group", "n", "sd", "sem", "units"} | MST_KEYS
        wells = [w for w in direct.wells("Mito Stress") if direct.group[w] == row["group"]]
        assert row["n"] == len(wells)
        expected = statistics.fmean(
            mito_stress_direct(direct.ocr[w])["basal_respiration"] for w in wells
        )
        assert row["basal_respiration"] == pytest.approx(expected, rel=1e-12)
        assert row["units"]["basal_respiration"] == "pmol/min"
        assert row["units"]["coupling_efficiency_percent"] == "%"
        assert set(row["sd"]) == MST_KEYS


def test_json_with_exclusion_and_normalisation(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "analyse",
            str(XFE24[1]),
            "--assay",
            "mito-stress",
            "--format",
            "json",
            "--normalise",
            str(COUNTS[XFE24[1]]),
            "--normalise-scale",
            "10000",
            "--exclude",
            "B05:low cell count: 3 % of neighbours",
        ]
    )
    captured = capsys.readouterr()
    assert code == 0
    rows = {r["group"]: r for r in json.loads(captured.out)}
    group = load(XFE24[1]).group["B05"]
    assert rows[group]["n"] == 3
    assert rows[group]["units"]["maximal_respiration"] == "pmol/min/10000 cells"
    assert "B05" in captured.err and "low cell count: 3 % of neighbours" in captured.err


def test_atp_rate_json_keys(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["analyse", str(XFE96), "--assay", "atp-rate", "--ccf", "0.61", "--format", "json"])
    rows = json.loads(capsys.readouterr().out)
    assert code == 0 and len(rows) == 4
    assert all(set(r) == {"group", "n", "sd", "sem", "units"} | ATP_KEYS for r in rows)


def test_table_is_aligned(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["analyse", str(XFE96), "--assay", "mito-stress", "--format", "table"])
    lines = capsys.readouterr().out.splitlines()
    assert code == 0
    header, rule, body = lines[1], lines[2], lines[3:]
    assert header.split() == ["group", "n", "parameter", "mean", "SD", "SEM", "unit"]
    assert len(body) == 4 * len(MST_KEYS)
    # the column of each header word starts where the dashes of its rule start
    starts = [i for i, ch in enumerate(rule) if ch == "-" and (i == 0 or rule[i - 1] == " ")]
    assert [header.index(word) for word in ("group", "parameter", "unit")] == [
        starts[0],
        starts[2],
        starts[6],
    ]
    for line in body:
        assert line[starts[2] :].split()[0] in MST_KEYS


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["analyse", str(COUNTS[XFE24[0]]), "--assay", "mito-stress"], "not an .xlsx"),
        (["analyse", str(XFE96), "--assay", "glycolytic-rate"], "no group run as a Glycolytic"),
        (["analyse", str(XFE96), "--assay", "nonsense"], "invalid choice"),
        (["analyse", str(XFE96), "--assay", "mito-stress", "--exclude", "B02"], "WELL:REASON"),
        (["analyse", str(XFE96), "--assay", "mito-stress", "--exclude", "A01:x"], "background"),
        (["analyse", str(XFE96), "--assay", "atp-rate", "--ccf", "nan"], "finite number"),
        (["analyse", "/nonexistent.xlsx", "--assay", "mito-stress"], "cannot read"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_bad_input_exits_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert message in captured.err


def test_runs_as_a_module() -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "celltrace.assays.metabolism.cli",
            "analyse",
            str(XFE96),
            "--assay",
            "mito-stress",
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).resolve().parents[3],
    )
    assert proc.returncode == 0, proc.stderr
    assert {r["group"] for r in json.loads(proc.stdout)} == {
        "Group_1 MITO",
        "Group_2 MITO",
        "Group_3 MITO",
        "Group_4 MITO",
    }

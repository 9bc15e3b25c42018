"""`celltrace metabolism plate`: plate-reader assays from the command line."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

from celltrace.assays.metabolism import platereader
from celltrace.assays.metabolism.cli import main

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "platereader" / "atp-example.csv"


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def test_json_equals_the_library_result_and_flags_out_of_range_samples() -> None:
    code, out, _ = run("plate", str(FIXTURE), "--assay", "atp", "--format", "json")
    assert code == 0
    data = json.loads(out)
    direct = platereader.analyse_atp(platereader.read_plate_csv(FIXTURE))
    assert data["curve"]["accepted"] == direct.curve.accepted
    by_name = {s["sample"]: s for s in data["samples"]}
    assert set(by_name) == {s.sample for s in direct.samples}
    for sample in direct.samples:
        got = by_name[sample.sample]["quantity"]
        assert got["flag"] == sample.quantity.flag.value
        assert got["value"] == sample.quantity.value
    flags = {s["quantity"]["flag"] for s in data["samples"]}
    assert {"below_lloq", "above_uloq"} <= flags
    assert all(
        s["quantity"]["value"] is None for s in data["samples"] if s["quantity"]["flag"] != "ok"
    )


def test_table_and_bad_input() -> None:
    code, out, _ = run("plate", str(FIXTURE), "--assay", "atp")
    assert code == 0 and "curve: accepted" in out and "flag=below_lloq" in out
    code, _, err = run("plate", str(FIXTURE.parent / "README.md"), "--assay", "atp")
    assert code == 2 and "error:" in err

"""CSV statistics from FlowJo, Kaluza and FACSDiva mapped to release populations."""

from __future__ import annotations

from pathlib import Path

import pytest

from celltrace.assays.errors import AssayInputError, InstrumentFileError
from celltrace.assays.flow import StatsLayout, flow_release, read_stats_csv, sample_from_stats

LIVE = "Lymphocytes/Single Cells/Live"
FLOWJO = (
    f'"",'
    f'"Lymphocytes/Single Cells | Count",'
    f'"{LIVE} | Count","{LIVE} | Freq. of Parent",'
    f'"{LIVE}/CD3+ | Count","{LIVE}/CD3+ | Freq. of Parent",'
    f'"{LIVE}/CD3+/CAR+ | Count",'
    f'"{LIVE}/CD3+/CD4+CD8- | Count","{LIVE}/CD3+/CD8+CD4- | Count",'
    f'"Lymphocytes/Single Cells/Dead | Count"\n'
    "CAR-T lot 7.fcs,20000,18500,92.5,15725,85.0,4718,9120,5340,1500\n"
    "UTD control.fcs,19000,17100,90.0,14535,85.0,145,8700,5000,1900\n"
    "Mean,19500,17800,91.25,15130,85.0,2431,8910,5170,1700\n"
    "SD,707,990,1.77,841,0,3234,297,240,283\n"
)
FLOWJO_MAP = {
    "singlets": "Lymphocytes/Single Cells",
    "viable": "Live",
    "cd3": "CD3+",
    "car": "CAR+",
    "cd4": "CD4+CD8-",
    "cd8": "CD8+CD4-",
}

KALUZA = (
    "File,Gate,Number,%Total,%Gated\n"
    "LOT7.LMD,Singlets,50000,90.91,90.91\n"
    "LOT7.LMD,Viable,46000,83.64,92.00\n"
    "LOT7.LMD,CD3+,41400,75.27,90.00\n"
    "LOT7.LMD,CAR+,12420,22.58,30.00\n"
    "LOT7.LMD,CD4+,24840,45.16,60.00\n"
    "LOT7.LMD,CD8+,13662,24.84,33.00\n"
)

DIVA = (
    "Tube Name:,Population,#Events,%Parent,%Total\n"
    "CAR,All Events,30000,####,100.0\n"
    "CAR,  Singlets,25000,83.3,83.3\n"
    "CAR,    Live,22500,90.0,75.0\n"
    "CAR,      CD3,18000,80.0,60.0\n"
    "CAR,        CAR,5400,30.0,18.0\n"
    "UTD,  Singlets,24000,80.0,80.0\n"
    "UTD,    Live,21600,90.0,72.0\n"
    "UTD,      CD3,17280,80.0,57.6\n"
    "UTD,        CAR,173,1.0,0.6\n"
)
DIVA_MAP = {"singlets": "Singlets", "viable": "Live", "cd3": "CD3", "car": "CAR"}


def test_flowjo_table_layout_and_mapping() -> None:
    table = read_stats_csv(FLOWJO.encode(), file_name="flowjo.csv")
    assert table.layout is StatsLayout.FLOWJO
    assert table.samples() == ("CAR-T lot 7.fcs", "UTD control.fcs")  # Mean/SD rows skipped
    stained = sample_from_stats(table, "CAR-T lot 7.fcs", FLOWJO_MAP)
    v = stained.values
    assert v.viability is not None and (v.viability.numerator, v.viability.denominator) == (
        18500,
        20000,
    )
    assert v.viability.percent == 100 * 18500 / 20000
    assert (v.cd3.numerator, v.cd3.denominator) == (15725, 18500)
    assert v.car is not None and v.car.percent == 100 * 4718 / 15725
    assert v.cd4_cd8_ratio == 9120 / 5340
    assert stained.inputs.source_kind == "csv:flowjo"
    assert len(stained.inputs.file_sha256) == 64
    assert dict(stained.inputs.population_map)[next(iter(stained.inputs.population_map))[0]]

    control = sample_from_stats(table, "UTD control.fcs", FLOWJO_MAP)
    result = flow_release(stained, control)
    assert result.car_net is not None
    expected = 100 * 4718 / 15725 - 100 * 145 / 14535
    assert result.car_net.net_percent == pytest.approx(expected, rel=1e-14)


def test_flowjo_rejects_a_population_outside_its_denominator() -> None:
    table = read_stats_csv(FLOWJO.encode(), file_name="flowjo.csv")
    bad = dict(FLOWJO_MAP, viable="Lymphocytes/Single Cells/Dead", cd3="CD3+")
    with pytest.raises(AssayInputError, match="not inside"):
        sample_from_stats(table, "CAR-T lot 7.fcs", bad)


def test_kaluza_layout_without_hierarchy() -> None:
    table = read_stats_csv(KALUZA.encode(), file_name="kaluza.csv")
    assert table.layout is StatsLayout.KALUZA
    r = sample_from_stats(
        table,
        "LOT7.LMD",
        {
            "singlets": "Singlets",
            "viable": "Viable",
            "cd3": "CD3+",
            "car": "CAR+",
            "cd4": "CD4+",
            "cd8": "CD8+",
        },
    )
    assert r.values.cd3.percent == 100 * 41400 / 46000
    assert r.values.car is not None and r.values.car.percent == 100 * 12420 / 41400
    assert r.values.cd4_cd8_ratio == 24840 / 13662
    assert r.inputs.source_kind == "csv:kaluza"


def test_facsdiva_layout_with_indentation_and_two_tubes(tmp_path: Path) -> None:
    path = tmp_path / "diva export.csv"
    path.write_bytes(DIVA.encode("cp1252"))
    table = read_stats_csv(path)
    assert table.layout is StatsLayout.FACSDIVA and table.file_name == "diva export.csv"
    stained = sample_from_stats(table, "CAR", DIVA_MAP)
    control = sample_from_stats(table, "UTD", DIVA_MAP)
    assert stained.values.viability is not None
    assert stained.values.viability.percent == 90.0
    res = flow_release(stained, control)
    assert res.car_net is not None
    assert res.car_net.net_percent == pytest.approx(30.0 - 100 * 173 / 17280, rel=1e-14)
    assert res.car_net.control.numerator == 173


def test_semicolon_delimited_kaluza() -> None:
    table = read_stats_csv(KALUZA.replace(",", ";").encode(), file_name="k.csv")
    assert table.layout is StatsLayout.KALUZA and len(table.rows) == 6


def test_count_is_required_and_must_be_a_whole_number() -> None:
    no_count = KALUZA.replace("LOT7.LMD,CD3+,41400,", "LOT7.LMD,CD3+,,")
    table = read_stats_csv(no_count.encode(), file_name="k.csv")
    with pytest.raises(InstrumentFileError, match=r"line 4: no event count for 'CD3\+'"):
        sample_from_stats(table, "LOT7.LMD", {"singlets": "Singlets", "cd3": "CD3+"})
    with pytest.raises(InstrumentFileError, match=r"line 4.*not a non-negative whole number"):
        read_stats_csv(KALUZA.replace("41400", "41400.5").encode(), file_name="k.csv")


def test_unknown_layout_missing_sample_and_population() -> None:
    with pytest.raises(InstrumentFileError, match="unrecognised statistics layout"):
        read_stats_csv(b"a,b,c\n1,2,3\n", file_name="x.csv")
    with pytest.raises(InstrumentFileError, match="does not match the facsdiva layout"):
        read_stats_csv(KALUZA.encode(), layout="facsdiva", file_name="k.csv")
    table = read_stats_csv(KALUZA.encode(), file_name="k.csv")
    with pytest.raises(InstrumentFileError, match="sample 'nope' not found"):
        sample_from_stats(table, "nope", {"singlets": "Singlets", "cd3": "CD3+"})
    with pytest.raises(InstrumentFileError, match=r"'CD19' .* not found"):
        sample_from_stats(table, "LOT7.LMD", {"singlets": "Singlets", "cd3": "CD19"})
    with pytest.raises(AssayInputError, match="unknown release population"):
        sample_from_stats(table, "LOT7.LMD", {"singlets": "Singlets", "tregs": "CD3+"})

"""Sterility: USP <71> / Ph. Eur. 2.6.1 / 2.6.27 / ChP 1101 (domain-facts §3.2)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from celltrace.assays.errors import AssayInputError, InstrumentFileError
from celltrace.assays.sterility import (
    CALCULATION_VERSION,
    BottleStatus,
    Incubation,
    Reading,
    SterilityOutcome,
    evaluate_blood_culture,
    evaluate_sterility,
    parse_blood_culture_csv,
    read_blood_culture_csv,
    readings_due,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "assays"
LAB = timezone(timedelta(hours=1))
START = datetime(2025, 3, 4, 10, 0, tzinfo=LAB)


def _incubations(days: int = 14) -> list[Incubation]:
    return [
        Incubation("FTM", START, days=days, temperature="30-35 °C"),
        Incubation("SCDM", START + timedelta(minutes=5), days=days, temperature="20-25 °C"),
    ]


def _daily(medium: str, days: range, growth_day: int | None = None) -> list[Reading]:
    return [
        Reading(medium, datetime(2025, 3, 4, 9, 0, tzinfo=LAB) + timedelta(days=d), d == growth_day)
        for d in days
    ]


AFTER = datetime(2025, 3, 19, 12, 0, tzinfo=LAB)


def test_no_growth_needs_every_reading_of_every_medium() -> None:
    readings = _daily("FTM", range(1, 15)) + _daily("SCDM", range(1, 15))
    result = evaluate_sterility(_incubations(), readings, as_of=AFTER)
    assert result.outcome is SterilityOutcome.NO_GROWTH
    assert result.complete and result.reasons == () and result.missing == ()
    assert result.calculation_version == CALCULATION_VERSION
    assert len(result.readings) == 28  # inputs kept with the result


def test_one_missing_reading_blocks_no_growth() -> None:
    readings = _daily("FTM", range(1, 15)) + _daily("SCDM", range(1, 15))
    del readings[14 + 4]  # SCDM day 5
    result = evaluate_sterility(_incubations(), readings, as_of=AFTER)
    assert result.outcome is SterilityOutcome.PENDING
    assert [(m.medium, m.day, m.due_date, m.overdue) for m in result.missing] == [
        ("SCDM", 5, date(2025, 3, 9), True)
    ]
    assert result.reasons == ("SCDM day 5 (due 2025-03-09): overdue",)


def test_growth_fails_at_once() -> None:
    readings = _daily("FTM", range(1, 4), growth_day=3) + _daily("SCDM", range(1, 4))
    result = evaluate_sterility(
        _incubations(), readings, as_of=datetime(2025, 3, 7, 12, 0, tzinfo=LAB)
    )
    assert result.outcome is SterilityOutcome.GROWTH
    assert [(d.medium, d.day) for d in result.detections] == [("FTM", 3)]
    assert "FTM: growth observed on day 3" in result.reasons


def test_in_progress_is_pending_with_readings_not_yet_due() -> None:
    readings = _daily("FTM", range(1, 3)) + _daily("SCDM", range(1, 3))
    result = evaluate_sterility(
        _incubations(), readings, as_of=datetime(2025, 3, 6, 12, 0, tzinfo=LAB)
    )
    assert result.outcome is SterilityOutcome.PENDING
    assert len(result.missing) == 24
    assert not any(m.overdue for m in result.missing)


def test_day_is_counted_in_the_lab_time_zone() -> None:
    inc = [Incubation("FTM", START, days=1)]
    # 23:30 UTC on 4 March is 00:30 on 5 March at the lab (+01:00): day 1
    late = [Reading("FTM", datetime(2025, 3, 4, 23, 30, tzinfo=UTC), False)]
    assert evaluate_sterility(inc, late, as_of=AFTER, required_media=["FTM"]).outcome is (
        SterilityOutcome.NO_GROWTH
    )
    # 22:30 UTC is 23:30 on 4 March at the lab: still day 0, day 1 is missing
    early = [Reading("FTM", datetime(2025, 3, 4, 22, 30, tzinfo=UTC), False)]
    result = evaluate_sterility(inc, early, as_of=AFTER, required_media=["FTM"])
    assert result.outcome is SterilityOutcome.PENDING


def test_configurable_period_schedule_and_media() -> None:
    inc = [
        Incubation("FTM", START, days=7, reading_days=(3, 5, 7)),
        Incubation("TSB", START, days=7, reading_days=(3, 5, 7)),  # TSB is SCDM
    ]
    readings = [
        Reading(m, START + timedelta(days=d, hours=1), False)
        for m in ("FTM", "TSB")
        for d in (3, 5, 7)
    ]
    result = evaluate_sterility(inc, readings, as_of=AFTER)
    assert result.outcome is SterilityOutcome.NO_GROWTH


def test_missing_required_medium_is_invalid() -> None:
    inc = [Incubation("FTM", START, days=1)]
    result = evaluate_sterility(inc, _daily("FTM", range(1, 2)), as_of=AFTER)
    assert result.outcome is SterilityOutcome.INVALID
    assert result.reasons == ("required medium SCDM was not incubated",)


@pytest.mark.parametrize(
    ("incubations", "readings", "as_of", "match"),
    [
        (
            [Incubation("FTM", datetime(2025, 3, 4, 10, 0))],  # noqa: DTZ001 - the point of the test
            [],
            AFTER,
            r"row 0, incubations.started_at: must be timezone-aware",
        ),
        (
            [Incubation("FTM", START)],
            [Reading("FTM", datetime(2025, 3, 5, 9, 0), False)],  # noqa: DTZ001
            AFTER,
            r"row 0, readings.observed_at: must be timezone-aware",
        ),
        ([Incubation("FTM", START)], [], datetime(2025, 3, 19), r"as_of: must be timezone-aware"),  # noqa: DTZ001
        (
            [Incubation("FTM", START)],
            [Reading("SCDM", START + timedelta(days=1), False)],
            AFTER,
            r"row 0, readings.medium: 'SCDM' is not an incubated medium",
        ),
        (
            [Incubation("FTM", START)],
            [Reading("FTM", START - timedelta(hours=1), False)],
            AFTER,
            r"row 0, readings.observed_at: .* is before the incubation started",
        ),
        (
            [Incubation("FTM", START)],
            [Reading("FTM", AFTER + timedelta(days=1), False)],
            AFTER,
            r"is after as_of",
        ),
        (
            [Incubation("FTM", START), Incubation("ftm", START)],
            [],
            AFTER,
            r"row 1, incubations.medium: 'ftm' appears twice",
        ),
        ([Incubation("FTM", START, days=0)], [], AFTER, r"row 0, incubations.days"),
        (
            [Incubation("FTM", START, days=7, reading_days=(3, 5))],
            [],
            AFTER,
            r"must include the last day 7",
        ),
        ([], [], AFTER, r"incubations: at least one medium"),
    ],
)
def test_bad_input_names_row_and_field(
    incubations: list[Incubation], readings: list[Reading], as_of: datetime, match: str
) -> None:
    with pytest.raises(AssayInputError, match=match):
        evaluate_sterility(incubations, readings, as_of=as_of)


def test_reminders_of_due_readings() -> None:
    readings = _daily("FTM", range(1, 4)) + _daily("SCDM", range(1, 4))
    due = readings_due(_incubations(), readings, date(2025, 3, 9))  # day 5
    assert [(d.medium, d.day, d.overdue) for d in due] == [
        ("FTM", 4, True),
        ("SCDM", 4, True),
        ("FTM", 5, False),
        ("SCDM", 5, False),
    ]
    today_only = readings_due(_incubations(), readings, date(2025, 3, 9), include_overdue=False)
    assert [(d.medium, d.day) for d in today_only] == [("FTM", 5), ("SCDM", 5)]


def test_no_reminders_after_growth_in_that_medium() -> None:
    readings = _daily("FTM", range(1, 3), growth_day=2) + _daily("SCDM", range(1, 3))
    due = readings_due(_incubations(), readings, date(2025, 3, 7), include_overdue=False)
    assert [(d.medium, d.day) for d in due] == [("SCDM", 3)]


def test_reminders_take_a_date_not_a_datetime() -> None:
    with pytest.raises(AssayInputError, match="on: must be a date"):
        readings_due(_incubations(), [], AFTER)


# ----------------------------------------------------------------------------- automated systems


def test_blood_culture_fixture_decisions() -> None:
    bottles = read_blood_culture_csv(FIXTURES / "blood_culture.csv")
    assert len(bottles) == 6
    assert bottles[0].row == 2 and bottles[0].status is BottleStatus.NEGATIVE

    negative = evaluate_blood_culture(bottles, sample_id="LOT-24-001")
    assert negative.outcome is SterilityOutcome.NO_GROWTH
    assert negative.reasons == ()
    assert negative.calculation_version == CALCULATION_VERSION

    positive = evaluate_blood_culture(bottles, sample_id="LOT-24-002")
    assert positive.outcome is SterilityOutcome.GROWTH
    # loaded 09:00 +01:00, positive after 17.5 h -> 02:30 next day
    assert positive.detections[0].detected_at == datetime(2025, 3, 6, 2, 30, tzinfo=LAB)

    pending = evaluate_blood_culture(bottles, sample_id="LOT-24-003")
    assert pending.outcome is SterilityOutcome.PENDING
    assert pending.reasons == ("bottle BT0005: still incubating",)


def test_blood_culture_rules_are_configurable() -> None:
    bottles = read_blood_culture_csv(FIXTURES / "blood_culture.csv")
    longer = evaluate_blood_culture(bottles, sample_id="LOT-24-001", required_days=21)
    assert longer.outcome is SterilityOutcome.INVALID
    assert len(longer.reasons) == 2
    assert "protocol of 14 days is shorter than the required 21" in longer.reasons[0]
    aerobic_only = [b for b in bottles if b.sample_id == "LOT-24-001" and b.atmosphere == "aerobic"]
    result = evaluate_blood_culture(aerobic_only)
    assert result.outcome is SterilityOutcome.INVALID
    assert result.reasons == ("no anaerobic bottle for sample LOT-24-001",)
    assert evaluate_blood_culture(aerobic_only, required_atmospheres=["aerobic"]).outcome is (
        SterilityOutcome.NO_GROWTH
    )


def test_blood_culture_needs_a_sample_when_several() -> None:
    bottles = read_blood_culture_csv(FIXTURES / "blood_culture.csv")
    with pytest.raises(AssayInputError, match="belong to 3 samples"):
        evaluate_blood_culture(bottles)


HEADER = (
    "sample_id,bottle_id,bottle_type,atmosphere,loaded_at,protocol_days,status,"
    "time_to_detection_h\n"
)
GOOD = "S1,B1,FA Plus,aerobic,2025-03-04T14:05:00+01:00,14,NEGATIVE,\n"


@pytest.mark.parametrize(
    ("body", "match"),
    [
        (
            "S1,B1,FA Plus,aerobic,2025-03-04T14:05:00,14,NEGATIVE,\n",
            r"row 2, column 'loaded_at': must include a UTC offset",
        ),
        (
            "S1,B1,FA Plus,aerobic,04/03/2025,14,NEGATIVE,\n",
            r"row 2, column 'loaded_at': '04/03/2025' is not an ISO 8601",
        ),
        (
            "S1,B1,FA Plus,aerobic,2025-03-04T14:05:00Z,14,DONE,\n",
            r"row 2, column 'status': must be POSITIVE",
        ),
        (
            "S1,B1,FA Plus,aerobic,2025-03-04T14:05:00Z,14,POSITIVE,\n",
            r"row 2, column 'time_to_detection_h': a positive bottle",
        ),
        (
            "S1,B1,FA Plus,aerobic,2025-03-04T14:05:00Z,14,POSITIVE,nan\n",
            r"row 2, column 'time_to_detection_h': must be a finite",
        ),
        (
            "S1,B1,FA Plus,aerobic,2025-03-04T14:05:00Z,14,NEGATIVE,12\n",
            r"must be empty for a NEGATIVE bottle",
        ),
        (
            "S1,B1,FA Plus,aerobic,2025-03-04T14:05:00Z,7.5,NEGATIVE,\n",
            r"row 2, column 'protocol_days'",
        ),
        ("S1,B1,FA Plus,aerobe,2025-03-04T14:05:00Z,14,NEGATIVE,\n", r"row 2, column 'atmosphere'"),
        (GOOD + GOOD, r"row 3, column 'bottle_id': 'B1' appears twice"),
        (
            GOOD + ",B2,FA Plus,aerobic,2025-03-04T14:05:00Z,14,NEGATIVE,\n",
            r"row 3, column 'sample_id': must not be empty",
        ),
        ("", r"no data rows"),
    ],
)
def test_blood_culture_csv_errors(body: str, match: str) -> None:
    with pytest.raises(InstrumentFileError, match=match):
        parse_blood_culture_csv(HEADER + body, source="virtuo.csv")


def test_blood_culture_missing_columns() -> None:
    with pytest.raises(InstrumentFileError, match=r"missing column.*status"):
        parse_blood_culture_csv(
            "sample_id,bottle_id,bottle_type,atmosphere,loaded_at,protocol_days\n"
        )


def test_status_spelling_is_normalised() -> None:
    bottle = parse_blood_culture_csv(
        HEADER + "S1,B1,FA Plus,Aerobic,2025-03-04T14:05:00Z,14,in progress,\n"
    )[0]
    assert bottle.status is BottleStatus.IN_PROGRESS
    assert bottle.atmosphere == "aerobic"

"""API schemas of temperature monitoring."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any

from ninja import Schema
from pydantic import AllowInfNan, Field, StrictFloat, StrictInt, StrictStr

from celltrace.api.schemas import AwareDateTimeIn, IdParam, Offset, StrictIn
from celltrace.monitoring.choices import ExcursionKind

#: A JSON number (never a string, boolean, NaN or infinity).
StrictTemperature = StrictInt | Annotated[StrictFloat, AllowInfNan(False)]


class ReadingIn(StrictIn):
    sensor: StrictStr = Field(min_length=1, max_length=60, description="Probe ID of the sensor.")
    measured_at: AwareDateTimeIn = Field(description="ISO 8601 with a UTC offset.")
    temperature_c: StrictTemperature = Field(
        description="°C as a JSON number, at most 3 decimals; strings and NaN are refused."
    )


class IngestOut(Schema):
    batch_id: int
    rows: int
    digest: str
    ledger_seq: int
    excursions_opened: list[int]
    excursions_closed: list[int]


class ExcursionOut(Schema):
    id: int
    unit_id: int
    unit_code: str
    sensor: str
    kind: str
    started_at: dt.datetime
    ended_at: dt.datetime | None
    duration_s: int = Field(description="End − start; for an open excursion, until now.")
    limit_c: Decimal | None
    peak_c: Decimal | None
    peak_at: dt.datetime | None
    readings_outside: int
    alarm_id: int
    acknowledged: bool

    @staticmethod
    def resolve_unit_code(obj: Any) -> str:
        return str(obj.unit.code)

    @staticmethod
    def resolve_sensor(obj: Any) -> str:
        return str(obj.sensor.probe_id)

    @staticmethod
    def resolve_duration_s(obj: Any) -> int:
        return int(obj.duration().total_seconds())

    @staticmethod
    def resolve_alarm_id(obj: Any) -> int:
        return int(obj.alarm.pk)


class ExcursionFilter(Schema):
    """Identifiers and paging bounded: no number reaches the database driver out of range."""

    unit_id: IdParam | None = None
    kind: ExcursionKind | None = None
    open: bool | None = None
    acknowledged: bool | None = None
    limit: int = Field(default=100, ge=1, le=1000)
    offset: Offset = 0


class AlarmOut(Schema):
    id: int
    excursion_id: int
    unit_id: int
    sensor: str
    kind: str
    raised_at: dt.datetime
    comment: str
    acknowledged: bool
    excursion_open: bool

    @staticmethod
    def resolve_unit_id(obj: Any) -> int:
        return int(obj.excursion.unit_id)

    @staticmethod
    def resolve_sensor(obj: Any) -> str:
        return str(obj.excursion.sensor.probe_id)

    @staticmethod
    def resolve_kind(obj: Any) -> str:
        return str(obj.excursion.kind)

    @staticmethod
    def resolve_excursion_open(obj: Any) -> bool:
        return obj.excursion.ended_at is None


class AlarmFilter(Schema):
    acknowledged: bool | None = None
    limit: int = Field(default=100, ge=1, le=1000)
    offset: Offset = 0


class ImpactRowOut(Schema):
    aliquot_id: int
    din: str
    product_code: str
    division: str
    barcode: str
    status: str
    organisation: str
    rack: str
    box: str
    position: str
    placed_at: dt.datetime
    removed_at: dt.datetime | None


class ImpactOut(Schema):
    excursion: ExcursionOut
    count: int
    aliquots: list[ImpactRowOut]


class PointOut(Schema):
    t: dt.datetime
    c: Decimal


class SensorSeriesOut(Schema):
    sensor: str
    raw_count: int
    points: list[PointOut]


class SeriesOut(Schema):
    unit_id: int
    start: dt.datetime
    end: dt.datetime
    alarm_low_c: Decimal
    alarm_high_c: Decimal
    warn_low_c: Decimal
    warn_high_c: Decimal
    sensors: list[SensorSeriesOut]


class SeriesQuery(Schema):
    start: AwareDateTimeIn | None = Field(default=None, description="Default: end − 3 days.")
    end: AwareDateTimeIn | None = Field(default=None, description="Default: now.")
    max_points: int = Field(default=2000, ge=10, le=5000)

"""Enumerations of the monitoring app. Never compare against string literals."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class ExcursionKind(models.TextChoices):
    ABOVE = "above", _("Above the high alarm limit")
    BELOW = "below", _("Below the low alarm limit")
    SILENT = "silent", _("Sensor silent")


class ReadingSource(models.TextChoices):
    API = "api", _("API")
    CSV = "csv", _("CSV upload")
    DEMO = "demo", _("Demo data")


class Rule(models.TextChoices):
    """Why a row of a readings batch was refused (shown with its row and field)."""

    REQUIRED = "required", _("a value is required")
    UNKNOWN_SENSOR = "unknown_sensor", _("unknown or inactive sensor")
    BAD_TIMESTAMP = "bad_timestamp", _("not an ISO 8601 date and time")
    NAIVE_TIMESTAMP = "naive_timestamp", _("the time has no UTC offset")
    FUTURE_TIMESTAMP = "future_timestamp", _("the time lies in the future")
    NOT_A_NUMBER = "not_a_number", _("not a number")
    NOT_FINITE = "not_finite", _("NaN or infinite")
    OUT_OF_RANGE = "out_of_range", _("outside -273.15 to 150 °C")
    TOO_PRECISE = "too_precise", _("more than 3 decimal places")
    DUPLICATE = "duplicate", _("this sensor already has a reading at this time")
    BEFORE_LATEST = (
        "before_latest",
        _("not newer than the sensor's latest stored reading (same time or earlier)"),
    )
    UNKNOWN_COLUMN = "unknown_column", _("unknown column")
    MISSING_COLUMN = "missing_column", _("missing column")
    ENCODING = "encoding", _("the file is not UTF-8 text")
    EMPTY = "empty", _("the file has no readings")
    TOO_LARGE = "too_large", _("the file has too many rows")


class EventType:
    """Typed domain events written by the monitoring services."""

    SENSOR_CREATED = "SENSOR_CREATED"
    SENSOR_UPDATED = "SENSOR_UPDATED"
    UNIT_THRESHOLDS_SET = "UNIT_THRESHOLDS_SET"
    READINGS_INGESTED = "READINGS_INGESTED"
    SENSORS_SILENT = "SENSORS_SILENT"
    ALARM_COMMENTED = "ALARM_COMMENTED"

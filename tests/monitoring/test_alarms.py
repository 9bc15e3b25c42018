"""Silent sensors, the monitoring_check command, and acknowledging alarms by e-signature."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pytest
from django.core.management import call_command
from django.test import RequestFactory

from celltrace.audit import signing
from celltrace.audit.models import AuditEvent, Signature
from celltrace.audit.services import record_sign
from celltrace.audit.verification import verify_database
from celltrace.core.errors import AuthenticationFailed, PermissionDenied
from celltrace.monitoring import selectors, services
from celltrace.monitoring.choices import ExcursionKind
from celltrace.monitoring.models import Alarm, Excursion, Sensor
from tests.conftest import PASSWORD
from tests.monitoring.conftest import STEP, T0, counts, series

pytestmark = pytest.mark.django_db


def request_for(user: Any) -> Any:
    req = RequestFactory().post("/sign/")
    req.user = user
    req.META["REMOTE_ADDR"] = "127.0.0.1"
    return req


# --- silent sensors ---------------------------------------------------------------------------


def test_a_sensor_silent_for_more_than_three_intervals_raises_one_alarm(
    sensor: Sensor, ingest: Any
) -> None:
    ingest(series("LN2-T1", ["-190", "-190"]))
    last = T0 + STEP
    assert services.sensors_check_silent(now=last + 3 * STEP) == []  # exactly 3: not yet
    before = counts()
    [exc] = services.sensors_check_silent(now=last + 3 * STEP + dt.timedelta(seconds=1))
    assert exc.kind == ExcursionKind.SILENT and exc.started_at == last and exc.ended_at is None
    assert exc.alarm.pk is not None
    after = counts()
    assert (after["excursions"], after["alarms"], after["ledger"]) == (
        before["excursions"] + 1,
        before["alarms"] + 1,
        before["ledger"] + 1,
    )
    # idempotent: a second run finds nothing new and writes nothing
    assert services.sensors_check_silent(now=last + 20 * STEP) == []
    assert counts() == after
    # the next reading ends the silence
    result = ingest(series("LN2-T1", ["-190"], start=last + 30 * STEP))
    exc.refresh_from_db()
    assert exc.ended_at == last + 30 * STEP and exc.duration_s == 30 * 300
    assert [e.pk for e in result.closed] == [exc.pk]
    assert verify_database().ok


def test_a_sensor_that_never_reported_is_silent_from_its_creation(sensor: Sensor) -> None:
    [exc] = services.sensors_check_silent(now=sensor.created_at + dt.timedelta(seconds=3 * 300 + 1))
    assert exc.started_at == sensor.created_at


def test_the_unit_setting_changes_the_number_of_intervals(
    sensor: Sensor, ingest: Any, tech: Any, unit: Any
) -> None:
    services.unit_monitoring_set(
        actor=tech,
        unit=unit,
        warning_band_c=services.Decimal("3.0"),
        silent_after_intervals=10,
        reason="backup probe reports rarely",
    )
    ingest(series("LN2-T1", ["-190"]))
    assert services.sensors_check_silent(now=T0 + 9 * STEP) == []
    assert len(services.sensors_check_silent(now=T0 + 11 * STEP)) == 1


def test_the_monitoring_check_command(sensor: Sensor, ingest: Any) -> None:
    ingest(series("LN2-T1", ["-190"]))
    out = io.StringIO()
    call_command("monitoring_check", now=(T0 + dt.timedelta(hours=1)).isoformat(), stdout=out)
    assert "silent: sensor LN2-T1" in out.getvalue()
    assert "1 new silent sensor(s)" in out.getvalue()
    out = io.StringIO()
    call_command("monitoring_check", now=(T0 + dt.timedelta(hours=2)).isoformat(), stdout=out)
    assert "0 new silent sensor(s)" in out.getvalue()
    assert Excursion.objects.filter(kind=ExcursionKind.SILENT).count() == 1


# --- acknowledgement by signature -------------------------------------------------------------


@pytest.fixture
def alarm(sensor: Sensor, ingest: Any) -> Alarm:
    ingest(series("LN2-T1", ["-190", "-140", "-190"]))
    return Alarm.objects.get()


def test_acknowledging_needs_the_comment_then_the_password(
    alarm: Alarm, tech: Any, qa_user: Any
) -> None:
    assert services.alarm_can_sign(qa_user, alarm, "acknowledged") is not None  # no comment yet
    with pytest.raises(PermissionDenied):
        record_sign(
            request=request_for(qa_user),
            actor=qa_user,
            record=alarm,
            meaning="acknowledged",
            password=PASSWORD,
        )
    alarm = services.alarm_comment_set(actor=qa_user, alarm=alarm, comment="Lid closed, topped up.")
    events = AuditEvent.objects.count()
    for password in ("", "wrong password"):
        with pytest.raises(AuthenticationFailed):
            record_sign(
                request=request_for(qa_user),
                actor=qa_user,
                record=alarm,
                meaning="acknowledged",
                password=password,
            )
    assert not Signature.objects.filter(record_type="monitoring.alarm").exists()
    assert AuditEvent.objects.count() == events + 2  # the two failures, nothing else
    assert not selectors.alarms_visible(qa_user).get(pk=alarm.pk).acknowledged  # type: ignore[attr-defined]

    record_sign(
        request=request_for(qa_user),
        actor=qa_user,
        record=alarm,
        meaning="acknowledged",
        password=PASSWORD,
        comment="signed",
    )
    [m] = signing.manifestations(alarm)
    assert m.valid and m.meaning == "acknowledged" and m.printed_name == "Quinn Assurance"
    assert selectors.alarms_visible(qa_user).get(pk=alarm.pk).acknowledged  # type: ignore[attr-defined]
    assert services.alarm_is_acknowledged(alarm)
    # the signed comment cannot change any more
    with pytest.raises(services.Conflict):
        services.alarm_comment_set(actor=tech, alarm=alarm, comment="something else")
    assert verify_database().ok


def test_acknowledging_an_open_excursion_stays_valid_as_it_continues(
    sensor: Sensor, ingest: Any, qa_user: Any
) -> None:
    ingest(series("LN2-T1", ["-190", "-140"]))
    alarm = services.alarm_comment_set(
        actor=qa_user, alarm=Alarm.objects.get(), comment="Investigating."
    )
    record_sign(
        request=request_for(qa_user),
        actor=qa_user,
        record=alarm,
        meaning="acknowledged",
        password=PASSWORD,
    )
    ingest(series("LN2-T1", ["-120", "-190"], start=T0 + 2 * STEP))
    alarm.refresh_from_db()
    alarm.excursion.refresh_from_db()
    assert alarm.excursion.ended_at is not None
    assert signing.manifestations(alarm)[0].valid


def test_who_may_acknowledge(alarm: Alarm, operator: Any, make_user: Any, client_a: Any) -> None:
    Alarm.objects.filter(pk=alarm.pk).update(comment="noted")
    alarm.refresh_from_db()
    assert (
        services.alarm_can_sign(make_user(operator, "bank_technician"), alarm, "acknowledged")
        is None
    )
    assert services.alarm_can_sign(make_user(operator, "admin"), alarm, "acknowledged") is None
    assert services.alarm_can_sign(make_user(operator, "qc_analyst"), alarm, "acknowledged")
    client = make_user(client_a, "client_user")
    assert services.alarm_can_sign(client, alarm, "acknowledged")
    assert not selectors.alarms_signable(client).exists()

"""``celltrace manage monitoring_check``: raise alarms for sensors that stopped reporting.

Run it every few minutes (cron or a systemd timer); it is idempotent.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from celltrace.monitoring import services


class Command(BaseCommand):
    help = "Open a silent-sensor excursion and alarm for each sensor that stopped reporting."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--now",
            default="",
            help="Check as of this ISO 8601 time with offset (default: the current time).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        now = dt.datetime.now(dt.UTC)
        if options["now"]:
            try:
                now = dt.datetime.fromisoformat(options["now"])
            except ValueError as exc:
                raise CommandError(f"--now: not an ISO 8601 time: {options['now']}") from exc
            if now.tzinfo is None:
                raise CommandError("--now needs a UTC offset (Z or +hh:mm).")
        opened = services.sensors_check_silent(now=now)
        for excursion in opened:
            self.stdout.write(
                f"silent: sensor {excursion.sensor.probe_id} in unit {excursion.unit.code} "
                f"since {excursion.started_at:%Y-%m-%dT%H:%M:%SZ} (excursion {excursion.pk})"
            )
        self.stdout.write(f"monitoring_check: {len(opened)} new silent sensor(s)")

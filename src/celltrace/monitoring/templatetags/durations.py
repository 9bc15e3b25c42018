"""``{% load durations %}``: a length of time as people read it, in the page's language."""

from __future__ import annotations

import datetime as dt

from django import template
from django.utils.translation import gettext

register = template.Library()


def duration_text(value: dt.timedelta | float | int | None) -> str:
    """``6:15:42.361845`` → "6 h 15 min" (中文 "6 小时 15 分钟"): the two largest units, rounded
    down (a duration "so far" never overstates). Seconds are shown below one hour only."""
    if value is None:
        return ""
    seconds = int(value.total_seconds() if isinstance(value, dt.timedelta) else value)
    seconds = max(seconds, 0)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return gettext("%(days)s d %(hours)s h") % {"days": days, "hours": hours}
    if hours:
        return gettext("%(hours)s h %(minutes)s min") % {"hours": hours, "minutes": minutes}
    if minutes:
        return gettext("%(minutes)s min %(seconds)s s") % {"minutes": minutes, "seconds": secs}
    return gettext("%(seconds)s s") % {"seconds": secs}


@register.filter
def duration(value: dt.timedelta | float | int | None) -> str:
    """A :class:`~datetime.timedelta` (or seconds) as "6 h 15 min"."""
    return duration_text(value)

"""How a stored time reads for staff, the same on the staff pages and at the command line: UK local time."""
from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Optional
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

try:
    STAFF_TIME_ZONE = ZoneInfo("Europe/London")
except ZoneInfoNotFoundError:  # no time zone database on this machine: show UTC and say so
    STAFF_TIME_ZONE = timezone.utc


def format_day_for_staff(day: Optional[date]) -> str:
    """A day as staff read it everywhere: "2 Dec 2026" (no leading zero: a day carries no time beside it)."""
    return f"{day.day} {day.strftime('%b %Y')}" if day else "-"


def format_for_staff(value: Optional[datetime]) -> str:
    if value is None:
        return "-"
    if value.tzinfo is None:  # every stored time is UTC
        value = value.replace(tzinfo=timezone.utc)
    suffix = " UTC" if STAFF_TIME_ZONE is timezone.utc else ""
    return value.astimezone(STAFF_TIME_ZONE).strftime("%d %b %Y, %H:%M") + suffix

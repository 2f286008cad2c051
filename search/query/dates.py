"""Date bounds typed by users: ISO dates and relative ones (`7d`, `yesterday`).

All bounds are inclusive and in UTC. A bound that names a period covers the
whole period: `--since 2022-04` starts on April 1st at 00:00, `--until
2022-04` ends on April 30th at 23:59:59.999999. Relative dates count whole
days back from today (UTC): `--since 7d` starts at 00:00 seven days ago,
`--until yesterday` ends at the last moment of yesterday.
"""

from __future__ import annotations

import datetime as dt
import re

from ..errors import UsageError

_RELATIVE = re.compile(r"(\d{1,5})\s*(d|days?|w|weeks?|m|months?|y|years?)")
_NAMED = {
    "today": (0, "d"), "yesterday": (1, "d"),
    "last week": (1, "w"), "last month": (1, "m"), "last year": (1, "y"),
}
DATE_HELP = ("use an ISO date (2022-04-18, 2022-04, 2022) or a relative one "
             "(today, yesterday, 7d, 2w, 3m, 1y, last week, last month)")


def _months_back(day: dt.date, months: int) -> dt.date:
    total = day.year * 12 + (day.month - 1) - months
    year, month = divmod(total, 12)
    month += 1
    # the same day of that month, or its last day (Mar 31 - 1m = Feb 28/29)
    nxt = dt.date(year + (month == 12), month % 12 + 1, 1)
    return dt.date(year, month, min(day.day, (nxt - dt.timedelta(days=1)).day))


def relative_day(text: str, today: dt.date) -> dt.date | None:
    """The day a relative date names (`7d`, `2 weeks`, `yesterday`), or None
    when `text` is not a relative date."""
    raw = " ".join(text.strip().lower().split())
    if raw in _NAMED:
        count, unit = _NAMED[raw]
    else:
        m = _RELATIVE.fullmatch(raw)
        if m is None:
            return None
        count, unit = int(m.group(1)), m.group(2)[0]
    try:
        if unit == "d":
            return today - dt.timedelta(days=count)
        if unit == "w":
            return today - dt.timedelta(weeks=count)
        if unit == "m":
            return _months_back(today, count)
        return _months_back(today, 12 * count)
    except (OverflowError, ValueError):
        raise UsageError(f"invalid date {text!r}: too far back") from None


def parse_date_bound(text: str, end: bool = False, today: dt.date | None = None) -> dt.datetime:
    """An ISO or relative date as an aware UTC datetime (see the module docstring).

    Raises UsageError naming the text when it is neither.
    """
    raw = text.strip()
    try:
        day = relative_day(raw, today or dt.datetime.now(dt.timezone.utc).date())
        if day is None:
            if re.fullmatch(r"\d{4}", raw):
                day = dt.date(int(raw), 12 if end else 1, 31 if end else 1)
            elif re.fullmatch(r"\d{4}-\d{2}", raw):
                year, month = int(raw[:4]), int(raw[5:])
                day = dt.date(year, month, 1)
                if end:
                    day = dt.date(year + (month == 12), month % 12 + 1, 1) - dt.timedelta(days=1)
            elif re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
                day = dt.date.fromisoformat(raw)
        if day is not None:
            moment = dt.datetime.combine(day, dt.time.max if end else dt.time.min)
            return moment.replace(tzinfo=dt.timezone.utc)
        value = dt.datetime.fromisoformat(raw[:-1] + "+00:00" if raw.endswith(("Z", "z")) else raw)
    except (ValueError, OverflowError):
        raise UsageError(f"invalid date {text!r}: {DATE_HELP}") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    try:
        return value.astimezone(dt.timezone.utc)
    except OverflowError:
        raise UsageError(f"invalid date {text!r}: out of range") from None


def to_naive_utc(value: dt.datetime) -> dt.datetime:
    return value.astimezone(dt.timezone.utc).replace(tzinfo=None)

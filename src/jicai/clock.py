"""Beijing time, whatever the server's zone.

The data contract's times are local Asia/Shanghai wall-clock times without a zone (``ordered_at``, ``computed_at``,
the workflow's ``created_at``…), and a bureau's "today" is the date in Beijing. A server in UTC would otherwise
date a report run at 07:00 Beijing time on the day before. Every date or time jicai takes from the clock comes
from here; the one time source is :func:`_utcnow`, which tests replace.

>>> now().utcoffset()
datetime.timedelta(seconds=28800)
>>> local_now().tzinfo is None and stamp().microsecond == 0
True
>>> today() == now().date()
True
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

TZ = ZoneInfo("Asia/Shanghai")  # no daylight saving: always UTC+8


def _utcnow() -> datetime:
    """The current instant (aware, UTC): the only call to the system clock."""
    return datetime.now(UTC)


def now() -> datetime:
    """The current time in Beijing, aware (tzinfo Asia/Shanghai)."""
    return _utcnow().astimezone(TZ)


def local_now() -> datetime:
    """The current Beijing wall-clock time, naive: the form the warehouse and the workflow store times in."""
    return now().replace(tzinfo=None)


def stamp() -> datetime:
    """:func:`local_now` to the second: the ``computed_at`` of results and reports, workflow timestamps."""
    return local_now().replace(microsecond=0)


def today() -> date:
    """The date in Beijing."""
    return now().date()


def to_local(t: datetime) -> datetime:
    """``t`` as a naive Beijing wall-clock time: an aware time is converted first, a naive one is taken as local.

    >>> to_local(datetime(2024, 3, 31, 20, 30, tzinfo=UTC)), to_local(datetime(2024, 4, 1, 4, 30))
    (datetime.datetime(2024, 4, 1, 4, 30), datetime.datetime(2024, 4, 1, 4, 30))
    """
    return t.astimezone(TZ).replace(tzinfo=None) if t.tzinfo is not None else t

"""When a mailing goes out: pure functions of its start, end and periodicity. No ORM.

A mailing's slots are ``start_at`` and then every day, week or month after it, while they are
before ``end_at``. Slots are computed from ``start_at`` on the wall clock of the mailing's own
time zone (``Mailing.time_zone``, its owner's when it was made), each from the start rather
than from the previous slot, so they never drift:

- a daily 09:00 mailing stays at 09:00 local time across daylight-saving changes;
- a monthly mailing that starts on the 31st goes out on the last day of shorter months
  (30 April, 28 or 29 February) and on the 31st again when a month has one;
- a wall-clock time that does not exist on a day (the hour skipped when clocks go forward)
  is read with the offset before the change, i.e. one hour later on the new clock; a time
  that happens twice (clocks going back) is its first occurrence.

After downtime, only the latest slot that has come is sent (``latest_slot``), not one run for
every missed slot, and only while the window is open: once ``end_at`` has passed, nothing
more is sent, whatever was missed.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo

ONCE, DAILY, WEEKLY, MONTHLY = "once", "daily", "weekly", "monthly"

# The years a mailing's start and end may fall in, on its own wall clock. Outside them a date
# is a typing slip, not a plan, and far dates break Python (year 10000 in UTC cannot be read
# back). The database holds the same bounds, a day wider for the zones' offsets
# (``Mailing.Meta.constraints``), so no stored row can break a page.
FIRST_YEAR, LAST_YEAR = 2000, 2100
EARLIEST = datetime(FIRST_YEAR, 1, 1, tzinfo=UTC) - timedelta(days=1)
LATEST = datetime(LAST_YEAR + 1, 1, 1, tzinfo=UTC) + timedelta(days=1)
STEP_DAYS = {DAILY: 1, WEEKLY: 7}

CREATED, RUNNING, FINISHED = "created", "running", "finished"


def slot(start_at: datetime, periodicity: str, index: int, tz: tzinfo) -> datetime:
    """The ``index``-th slot (0 is ``start_at``), as an aware datetime in UTC."""
    if index == 0 or periodicity == ONCE:
        if index:
            raise ValueError("a mailing sent once has a single slot")
        return start_at.astimezone(UTC)
    local = start_at.astimezone(tz)
    if periodicity in STEP_DAYS:
        day = local.date() + timedelta(days=STEP_DAYS[periodicity] * index)
    elif periodicity == MONTHLY:
        day = _add_months(local.date(), local.day, index)
    else:
        raise ValueError(f"unknown periodicity {periodicity!r}")
    wall = datetime.combine(day, local.time(), tzinfo=tz)
    return wall.astimezone(UTC)


def slots(start_at: datetime, end_at: datetime, periodicity: str, tz: tzinfo) -> Iterator[datetime]:
    """Every slot of the mailing, in order."""
    index = 0
    while True:
        moment = slot(start_at, periodicity, index, tz)
        if moment >= end_at:
            return
        yield moment
        if periodicity == ONCE:
            return
        index += 1


def latest_slot(
    moment: datetime, start_at: datetime, end_at: datetime, periodicity: str, tz: tzinfo
) -> datetime | None:
    """The last slot at or before ``moment``: the one to send now (the catch-up rule). None
    once the window has closed: a missed slot is not sent after the end."""
    if moment >= end_at:
        return None
    index = _index_at_or_before(moment, start_at, periodicity, tz)
    return None if index is None else slot(start_at, periodicity, index, tz)


def next_slot_after(
    moment: datetime, start_at: datetime, end_at: datetime, periodicity: str, tz: tzinfo
) -> datetime | None:
    """The first slot strictly after ``moment``, or None when none is left."""
    index = _index_at_or_before(moment, start_at, periodicity, tz)
    index = 0 if index is None else index + 1
    if periodicity == ONCE and index > 0:
        return None
    found = slot(start_at, periodicity, index, tz)
    return found if found < end_at else None


def status_at(
    moment: datetime, start_at: datetime, end_at: datetime, periodicity: str, tz: tzinfo
) -> str:
    """``created`` before the first slot, ``finished`` once no slot is left after
    ``moment``, ``running`` in between."""
    if moment < start_at:
        return CREATED
    if next_slot_after(moment, start_at, end_at, periodicity, tz) is None:
        return FINISHED
    return RUNNING


def _index_at_or_before(
    moment: datetime, start_at: datetime, periodicity: str, tz: tzinfo
) -> int | None:
    if moment < start_at:
        return None
    if periodicity == ONCE:
        return 0
    start_local, now_local = start_at.astimezone(tz), moment.astimezone(tz)
    if periodicity in STEP_DAYS:
        guess = (now_local.date() - start_local.date()).days // STEP_DAYS[periodicity]
    else:
        guess = (now_local.year - start_local.year) * 12 + now_local.month - start_local.month
    # The guess counts calendar days or months; the slot's hour may still be ahead today.
    guess = max(guess + 1, 0)
    while guess > 0 and slot(start_at, periodicity, guess, tz) > moment:
        guess -= 1
    return guess


def _add_months(day: date, wanted_day: int, months: int) -> date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(wanted_day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True)
class Plan:
    """What a mailing waits for: its next slot to send (None: nothing left) and its status."""

    next_run_at: datetime | None
    status: str


def period(moment: datetime, periodicity: str, tz: tzinfo) -> tuple:
    """The period a moment falls in, for a mailing of this periodicity: its day, its ISO week
    or its month on the mailing's wall clock; a mailing sent once has a single period."""
    day = moment.astimezone(tz).date()
    if periodicity == DAILY:
        return (day,)
    if periodicity == WEEKLY:
        return tuple(day.isocalendar())[:2]
    if periodicity == MONTHLY:
        return (day.year, day.month)
    return ()


def plan(
    now: datetime,
    start_at: datetime,
    end_at: datetime,
    periodicity: str,
    tz: tzinfo,
    *,
    last_slot: datetime | None,
) -> Plan:
    """The plan of a mailing whose latest run was for ``last_slot`` (None: never run).

    The next run is the current slot if it has not been sent (so saving a mailing whose
    window is open sends now), else the first slot after ``now``; in either case, only a
    slot of a later period than ``last_slot``'s: a day (week, month) that had its run does
    not get another because the mailing's hour was moved (the change applies from the next
    period), and a mailing sent once is not sent again by the schedule."""
    args = (start_at, end_at, periodicity, tz)
    sent = None if last_slot is None else period(last_slot, periodicity, tz)
    candidate = latest_slot(now, *args)
    if candidate is None or (last_slot is not None and candidate <= last_slot):
        candidate = next_slot_after(max(now, last_slot or now), *args)
    # Consecutive slots are in consecutive periods, so this looks at two at most.
    while candidate is not None and period(candidate, periodicity, tz) == sent:
        candidate = next_slot_after(candidate, *args)
    if candidate is None and last_slot is not None:
        return Plan(None, FINISHED)  # it ran, and nothing is left
    return Plan(candidate, _status(now, candidate, *args))


def plan_after_run(
    now: datetime,
    slot: datetime,
    start_at: datetime,
    end_at: datetime,
    periodicity: str,
    tz: tzinfo,
) -> Plan:
    """The plan of a mailing once the run for ``slot`` has been created."""
    args = (start_at, end_at, periodicity, tz)
    following = next_slot_after(slot, *args)
    return Plan(following, _status(now, following, *args))


def _status(
    now: datetime,
    next_run_at: datetime | None,
    start_at: datetime,
    end_at: datetime,
    periodicity: str,
    tz: tzinfo,
) -> str:
    status = status_at(now, start_at, end_at, periodicity, tz)
    if next_run_at is not None and status == FINISHED:
        return RUNNING  # its last slot is still to be sent
    return status

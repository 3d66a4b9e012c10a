"""Slots of a mailing: wall-clock true across DST, month ends and leap years, never drifting.
Pure functions: no database."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from mailings.schedule import (
    CREATED,
    FINISHED,
    RUNNING,
    latest_slot,
    next_slot_after,
    plan,
    slot,
    slots,
    status_at,
)

BERLIN = ZoneInfo("Europe/Berlin")
MOSCOW = ZoneInfo("Europe/Moscow")


def local(tz, *args):
    return datetime(*args, tzinfo=tz)


def wall_clock(moments, tz):
    return [m.astimezone(tz).strftime("%Y-%m-%d %H:%M") for m in moments]


def test_daily_mailing_keeps_its_hour_across_dst_in_berlin():
    start = local(BERLIN, 2026, 3, 27, 9, 0)  # clocks go forward on 29 March
    end = local(BERLIN, 2026, 4, 1, 0, 0)

    got = list(slots(start, end, "daily", BERLIN))

    assert wall_clock(got, BERLIN) == [
        "2026-03-27 09:00",
        "2026-03-28 09:00",
        "2026-03-29 09:00",
        "2026-03-30 09:00",
        "2026-03-31 09:00",
    ]
    assert got[2] - got[1] == timedelta(hours=23)  # the short day


def test_daily_mailing_keeps_its_hour_when_clocks_go_back_in_berlin():
    start = local(BERLIN, 2026, 10, 24, 9, 0)

    got = [slot(start, "daily", i, BERLIN) for i in range(3)]

    assert wall_clock(got, BERLIN) == ["2026-10-24 09:00", "2026-10-25 09:00", "2026-10-26 09:00"]
    assert got[1] - got[0] == timedelta(hours=25)


def test_weekly_mailing_keeps_its_hour_across_dst_in_moscow():
    # Moscow's last clock change: 26 October 2014, UTC+4 to UTC+3 for good.
    start = local(MOSCOW, 2014, 10, 20, 9, 0)

    got = [slot(start, "weekly", i, MOSCOW) for i in range(2)]

    assert wall_clock(got, MOSCOW) == ["2014-10-20 09:00", "2014-10-27 09:00"]
    assert [m.hour for m in got] == [5, 6]  # in UTC the hour moved, on the wall it did not


def test_daily_mailing_across_moscows_summer_time_ending_in_2010():
    start = local(MOSCOW, 2010, 10, 30, 10, 30)  # summer time ended on 31 October 2010

    got = [slot(start, "daily", i, MOSCOW) for i in range(2)]

    assert wall_clock(got, MOSCOW) == ["2010-10-30 10:30", "2010-10-31 10:30"]


def test_a_wall_time_skipped_by_dst_goes_out_an_hour_later():
    start = local(BERLIN, 2026, 3, 28, 2, 30)  # 02:30 does not exist on 29 March

    second = slot(start, "daily", 1, BERLIN)

    assert second.astimezone(BERLIN).strftime("%d %H:%M") == "29 03:30"
    assert slot(start, "daily", 2, BERLIN).astimezone(BERLIN).strftime("%d %H:%M") == "30 02:30"


def test_monthly_on_the_31st_uses_the_last_day_of_shorter_months():
    start = local(BERLIN, 2026, 1, 31, 8, 0)
    end = local(BERLIN, 2026, 8, 1)

    got = wall_clock(slots(start, end, "monthly", BERLIN), BERLIN)

    assert got == [
        "2026-01-31 08:00",
        "2026-02-28 08:00",
        "2026-03-31 08:00",
        "2026-04-30 08:00",
        "2026-05-31 08:00",
        "2026-06-30 08:00",
        "2026-07-31 08:00",
    ]


def test_monthly_on_the_31st_in_a_leap_february():
    start = local(MOSCOW, 2028, 1, 31, 12, 0)

    assert wall_clock([slot(start, "monthly", 1, MOSCOW)], MOSCOW) == ["2028-02-29 12:00"]


def test_monthly_from_the_29th_of_february_keeps_the_29th_where_it_exists():
    start = local(BERLIN, 2028, 2, 29, 7, 0)

    got = wall_clock([slot(start, "monthly", i, BERLIN) for i in (1, 12, 48)], BERLIN)

    assert got == ["2028-03-29 07:00", "2029-02-28 07:00", "2032-02-29 07:00"]


def test_slots_never_drift_over_years():
    start = local(BERLIN, 2026, 1, 1, 9, 15)

    far = slot(start, "daily", 3650, BERLIN).astimezone(BERLIN)

    assert (far.hour, far.minute) == (9, 15)


def test_the_end_is_exclusive():
    start = local(BERLIN, 2026, 5, 1, 9, 0)
    end = local(BERLIN, 2026, 5, 3, 9, 0)

    assert wall_clock(slots(start, end, "daily", BERLIN), BERLIN) == [
        "2026-05-01 09:00",
        "2026-05-02 09:00",
    ]
    assert next_slot_after(local(BERLIN, 2026, 5, 2, 10, 0), start, end, "daily", BERLIN) is None


def test_once_has_a_single_slot():
    start = local(BERLIN, 2026, 5, 1, 9, 0)
    end = start + timedelta(days=30)

    assert list(slots(start, end, "once", BERLIN)) == [start.astimezone(UTC)]
    assert next_slot_after(start, start, end, "once", BERLIN) is None
    assert latest_slot(start + timedelta(days=3), start, end, "once", BERLIN) == start


def test_catch_up_after_a_week_of_downtime_sends_one_run_not_seven():
    start = local(BERLIN, 2026, 6, 1, 9, 0)
    end = local(BERLIN, 2026, 12, 1)
    back_at = local(BERLIN, 2026, 6, 8, 14, 0)  # down since before the first slot

    due = latest_slot(back_at, start, end, "daily", BERLIN)
    following = next_slot_after(due, start, end, "daily", BERLIN)

    assert wall_clock([due], BERLIN) == ["2026-06-08 09:00"]
    assert wall_clock([following], BERLIN) == ["2026-06-09 09:00"]


def test_latest_and_next_around_a_slot():
    start = local(BERLIN, 2026, 6, 1, 9, 0)
    end = local(BERLIN, 2026, 7, 1)
    at_slot = local(BERLIN, 2026, 6, 3, 9, 0)

    assert latest_slot(at_slot, start, end, "daily", BERLIN) == at_slot
    assert latest_slot(at_slot - timedelta(seconds=1), start, end, "daily", BERLIN) == local(
        BERLIN, 2026, 6, 2, 9, 0
    )
    assert next_slot_after(at_slot, start, end, "daily", BERLIN) == local(BERLIN, 2026, 6, 4, 9, 0)
    assert latest_slot(start - timedelta(minutes=1), start, end, "daily", BERLIN) is None
    assert next_slot_after(start - timedelta(days=5), start, end, "daily", BERLIN) == start


def test_latest_slot_is_none_once_the_window_has_closed():
    # A missed slot is not caught up after the end (issue 15: a closed window is not sent).
    start = local(BERLIN, 2026, 6, 1, 9, 0)
    end = local(BERLIN, 2026, 6, 4, 0, 0)

    before_end = latest_slot(local(BERLIN, 2026, 6, 3, 23, 59), start, end, "daily", BERLIN)

    assert wall_clock([before_end], BERLIN) == ["2026-06-03 09:00"]
    assert latest_slot(end, start, end, "daily", BERLIN) is None
    assert latest_slot(local(BERLIN, 2026, 9, 1), start, end, "daily", BERLIN) is None


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (datetime(2026, 5, 31, 12, tzinfo=UTC), CREATED),
        (datetime(2026, 6, 1, 7, tzinfo=UTC), RUNNING),
        (datetime(2026, 6, 2, 12, tzinfo=UTC), RUNNING),
        (datetime(2026, 6, 3, 12, tzinfo=UTC), FINISHED),
    ],
)
def test_status_follows_time(moment, expected):
    start = local(BERLIN, 2026, 6, 1, 9, 0)
    end = local(BERLIN, 2026, 6, 4, 0, 0)

    assert status_at(moment, start, end, "daily", BERLIN) == expected


def test_a_single_run_is_finished_once_its_slot_came():
    start = local(BERLIN, 2026, 6, 1, 9, 0)

    assert status_at(start, start, start + timedelta(days=9), "once", BERLIN) == FINISHED


@pytest.mark.parametrize(
    ("periodicity", "last_run", "moved_start", "now", "expected"),
    [
        # daily at 09:00, sent today; moved to 09:30 at 10:00: tomorrow, not today again
        ("daily", (2026, 6, 10, 9), (2026, 6, 1, 9, 30), (2026, 6, 10, 10), "2026-06-11 09:30"),
        # weekly on Mondays, sent this Monday; moved to Wednesdays on Wednesday: next week
        ("weekly", (2026, 6, 8, 9), (2026, 6, 3, 9), (2026, 6, 10, 10), "2026-06-17 09:00"),
        # monthly on the 1st, sent on 1 June; moved to the 5th on the 5th: July
        ("monthly", (2026, 6, 1, 9), (2026, 1, 5, 9), (2026, 6, 5, 10), "2026-07-05 09:00"),
    ],
)
def test_a_moved_hour_waits_for_the_next_period(periodicity, last_run, moved_start, now, expected):
    end = local(BERLIN, 2027, 1, 1)

    moved = plan(
        local(BERLIN, *now),
        local(BERLIN, *moved_start),
        end,
        periodicity,
        BERLIN,
        last_slot=local(BERLIN, *last_run),
    )

    assert wall_clock([moved.next_run_at], BERLIN) == [expected]
    assert moved.status == RUNNING


def test_an_unsent_current_slot_is_still_sent_at_once():
    start = local(BERLIN, 2026, 6, 1, 9)
    end = local(BERLIN, 2026, 7, 1)
    now = local(BERLIN, 2026, 6, 10, 10)

    first = plan(now, start, end, "daily", BERLIN, last_slot=None)
    after_yesterday = plan(now, start, end, "daily", BERLIN, last_slot=local(BERLIN, 2026, 6, 9, 9))

    assert first.next_run_at == after_yesterday.next_run_at == local(BERLIN, 2026, 6, 10, 9)


def test_a_mailing_sent_once_is_not_sent_again_when_moved():
    sent = local(BERLIN, 2026, 6, 10, 9)
    moved_start = local(BERLIN, 2026, 6, 20, 9)

    moved = plan(
        local(BERLIN, 2026, 6, 12),
        moved_start,
        moved_start + timedelta(days=1),
        "once",
        BERLIN,
        last_slot=sent,
    )

    assert (moved.next_run_at, moved.status) == (None, FINISHED)

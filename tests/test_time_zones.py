"""A mailing keeps its hour in its own time zone (its owner's when it was created), whatever
the site's zone: slots, status and catch-up are computed there, across daylight saving."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from wagtail.users.models import UserProfile

from mailings import dispatching, services
from mailings.models import Attempt, Mailing
from tests.factories import MailingFactory, UserFactory
from tests.support.forms import mailing_form_data

pytestmark = pytest.mark.django_db


def runs_at(mailing, moments) -> list[str]:
    """Run one scheduler tick at each moment; the UTC times of the runs it opened."""
    for moment in moments:
        dispatching.tick(now=moment)
    slots = Attempt.objects.filter(mailing=mailing).order_by("scheduled_for")
    return [a.scheduled_for.astimezone(UTC).strftime("%m-%d %H:%M") for a in slots]


def mailing_in(zone, start, periodicity):
    start = start.replace(tzinfo=ZoneInfo(zone))
    mailing = MailingFactory(
        start_at=start, end_at=start + timedelta(days=200), periodicity=periodicity
    )
    Mailing.objects.filter(pk=mailing.pk).update(time_zone=zone)
    mailing.refresh_from_db()
    services.mailing_save(mailing=mailing, now=start - timedelta(hours=1))
    return mailing


def moments_after(first_slot_utc: datetime, step: timedelta, count: int):
    """A tick a few minutes after each expected slot (computed by the test, not the code)."""
    return [first_slot_utc + step * n + timedelta(minutes=5) for n in range(count)]


@pytest.mark.parametrize(
    ("site", "zone", "start", "summer_offset_change"),
    [
        # Berlin goes to summer time on 28 March 2027: 09:00 is 08:00 UTC, then 07:00.
        ("UTC", "Europe/Berlin", datetime(2027, 3, 20, 9), "2027-03-28"),
        # New York on 14 March 2027: 09:00 is 14:00 UTC, then 13:00.
        ("UTC", "America/New_York", datetime(2027, 3, 10, 9), "2027-03-14"),
    ],
)
def test_a_daily_mailing_keeps_its_owners_hour_across_dst(
    settings, site, zone, start, summer_offset_change
):
    settings.TIME_ZONE = site
    mailing = mailing_in(zone, start, "daily")
    tz = ZoneInfo(zone)
    days = [start.replace(tzinfo=tz) + timedelta(days=n) for n in range(12)]

    got = runs_at(mailing, [d.astimezone(UTC) + timedelta(minutes=5) for d in days])

    expected = [d.astimezone(UTC).strftime("%m-%d %H:%M") for d in days]
    assert got == expected
    wall = {
        a.scheduled_for.astimezone(tz).strftime("%H:%M")
        for a in Attempt.objects.filter(mailing=mailing)
    }
    assert wall == {"09:00"}
    before = [
        e for e, d in zip(expected, days, strict=True) if str(d.date()) < summer_offset_change
    ]
    after = [
        e for e, d in zip(expected, days, strict=True) if str(d.date()) >= summer_offset_change
    ]
    assert len({e[-5:] for e in before}) == 1 and len({e[-5:] for e in after}) == 1
    assert before[0][-5:] != after[0][-5:]  # an hour apart in UTC


def test_berlin_before_and_after_28_march_2027_in_utc(settings):
    settings.TIME_ZONE = "UTC"
    mailing = mailing_in("Europe/Berlin", datetime(2027, 3, 20, 9), "daily")
    ticks = [
        datetime(2027, 3, day, hour, minute, tzinfo=UTC)
        for day, hour, minute in (
            (26, 8, 5),
            (27, 7, 55),  # before 08:00 UTC: nothing yet
            (27, 8, 5),
            (28, 6, 55),  # before 07:00 UTC, the new 09:00 in Berlin: nothing yet
            (28, 7, 5),
            (29, 7, 5),
        )
    ]

    assert runs_at(mailing, ticks) == ["03-26 08:00", "03-27 08:00", "03-28 07:00", "03-29 07:00"]


@pytest.mark.parametrize(
    ("zone", "periodicity", "start", "step", "expected"),
    [
        (
            "Europe/Berlin",
            "weekly",
            datetime(2027, 3, 14, 9),
            timedelta(weeks=1),
            ["03-14 08:00", "03-21 08:00", "03-28 07:00", "04-04 07:00"],
        ),
        (
            "America/New_York",
            "weekly",
            datetime(2027, 3, 1, 9),
            timedelta(weeks=1),
            ["03-01 14:00", "03-08 14:00", "03-15 13:00", "03-22 13:00"],
        ),
        (
            "Europe/Berlin",
            "monthly",
            datetime(2027, 1, 31, 9),
            None,
            ["01-31 08:00", "02-28 08:00", "03-31 07:00", "04-30 07:00"],
        ),
        (
            "America/New_York",
            "monthly",
            datetime(2027, 1, 15, 9),
            None,
            ["01-15 14:00", "02-15 14:00", "03-15 13:00", "04-15 13:00"],
        ),
    ],
)
def test_weekly_and_monthly_keep_the_hour_too(settings, zone, periodicity, start, step, expected):
    settings.TIME_ZONE = "UTC"
    mailing = mailing_in(zone, start, periodicity)
    moments = [
        datetime.strptime(f"2027-{e}", "%Y-%m-%d %H:%M").replace(tzinfo=UTC) + timedelta(minutes=5)
        for e in expected
    ]

    assert runs_at(mailing, moments) == expected


def test_a_site_in_moscow_with_an_owner_in_utc(settings):
    settings.TIME_ZONE = "Europe/Moscow"
    mailing = mailing_in("UTC", datetime(2027, 3, 26, 9), "daily")
    ticks = [datetime(2027, 3, d, 9, 5, tzinfo=UTC) for d in (26, 27, 28, 29)]

    assert runs_at(mailing, ticks) == ["03-26 09:00", "03-27 09:00", "03-28 09:00", "03-29 09:00"]


def set_zone(user, zone):
    profile = UserProfile.get_for_user(user)
    profile.current_time_zone = zone
    profile.save()


def test_a_new_mailing_takes_its_owners_zone_and_the_form_shows_it(client):
    owner = UserFactory(role="Users")
    set_zone(owner, "Asia/Tokyo")
    client.force_login(owner)
    mailing = MailingFactory(owner=owner)  # for its message and clients

    form = client.get("/admin/mailings/mailings/add/").content.decode()
    data = mailing_form_data(
        message=mailing.message_id,
        clients=list(mailing.clients.values_list("pk", flat=True)),
        start_at="2030-06-10 09:00",
        end_at="2030-06-20 09:00",
    )
    data.pop("time_zone", None)
    client.post("/admin/mailings/mailings/add/", {**data, "time_zone": "Asia/Tokyo"})

    assert 'name="time_zone"' in form and "Asia/Tokyo" in form
    created = Mailing.objects.exclude(pk=mailing.pk).get(owner=owner)
    assert created.time_zone == "Asia/Tokyo"
    assert created.start_at == datetime(2030, 6, 10, 0, 0, tzinfo=UTC)  # 09:00 in Tokyo


def test_times_are_entered_in_the_mailings_zone_not_the_viewers(client):
    owner = UserFactory(role="Users")
    set_zone(owner, "Europe/Berlin")
    client.force_login(owner)
    mailing = MailingFactory(owner=owner)
    data = mailing_form_data(
        mailing, start_at="2030-06-10 09:00", end_at="2030-06-20 09:00", time_zone="Asia/Tokyo"
    )

    client.post(f"/admin/mailings/mailings/edit/{mailing.pk}/", data)

    mailing.refresh_from_db()
    assert mailing.time_zone == "Asia/Tokyo"
    assert mailing.start_at == datetime(2030, 6, 10, 0, 0, tzinfo=UTC)
    edit = client.get(f"/admin/mailings/mailings/edit/{mailing.pk}/").content.decode()
    assert 'value="2030-06-10 09:00"' in edit  # shown as entered, in Tokyo


def test_an_unknown_zone_is_a_form_error(client):
    owner = UserFactory(role="Users")
    client.force_login(owner)
    mailing = MailingFactory(owner=owner)

    for garbage in ("Mars/Olympus", "../../etc/passwd", "x" * 5000, "Europe/Berlin\x00"):
        response = client.post(
            f"/admin/mailings/mailings/edit/{mailing.pk}/",
            mailing_form_data(mailing, time_zone=garbage),
        )
        assert response.status_code == 200
        assert "Select a valid choice" in response.content.decode()
    mailing.refresh_from_db()
    assert mailing.time_zone == "UTC"


def test_a_manager_in_berlin_sees_the_tokyo_time_and_the_zone(client):
    owner = UserFactory(role="Users")
    mailing = MailingFactory(
        owner=owner,
        start_at=datetime(2030, 6, 10, 0, 0, tzinfo=UTC),
        end_at=datetime(2030, 6, 20, 0, 0, tzinfo=UTC),
    )
    Mailing.objects.filter(pk=mailing.pk).update(time_zone="Asia/Tokyo")
    manager = UserFactory(role="Managers")
    set_zone(manager, "Europe/Berlin")
    client.force_login(manager)

    page = client.get(f"/admin/mailings/mailings/inspect/{mailing.pk}/").content.decode()
    listing = client.get("/admin/mailings/mailings/").content.decode()

    assert 'datetime="2030-06-10T09:00:00+09:00"' in page  # the start in Tokyo, named
    assert "(Asia/Tokyo)" in page
    # The same moment in Berlin (summer time), the manager's own zone.
    assert 'datetime="2030-06-10T02:00:00+02:00"' in page and "(Europe/Berlin)" in page
    assert 'datetime="2030-06-10T09:00:00+09:00"' in listing and "Asia/Tokyo" in listing

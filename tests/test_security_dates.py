"""Issue 15, item 1: no date a user types breaks a page, for them or anyone else; a mailing
whose whole window is in the past is refused, and the schedule never sends one."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from wagtail.users.models import UserProfile

from mailings import dispatching
from mailings.models import Attempt, Mailing
from tests.factories import MailingFactory, UserFactory
from tests.support.forms import mailing_form_data

pytestmark = pytest.mark.django_db

ADD = "/admin/mailings/mailings/add/"
PAGES = (
    "/admin/mailings/mailings/",
    "/admin/mailings/mailings/?export=csv",
    "/admin/mailings/attempts/",
    "/admin/reports/site-history/",
)


def user_in(zone):
    user = UserFactory(role="Users")
    profile = UserProfile.get_for_user(user)
    profile.current_time_zone = zone
    profile.save()
    return user


def form_for(owner, **dates):
    other = MailingFactory(owner=owner)  # for a message and clients of the owner's
    return other, mailing_form_data(
        message=other.message_id,
        clients=list(other.clients.values_list("pk", flat=True)),
        **dates,
    )


@pytest.mark.parametrize(
    ("zone", "dates", "field"),
    [
        # A "forever" end west of UTC was stored as year 10000: no page could read it back.
        ("Etc/GMT+12", {"start_at": "9999-12-31 10:00", "end_at": "9999-12-31 23:59"}, "end_at"),
        # Year 1 east of UTC is before year 1 in UTC: a 500 on save.
        ("Asia/Tokyo", {"start_at": "0001-01-01 00:00", "end_at": "2030-01-01 00:00"}, "start_at"),
        ("UTC", {"start_at": "2030-01-01 00:00", "end_at": "2101-01-01 00:00"}, "end_at"),
        ("UTC", {"start_at": "1999-12-31 23:59", "end_at": "2030-01-01 00:00"}, "start_at"),
    ],
)
def test_a_date_outside_2000_to_2100_is_a_form_error(client, zone, dates, field):
    owner = user_in(zone)
    client.force_login(owner)
    _, data = form_for(owner, **dates, time_zone=zone)

    response = client.post(ADD, data)

    assert response.status_code == 200
    errors = response.context["form"].errors
    assert "Enter a date from 2000 to 2100." in errors[field]
    assert Mailing.objects.filter(owner=owner).count() == 1  # only the one made for the form
    for page in PAGES:
        assert client.get(page).status_code == 200, page


def test_the_edges_of_the_range_save_in_any_zone(client):
    owner = user_in("Pacific/Kiritimati")  # UTC+14: the first moment of 2000 is in 1999 UTC
    client.force_login(owner)
    for zone in ("Pacific/Kiritimati", "Etc/GMT+12"):
        _, data = form_for(
            owner, start_at="2000-01-01 00:00", end_at="2100-12-31 23:59", time_zone=zone
        )
        response = client.post(ADD, data)
        assert response.status_code == 302, response.context["form"].errors
    saved = Mailing.objects.filter(owner=owner, end_at__year__gte=2100)
    assert saved.count() == 2
    manager = UserFactory(role="Managers")
    client.force_login(manager)
    for page in PAGES:
        assert client.get(page).status_code == 200, page


def test_the_database_refuses_a_date_no_page_could_read():
    mailing = MailingFactory()
    table = Mailing._meta.db_table
    for column, value in (("end_at", "2150-01-01 00:00:00"), ("start_at", "1900-01-01 00:00:00")):
        statement = f"UPDATE {table} SET {column} = %s WHERE id = %s"  # noqa: S608 - our names
        with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement, [value, mailing.pk])
    mailing.refresh_from_db()  # still readable


def test_a_window_entirely_in_the_past_is_refused(client):
    owner = user_in("UTC")
    client.force_login(owner)
    _, data = form_for(owner, start_at="2000-01-01 10:00", end_at="2000-01-02 10:00")
    data["periodicity"] = "once"

    response = client.post(ADD, data)

    assert response.status_code == 200
    assert response.context["form"].errors["end_at"] == [
        "The end is in the past: this mailing would never go out."
    ]
    assert not Mailing.objects.filter(owner=owner, start_at__year=2000).exists()


def test_an_old_mailing_edited_for_something_else_keeps_its_closed_window(client):
    owner = user_in("UTC")
    client.force_login(owner)
    old = MailingFactory(
        owner=owner,
        start_at=timezone.now() - timedelta(days=30),
        end_at=timezone.now() - timedelta(days=20),
    )
    data = mailing_form_data(old)
    data["is_enabled"] = ""  # switched off, nothing else changed

    response = client.post(f"/admin/mailings/mailings/edit/{old.pk}/", data)

    assert response.status_code == 302
    old.refresh_from_db()
    assert old.is_enabled is False


def test_the_schedule_does_not_send_a_window_that_closed_while_it_waited():
    now = datetime(2030, 5, 1, 12, 0, tzinfo=UTC)
    closed = MailingFactory(
        periodicity="once",
        start_at=datetime(2000, 1, 1, 10, 0, tzinfo=UTC),
        end_at=datetime(2000, 1, 2, 10, 0, tzinfo=UTC),
    )
    daily = MailingFactory(
        periodicity="daily",
        start_at=now - timedelta(days=3, hours=3),  # 09:00, ended at 11:00 today
        end_at=now - timedelta(hours=1),
    )
    open_one = MailingFactory(
        periodicity="once", start_at=now - timedelta(hours=1), end_at=now + timedelta(days=1)
    )
    # As the schedule left them before a downtime: each waiting for a slot that has come.
    for mailing in (closed, daily, open_one):
        Mailing.objects.filter(pk=mailing.pk).update(
            next_run_at=mailing.start_at, status=Mailing.Status.RUNNING
        )

    dispatching.tick_until_idle(now=now)

    assert list(Attempt.objects.values_list("mailing", flat=True)) == [open_one.pk]
    for mailing in (closed, daily):
        mailing.refresh_from_db()
        assert (mailing.next_run_at, mailing.status) == (None, Mailing.Status.FINISHED)

"""Journey 4: a user who types the address of another user's client gets the not-found page,
and nothing of that client; their own client at the same kind of address opens as usual."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from e2e.helpers import log_in
from tests.factories import ClientFactory, UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_another_users_client_is_not_found(open_page):
    me = UserFactory(role="Users", email="me@example.com")
    mine = ClientFactory(owner=me, email="my.client@example.org", full_name="Mona Mine")
    theirs = ClientFactory(
        owner=UserFactory(role="Users"), email="their.client@example.org", full_name="Tom Theirs"
    )
    # The document's own 404 is the point here; any other failed request still fails the test.
    page = open_page(documents_may_fail=True)
    log_in(page, "me@example.com")

    own = page.goto(f"/admin/mailings/clients/edit/{mine.pk}/")
    assert own.status == 200
    expect(page.get_by_role("textbox", name="Full name")).to_have_value("Mona Mine")

    for action in ("edit", "inspect", "delete"):
        response = page.goto(f"/admin/mailings/clients/{action}/{theirs.pk}/")

        assert response.status == 404, (action, response.status)
        # The admin's own not-found page.
        expect(page.get_by_role("heading", level=1)).to_have_text("Error 404")
        expect(page.get_by_text("The requested page could not be found.")).to_be_visible()
        content = page.content()
        assert "their.client@example.org" not in content and "Tom Theirs" not in content

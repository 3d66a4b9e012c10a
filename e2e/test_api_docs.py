"""The API's documentation page (Swagger UI) works in a browser from our own files: no
console error, no CSP violation, no request leaving the server."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_the_api_docs_open_from_our_own_files(open_page, live_server):
    page = open_page()
    hosts = set()
    page.on("request", lambda request: hosts.add(urlsplit(request.url).hostname))

    page.goto("/api/v1/docs/")

    expect(page.locator(".swagger-ui .title")).to_contain_text("Mailing service API")
    expect(page.locator(".opblock-tag", has_text="mailings").first).to_be_visible()
    assert hosts == {urlsplit(live_server.url).hostname}

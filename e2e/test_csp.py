"""The browser journeys catch a Content-Security-Policy violation: a page that breaks the
policy fails its test (e2e/conftest.py), so the policy and the pages cannot drift apart."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from e2e.conftest import WATCHES
from tests.support.processes import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_a_policy_violation_fails_the_journey(page: Page, request):
    page.goto("/")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    (watch,) = request.node.stash[WATCHES]

    # What injected markup would try: run inline code and style the page inline.
    page.evaluate(
        "() => { const s = document.createElement('script'); s.textContent = 'window.x = 1';"
        " document.body.append(s);"
        " document.body.insertAdjacentHTML('beforeend', '<p style=\"color: red\">x</p>'); }"
    )

    def violations() -> list[str]:
        page.evaluate("() => 0")  # lets the browser's events reach Python
        return [problem for problem in watch.problems if "CSP violation" in problem]

    assert wait_until(lambda: len(violations()) >= 2, timeout=10), watch.problems
    assert any("script-src-elem blocked inline" in p for p in violations())
    assert any("style-src-attr blocked inline" in p for p in violations())
    assert page.evaluate("() => window.x") is None  # the inline script did not run
    watch.take_new()  # expected here: not a failure of this test

"""Steps several journeys share, done the way a person does them."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from playwright.sync_api import Locator, Page, expect

PASSWORD = "correct-horse-battery"  # tests.factories.UserFactory's password


def log_in(page: Page, email: str, password: str = PASSWORD) -> None:
    """Sign in through the admin's login form."""
    page.goto("/admin/login/")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def sidebar(page: Page) -> Locator:
    return page.locator("aside").first


def open_menu_item(page: Page, group: str, item: str) -> None:
    """Open an item of a group in the admin's sidebar menu (Mailings > Clients, ...)."""
    sidebar(page).get_by_role("button", name=group, exact=True).click()
    sidebar(page).get_by_role("link", name=item, exact=True).click()


def choose_action(page: Page, toggle: Locator, item: str) -> None:
    """Open a dropdown of actions ("Actions", "More options for ...") and follow one."""
    toggle.click()
    page.get_by_role("menuitem", name=item, exact=True).or_(
        page.get_by_role("link", name=item, exact=True)
    ).click()


def images_loaded(page: Page, images: Locator) -> list[str]:
    """Scroll each image into view (they load lazily) and wait until the browser has either
    drawn it or given up; returns the sources of those that did not load."""
    broken = []
    for index in range(images.count()):
        image = images.nth(index)
        image.scroll_into_view_if_needed()
        # ``complete`` is true once the image loaded or broke; a lazy one not yet started
        # is not complete. Never wait for ever: after 10 s, judge what is there.
        image.evaluate(
            "img => img.complete ? null : new Promise(done => {"
            " img.addEventListener('load', done, {once: true});"
            " img.addEventListener('error', done, {once: true});"
            " setTimeout(done, 10000); })"
        )
        if image.evaluate("img => img.naturalWidth") == 0:
            broken.append(image.get_attribute("src") or "?")
    return broken


def reload_until(
    page: Page, done: Callable[[], bool], *, timeout: float, interval: float = 1.0
) -> bool:
    """Reload the page until ``done()`` is true (what a person watching progress does)."""
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            return False
        page.wait_for_timeout(interval * 1000)
        page.reload()
    return True


def text_of(locator: Locator) -> str:
    return re.sub(r"\s+", " ", locator.inner_text()).strip()


def success_message(page: Page) -> Locator:
    return page.locator(".messages .success")


def expect_success(page: Page, text: str | re.Pattern) -> None:
    expect(success_message(page)).to_contain_text(text)

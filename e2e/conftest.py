"""Browser end-to-end journeys: Playwright for Python driving Debian's Chromium against a live
server (pytest-django's ``live_server``) on the configured database, with a real Celery worker
(on a queue of its own) and a real SMTP server on loopback. ``make e2e`` runs them.

Every page a test opens is watched: a JavaScript console error, an uncaught exception, a
Content-Security-Policy violation, a response of 400 or more, or a request that failed fails
the test; and the last state of every page is saved as a full-page screenshot under
``var/screenshots/<test name>.png``.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from playwright.sync_api import Browser, ConsoleMessage, Page, Request, Response, expect
from playwright.sync_api import Error as PlaywrightError

from tests.support.cache import clear_cache

# Playwright's sync API keeps an asyncio loop running in this thread, so Django takes the
# plain synchronous ORM calls the tests make between browser steps for calls from async code.
# They are not: let them through, in this suite only.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
# The live server on the IPv4 loopback: the address Chromium, the links in e-mails and the
# CSRF origin check all agree on.
os.environ.setdefault("DJANGO_LIVE_TEST_SERVER_ADDRESS", "127.0.0.1")

CHROMIUM = os.environ.get("E2E_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(django_settings.VAR_DIR) / "screenshots"
# Every frame of every page reports what its Content-Security-Policy blocked as a console error
# of its own, in one form whatever was blocked: the directive, what it blocked and where
# (Chromium's own messages differ by kind, and name neither the directive nor the source line).
CSP_WATCH = """
document.addEventListener("securitypolicyviolation", (event) => {
    console.error(
        "CSP violation: " + event.effectiveDirective + " blocked "
        + (event.blockedURI || "inline") + " at " + event.sourceFile + ":" + event.lineNumber
        + (event.sample ? " (" + event.sample + ")" : "")
    );
});
"""
TIMEOUT_MS = 15_000

expect.set_options(timeout=TIMEOUT_MS)


# --- The database, the cache and the settings the live server runs with ---------------------


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix) -> None:
    """A test database of its own (``test_<name>_e2e``), so `make e2e` and `make test` on the
    same server never create or drop each other's."""
    for db in django_settings.DATABASES.values():
        test = db.setdefault("TEST", {})
        name = test.get("NAME") or f"test_{db['NAME']}"
        test["NAME"] = f"{name}_e2e"


@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    """Throttles, counters and cached pages from an earlier run must not leak in. With Redis
    only this suite's keys go (the broker's queues share the database)."""

    clear_cache()
    yield
    clear_cache()


@pytest.fixture(autouse=True)
def live_site(settings, live_server, tmp_path):
    """Links in e-mails point at the live server; uploads and renditions go to a temporary
    folder, which the live server serves under MEDIA_URL."""
    settings.SITE_URL = live_server.url
    settings.WAGTAILADMIN_BASE_URL = live_server.url
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return live_server


@pytest.fixture
def mail_server(settings):
    """A real SMTP server on loopback that records what it accepts; the live server's own mail
    (the sign-up confirmation) goes there."""
    from tests.support.smtp import TestSMTPServer, point_django_mail_at

    with TestSMTPServer() as server:
        point_django_mail_at(settings, server.port)
        yield server


@pytest.fixture
def worker(start_worker):
    """A real Celery worker on a queue of its own, on this test database and the configured
    broker, sending to ``mail_server`` with links to the live server. What the live server
    publishes (a mailing saved in the admin) goes to that queue."""
    return start_worker()


@pytest.fixture
def start_worker(transactional_db, live_server, mail_server):
    """Start the worker when the test says (``worker`` starts it at once): what the live
    server publishes goes to its queue from the start, and waits there until then."""
    from site_config.celery import app
    from tests.support.processes import (
        celery_worker,
        database_url_for_processes,
        use_default_queue,
        wait_until,
    )

    queue = f"e2e-{uuid.uuid4().hex[:10]}"
    started = []

    def start():
        process = celery_worker(
            queue=queue,
            env={
                # Under overridden settings Django forgets the module's name: pass it on.
                "DJANGO_SETTINGS_MODULE": os.environ["DJANGO_SETTINGS_MODULE"],
                "DATABASE_URL": database_url_for_processes(),
            },
            settings={
                "SITE_URL": live_server.url,
                # The accounts' mails go through Django's backend (the test settings keep
                # them in memory); runs use the engine's own SMTP session.
                "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                "EMAIL_HOST": "127.0.0.1",
                "EMAIL_PORT": mail_server.port,
                "EMAIL_TIMEOUT": 5,
            },
        )
        started.append(process)
        ready = wait_until(lambda: "ready." in process.output() or not process.alive(), timeout=60)
        assert ready and process.alive(), "the worker did not start:\n" + process.output()[-3000:]
        return process

    saved_queue = app.conf.task_default_queue
    use_default_queue(queue)
    try:
        yield start
    finally:
        use_default_queue(saved_queue)
        for process in started:
            process.stop()


# --- The browser ----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    if not os.access(CHROMIUM, os.X_OK):
        pytest.exit(
            f"The browser journeys need Chromium at {CHROMIUM}: apt-get install -y chromium "
            "(or set E2E_CHROMIUM to another Chromium binary).",
            returncode=3,
        )
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@dataclass
class Watch:
    """What went wrong on one page, as the browser saw it."""

    page: Page
    label: str
    documents_may_fail: bool = False
    problems: list[str] = field(default_factory=list)
    failed_documents: set[str] = field(default_factory=set)
    reported: int = 0

    def __post_init__(self) -> None:
        self.page.on("console", self.on_console)
        self.page.on("pageerror", self.on_page_error)
        self.page.on("response", self.on_response)
        self.page.on("requestfailed", self.on_request_failed)

    def on_page_error(self, error: PlaywrightError) -> None:
        self.problems.append(f"JavaScript: {error} ({self.page.url})")

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        url = message.location.get("url", "")
        if url in self.failed_documents and message.text.startswith("Failed to load resource"):
            return  # the expected status of a document, reported by the response already
        self.problems.append(f"console error: {message.text} ({url})")

    def on_response(self, response: Response) -> None:
        if response.status < 400:
            return
        request = response.request
        if self.documents_may_fail and request.resource_type == "document":
            self.failed_documents.add(response.url)
            return
        self.problems.append(
            f"{response.status} for {request.method} {response.url} ({request.resource_type})"
        )

    def on_request_failed(self, request: Request) -> None:
        failure = request.failure or ""
        # Leaving a page cancels what it was still loading: not a failure of the site.
        if "ERR_ABORTED" in failure:
            return
        self.problems.append(f"request failed: {request.method} {request.url}: {failure}")

    def take_new(self) -> list[str]:
        """The problems not reported yet, each marked with the page's label."""
        new = self.problems[self.reported :]
        self.reported += len(new)
        return [f"[{self.label or 'page'}] {problem}" for problem in new]


WATCHES = pytest.StashKey[list[Watch]]()


def new_problems(item: pytest.Item) -> list[str]:
    return [problem for watch in item.stash.get(WATCHES, []) for problem in watch.take_new()]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    """What the browser saw fails the test itself, right after its last step; when the test
    failed anyway, it is added to the failure (it is often the cause)."""
    try:
        result = yield
    except BaseException as failure:
        problems = new_problems(item)
        if problems:
            failure.add_note("The browser also saw:\n" + "\n".join(problems))
        raise
    problems = new_problems(item)
    if problems:
        pytest.fail("The browser saw errors:\n" + "\n".join(problems), pytrace=False)
    return result


def screenshot_name(node_name: str, label: str) -> str:
    name = node_name + (f"-{label}" if label else "")
    return re.sub(r"[^\w.-]+", "_", name).strip("_") + ".png"


@pytest.fixture
def open_page(browser, live_server, request) -> Iterator[Callable[..., Page]]:
    """``open_page(label="", documents_may_fail=False)``: a page in a browser context of its
    own (its own cookies: one person). Every page is watched (see ``pytest_runtest_call``)
    and screenshotted at the end of the test, whatever its outcome."""
    opened: list[Watch] = []
    request.node.stash[WATCHES] = opened

    def open_(label: str = "", *, documents_may_fail: bool = False) -> Page:
        context = browser.new_context(
            base_url=live_server.url,
            locale="en-US",
            viewport={"width": 1280, "height": 900},
        )
        context.set_default_timeout(TIMEOUT_MS)
        context.add_init_script(CSP_WATCH)
        page = context.new_page()
        opened.append(Watch(page, label, documents_may_fail=documents_may_fail))
        return page

    yield open_

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    problems = []
    for watch in opened:
        name = screenshot_name(request.node.name, watch.label)
        try:
            watch.page.screenshot(path=SCREENSHOTS / name, full_page=True)
        except PlaywrightError as exc:
            problems.append(f"no screenshot {name}: {exc}")
        problems += watch.take_new()  # anything that arrived after the test's last step
        watch.page.context.close()
    assert not problems, "The browser saw errors:\n" + "\n".join(problems)


@pytest.fixture
def page(open_page) -> Page:
    return open_page()

"""The API at /api/v1/: the admin's permission policy on every endpoint (an isolation matrix
built from the router's own URL patterns), tokens, errors, the OpenAPI description."""

from __future__ import annotations

import json
from io import StringIO

import pytest
import yaml
from django.core.management import call_command
from django.db import connection
from django.test import Client as Browser
from django.test.utils import CaptureQueriesContext
from django.urls import URLPattern, URLResolver, reverse
from django.utils import timezone
from openapi_spec_validator import validate
from wagtail.models import APIToken

from mailings.api.throttling import TokenRateThrottle
from mailings.api.urls import router
from mailings.models import Attempt, ClientList, Delivery, Mailing, Membership, Message
from tests.factories import (
    AttemptFactory,
    ClientFactory,
    DeliveryFactory,
    MailingFactory,
    MessageFactory,
    UserFactory,
)
from tests.support.snapshot import snapshot

pytestmark = pytest.mark.django_db

MARKERS = ("secret-client@alice.example", "Alice secret subject", "Alice secret list")


def token_for(user, name="test") -> str:
    return APIToken.create_token(user=user, name=name)[1]


def api(token: str | None = None, **headers) -> Browser:
    if token:
        headers["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return Browser(**headers)


@pytest.fixture
def alice():
    owner = UserFactory(role="Users", email="alice@example.com")
    client = ClientFactory(owner=owner, email=MARKERS[0], full_name="Alice Client")
    message = MessageFactory(owner=owner, subject=MARKERS[1])
    client_list = ClientList.objects.create(owner=owner, name=MARKERS[2])
    Membership.objects.create(client_list=client_list, client=client)
    mailing = MailingFactory(owner=owner, message=message, clients=[client])
    mailing.lists.add(client_list)
    attempt = AttemptFactory(mailing=mailing, status="failure")
    delivery = DeliveryFactory(attempt=attempt, client=client, email=client.email)
    return {
        "owner": owner,
        "client": client,
        "list": client_list,
        "message": message,
        "mailing": mailing,
        "attempt": attempt,
        "delivery": delivery,
    }


def routes() -> list[tuple[str, str]]:
    """(URL pattern name, regex) of every endpoint the router has."""
    found = []
    for pattern in router.urls:
        if isinstance(pattern, URLPattern) and pattern.name and pattern.name != "api-root":
            found.append((pattern.name, pattern.pattern.regex.pattern))
        assert not isinstance(pattern, URLResolver)
    return found


ROUTES = routes()
ROW_OF = {
    "client": "client",
    "list": "list",
    "message": "message",
    "mailing": "mailing",
    "attempt": "attempt",
    "delivery": "delivery",
}
WRITE = {
    "client": {"email": "stolen@example.org", "full_name": "Stolen"},
    "list": {"name": "Hijacked"},
    "message": {"subject": "Hijacked", "body": "Hijacked"},
    "mailing": {"name": "Hijacked"},
}


def detail_routes():
    for name, regex in ROUTES:
        if "<pk>" in regex:
            basename, _dash, kind = name.partition("-")
            methods = ["get"]
            if kind == "detail" and basename in WRITE:
                methods += ["put", "patch", "delete"]
            elif kind != "detail":
                methods = ["post"]
            for method in methods:
                yield name, regex, basename, method


DETAIL = list(detail_routes())


def url_of(name: str, pk) -> str:
    return reverse(f"api:{name}", kwargs={"pk": pk})


def assert_no_markers(response):
    for marker in MARKERS:
        assert marker.encode() not in response.content, (response.request["PATH_INFO"], marker)


def test_the_matrix_covers_every_endpoint():
    names = {name for name, _regex, _basename, _method in DETAIL}
    assert {"mailing-send-now", "mailing-enable", "mailing-disable", "client-detail"} <= names
    assert {basename for _n, _r, basename, _m in DETAIL} == set(ROW_OF)


@pytest.mark.parametrize(("name", "regex", "basename", "method"), DETAIL, ids=lambda v: str(v))
def test_another_users_row_is_a_404_on_every_endpoint_and_method(
    alice, name, regex, basename, method
):
    mallory = UserFactory(role="Users", email="mallory@example.com")
    url = url_of(name, alice[ROW_OF[basename]].pk)
    owner = api(token_for(alice["owner"]))
    assert owner.get(url).status_code != 404 or method != "get", url
    before = snapshot()

    intruder = api(token_for(mallory))
    if method in ("get", "delete"):
        response = getattr(intruder, method)(url)
    else:
        body = json.dumps(WRITE.get(basename, {}))
        response = getattr(intruder, method)(url, data=body, content_type="application/json")

    assert response.status_code == 404, (url, method, response.status_code)
    assert response.json()["error"]["code"] == "not_found"
    assert_no_markers(response)
    assert snapshot() == before


LISTINGS = ["clients", "lists", "messages", "mailings", "attempts", "deliveries"]


@pytest.mark.parametrize("listing", LISTINGS)
@pytest.mark.parametrize(
    "query",
    [
        "",
        "?search=secret",
        "?search=alice",
        "?ordering=-id",
        "?list={list}",
        "?attempt={attempt}",
        "?mailing={mailing}",
        "?status=failed",
    ],
)
def test_listings_and_filters_hold_none_of_another_users_rows(alice, listing, query):
    mallory = UserFactory(role="Users")
    query = query.format(**{k: getattr(v, "pk", "") for k, v in alice.items()})

    response = api(token_for(mallory)).get(f"/api/v1/{listing}/{query}")

    assert response.status_code in (200, 400), response.content
    assert_no_markers(response)
    if response.status_code == 200:
        assert response.json()["results"] == []


def test_an_owner_writes_through_the_api_as_through_the_admin(alice, settings):
    owner = alice["owner"]
    client = api(token_for(owner))

    made = client.post(
        "/api/v1/clients/",
        {"email": "new@example.org", "full_name": "New One", "lists": [alice["list"].pk]},
        content_type="application/json",
    )
    duplicate = client.post(
        "/api/v1/clients/",
        {"email": "NEW@example.org", "full_name": "Again"},
        content_type="application/json",
    )
    mailing = client.post(
        "/api/v1/mailings/",
        {
            "name": "By API",
            "message": alice["message"].pk,
            "lists": [alice["list"].pk],
            "start_at": (timezone.now() + timezone.timedelta(days=1)).isoformat(),
            "end_at": (timezone.now() + timezone.timedelta(days=3)).isoformat(),
            "periodicity": "daily",
        },
        content_type="application/json",
    )
    nothing = client.post(
        "/api/v1/mailings/",
        {
            "name": "To nobody",
            "message": alice["message"].pk,
            "periodicity": "once",
            "start_at": "2027-01-01T10:00:00Z",
            "end_at": "2026-01-01T10:00:00Z",
        },
        content_type="application/json",
    )

    assert made.status_code == 201, made.content
    assert made.json()["status"] == "subscribed" and made.json()["lists"] == [alice["list"].pk]
    assert duplicate.status_code == 400
    assert duplicate.json()["error"]["fields"]["email"][0].startswith("You already have")
    assert mailing.status_code == 201, mailing.content
    created = Mailing.objects.get(pk=mailing.json()["id"])
    assert created.owner == owner and created.next_run_at is not None  # planned as by the admin
    assert nothing.status_code == 400
    assert set(nothing.json()["error"]["fields"]) >= {"clients"}


def test_send_now_disable_enable_call_the_services(alice, committed):
    owner, mailing = alice["owner"], alice["mailing"]
    client = api(token_for(owner))
    Attempt.objects.filter(mailing=mailing).update(status="success")

    sent = committed(client.post, f"/api/v1/mailings/{mailing.pk}/send-now/")
    again = client.post(f"/api/v1/mailings/{mailing.pk}/send-now/")
    off = client.post(f"/api/v1/mailings/{mailing.pk}/disable/")
    on = client.post(f"/api/v1/mailings/{mailing.pk}/enable/")

    assert sent.status_code == 202 and sent.json()["mailing"] == mailing.pk
    assert again.status_code in (202, 409)
    assert off.status_code == 200 and off.json()["is_enabled"] is False
    assert on.status_code == 200 and on.json()["is_enabled"] is True


def test_a_manager_reads_every_mailing_and_disables_it_nothing_else(alice):
    manager = UserFactory(role="Managers")
    client = api(token_for(manager))
    mailing = alice["mailing"]

    listing = client.get("/api/v1/mailings/")
    runs = client.get(f"/api/v1/deliveries/?attempt={alice['attempt'].pk}")
    change = client.patch(
        f"/api/v1/mailings/{mailing.pk}/", {"name": "x"}, content_type="application/json"
    )
    create = client.post("/api/v1/clients/", {"email": "a@b.org", "full_name": "A"})
    clients = client.get("/api/v1/clients/")
    off = client.post(f"/api/v1/mailings/{mailing.pk}/disable/")
    owner_on = api(token_for(alice["owner"])).post(f"/api/v1/mailings/{mailing.pk}/enable/")

    assert [m["id"] for m in listing.json()["results"]] == [mailing.pk]
    assert [d["id"] for d in runs.json()["results"]] == [alice["delivery"].pk]
    assert change.status_code == 403 and create.status_code == 403 and clients.status_code == 403
    assert off.status_code == 200
    assert Mailing.objects.get(pk=mailing.pk).disabled_by_moderator
    assert owner_on.status_code == 403  # a moderator's "off" is undone by a moderator only
    assert owner_on.json()["error"]["code"] == "permission_denied"


def test_a_blocked_users_or_a_revoked_token_gets_401_on_the_next_request(alice):
    owner = alice["owner"]
    token = token_for(owner)
    assert api(token).get("/api/v1/clients/").status_code == 200
    assert APIToken.objects.get(user=owner).last_used_at is not None

    type(owner).objects.filter(pk=owner.pk).update(is_active=False)
    blocked = api(token).get("/api/v1/clients/")
    type(owner).objects.filter(pk=owner.pk).update(is_active=True)
    assert api(token).get("/api/v1/clients/").status_code == 200
    APIToken.objects.get(user=owner).revoke()
    revoked = api(token).get("/api/v1/clients/")

    for response in (blocked, revoked):
        assert response.status_code == 401
        assert response["WWW-Authenticate"] == "Bearer"
        assert response.json()["error"]["code"] == "authentication_failed"


@pytest.mark.parametrize(
    "header",
    ["Bearer", "Bearer a b", "Bearer wagtail_nope", "Bearer " + "x" * 5000, "Bearer \u00e9\u00e9"],
)
def test_a_malformed_or_unknown_token_is_a_401_not_a_500(db, header):
    response = Browser(HTTP_AUTHORIZATION=header).get("/api/v1/clients/")
    assert response.status_code == 401


def test_no_credentials_is_401_and_errors_speak_the_request_language(alice):
    assert Browser().get("/api/v1/mailings/").status_code in (401, 403)
    client = api(token_for(alice["owner"]), HTTP_ACCEPT_LANGUAGE="ru")
    response = client.post("/api/v1/lists/", {"name": MARKERS[2]}, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["fields"]["name"] == [f"У вас уже есть список «{MARKERS[2]}»."]


def test_the_schema_validates_and_describes_every_endpoint_of_the_router(db):
    response = Browser().get("/api/v1/schema/")
    assert response.status_code == 200
    schema = yaml.safe_load(response.content)

    validate(schema)

    described = set(schema["paths"])
    for name, regex in ROUTES:
        if "<pk>" in regex:
            path = url_of(name, 0).replace("/0/", "/{id}/")
        else:
            path = reverse(f"api:{name}")
        assert path in described, (name, path)
    assert schema["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


def test_the_docs_page_uses_only_our_own_static_files(db):
    page = Browser().get("/api/v1/docs/").content.decode()
    assert "drf_spectacular_sidecar/swagger-ui-dist" in page
    assert "cdn." not in page and "unpkg" not in page and "jsdelivr" not in page


def test_create_api_token_prints_a_working_token(alice):
    out = StringIO()
    call_command("create_api_token", alice["owner"].email, "--name", "shop", stdout=out)
    token = out.getvalue().strip()
    assert api(token).get("/api/v1/clients/").status_code == 200
    assert APIToken.objects.get(user=alice["owner"]).name == "shop"


def test_messages_in_use_cannot_be_deleted_and_blocks_are_not_edited(alice):
    client = api(token_for(alice["owner"]))
    response = client.delete(f"/api/v1/messages/{alice['message'].pk}/")
    assert response.status_code == 409 and response.json()["error"]["code"] == "conflict"
    assert Message.objects.filter(pk=alice["message"].pk).exists()
    assert Delivery.objects.exists()


def test_requests_are_throttled_per_token(alice, monkeypatch):
    monkeypatch.setattr(TokenRateThrottle, "THROTTLE_RATES", {"api": "3/min"})
    first, second = token_for(alice["owner"], "one"), token_for(alice["owner"], "two")
    codes = [api(first).get("/api/v1/lists/").status_code for _ in range(4)]
    refused = api(first).get("/api/v1/lists/")

    assert codes == [200, 200, 200, 429]
    assert refused.json()["error"]["code"] == "throttled" and int(refused["Retry-After"]) > 0
    assert api(second).get("/api/v1/lists/").status_code == 200  # per token


def test_each_user_manages_their_own_tokens_in_the_admin(alice):
    other = UserFactory(role="Users")
    theirs, _plain = APIToken.create_token(user=other, name="their token")
    browser = Browser()
    browser.force_login(alice["owner"])

    listing = browser.get("/admin/api-tokens/")
    form = browser.get("/admin/api-tokens/new/").content.decode()
    created = browser.post("/admin/api-tokens/new/", {"name": "my shop", "user": other.pk})
    foreign = browser.get(f"/admin/api-tokens/edit/{theirs.pk}/")

    assert listing.status_code == 200 and "their token" not in listing.content.decode()
    assert created.status_code == 200 and "wagtail_" in created.content.decode()  # shown once
    assert 'type="hidden" name="user"' in form  # not asked whose token it is
    assert APIToken.objects.filter(user=alice["owner"], name="my shop").exists()  # their own
    assert not APIToken.objects.filter(user=other, name="my shop").exists()
    assert foreign.status_code in (302, 403, 404)
    manager = Browser()
    manager.force_login(UserFactory(role="Managers"))
    assert manager.get("/admin/api-tokens/").status_code == 200


def bulk_upsert(client, entries):
    return client.post(
        "/api/v1/clients/bulk/", {"clients": entries}, content_type="application/json"
    )


def test_bulk_upsert_creates_updates_merges_and_reports_each_row(alice):
    owner = alice["owner"]
    gone = ClientFactory(owner=owner, email="gone@example.org", full_name="Gone", comment="keep")
    type(gone).objects.filter(pk=gone.pk).update(unsubscribed_at=timezone.now())
    theirs = ClientList.objects.create(owner=UserFactory(), name="Theirs")
    client = api(token_for(owner))

    response = bulk_upsert(
        client,
        [
            {"email": "new@example.org", "full_name": "New", "lists": [alice["list"].pk]},
            {"email": "GONE@example.org", "full_name": "", "comment": ""},
            {"email": "twice@example.org", "full_name": "First"},
            {"email": "Twice@example.org", "comment": "later wins"},
            {"email": "not an address", "full_name": "X"},
            {"email": "nameless@example.org"},
            {"email": "x@example.org", "full_name": "X", "lists": [theirs.pk]},
            "garbage",
        ],
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert [r["result"] for r in body["results"]] == [
        "created",
        "updated",
        "merged",
        "created",
        "invalid",
        "invalid",
        "invalid",
        "invalid",
    ]
    assert (body["created"], body["updated"], body["merged"], body["invalid"]) == (2, 1, 1, 4)
    gone.refresh_from_db()
    assert (gone.full_name, gone.comment, gone.unsubscribed_at is not None) == (
        "Gone",
        "keep",
        True,  # an empty value never erases; no re-subscribing
    )
    twice = type(gone).objects.get(owner=owner, email__iexact="twice@example.org")
    assert (twice.full_name, twice.comment) == ("First", "later wins")
    assert body["results"][2]["id"] == body["results"][3]["id"] == twice.pk
    new = type(gone).objects.get(owner=owner, email="new@example.org")
    assert list(new.lists.all()) == [alice["list"]]
    assert not Membership.objects.filter(client_list=theirs).exists()
    assert "not a valid e-mail address" in body["results"][4]["error"]


@pytest.mark.parametrize("body", [{}, {"clients": []}, {"clients": "x"}, [1, 2]])
def test_bulk_upsert_refuses_a_body_that_is_not_a_list_of_entries(alice, body):
    response = api(token_for(alice["owner"])).post(
        "/api/v1/clients/bulk/", body, content_type="application/json"
    )
    assert response.status_code == 400 and "clients" in response.json()["error"]["fields"]


def test_bulk_upsert_takes_at_most_1000_and_the_same_statements_for_10_and_1000(alice):
    client = api(token_for(alice["owner"]))
    too_many = [{"email": f"m{i}@example.org", "full_name": "M"} for i in range(1001)]
    assert bulk_upsert(client, too_many).status_code == 400

    def statements(count: int, prefix: str) -> int:
        entries = [{"email": f"{prefix}{i}@example.org", "full_name": "M"} for i in range(count)]
        with CaptureQueriesContext(connection) as queries:
            assert bulk_upsert(client, entries).status_code == 200
        return len(queries.captured_queries)

    small, big = statements(10, "a"), statements(1000, "b")
    if connection.vendor == "postgresql":  # the measure: constant per batch
        assert small == big
    else:  # SQLite splits an INSERT of 1,000 rows at its 999 parameters a statement
        assert small < big <= small + 12


def test_two_scripts_cannot_silently_overwrite_each_others_change_to_a_mailing(alice):
    url = f"/api/v1/mailings/{alice['mailing'].pk}/"
    first, second = api(token_for(alice["owner"], "a")), api(token_for(alice["owner"], "b"))
    read_first, read_second = first.get(url), second.get(url)
    etag = read_first["ETag"]
    assert etag and read_second["ETag"] == etag

    blind = first.patch(url, {"name": "Blind"}, content_type="application/json")
    changed = first.patch(
        url, {"name": "First's"}, content_type="application/json", HTTP_IF_MATCH=etag
    )
    stale = second.patch(
        url, {"name": "Second's"}, content_type="application/json", HTTP_IF_MATCH=etag
    )

    assert blind.status_code == 428 and blind.json()["error"]["code"] == "precondition_required"
    assert changed.status_code == 200 and changed["ETag"] != etag
    assert stale.status_code == 412 and stale.json()["error"]["code"] == "precondition_failed"
    assert Mailing.objects.get(pk=alice["mailing"].pk).name == "First's"
    again = second.patch(
        url,
        {"name": "Second's"},
        content_type="application/json",
        HTTP_IF_MATCH=second.get(url)["ETag"],
    )
    assert again.status_code == 200 and again.json()["name"] == "Second's"


MANAGER_SEES = {"mailing", "attempt", "delivery"}  # moderated: read, and switch mailings off/on


@pytest.mark.parametrize(("name", "regex", "basename", "method"), DETAIL, ids=lambda v: str(v))
def test_a_manager_on_every_endpoint_reads_what_the_admin_shows_and_changes_nothing_else(
    alice, name, regex, basename, method
):
    url = url_of(name, alice[ROW_OF[basename]].pk)
    manager = api(token_for(UserFactory(role="Managers")))
    before = snapshot()

    if method in ("get", "delete"):
        response = getattr(manager, method)(url)
    else:
        body = json.dumps(WRITE.get(basename, {}))
        response = getattr(manager, method)(url, data=body, content_type="application/json")

    # A run's page shows its recipients' addresses to a manager in the admin too.
    shown = (MARKERS[0],) if basename == "delivery" else ()
    for marker in set(MARKERS) - set(shown):
        assert marker.encode() not in response.content, (url, marker)
    # Switching off, yes; on, only what a moderator switched off (this one is not).
    if basename in MANAGER_SEES and (method == "get" or name == "mailing-disable"):
        assert response.status_code == 200, (url, method, response.status_code)
    else:
        assert response.status_code == 403, (url, method, response.status_code)
        assert snapshot() == before


def test_the_browsable_pages_take_the_admin_session_with_its_csrf_token(alice):
    browser = Browser(enforce_csrf_checks=True)
    browser.force_login(alice["owner"])

    read = browser.get("/api/v1/lists/")
    forged = browser.post("/api/v1/lists/", {"name": "Forged"}, content_type="application/json")

    assert read.status_code == 200
    assert forged.status_code == 403 and "CSRF" in forged.json()["error"]["message"]
    assert not ClientList.objects.filter(name="Forged").exists()


def test_naming_another_users_rows_is_a_field_error_that_shows_nothing_of_them(alice):
    mallory = api(token_for(UserFactory(role="Users")))
    own = mallory.post(
        "/api/v1/messages/", {"subject": "Mine", "body": "Hi"}, content_type="application/json"
    ).json()["id"]

    responses = [
        mallory.post(
            "/api/v1/mailings/",
            {
                "name": "x",
                "message": alice["message"].pk,
                "clients": [alice["client"].pk],
                "lists": [alice["list"].pk],
                "start_at": "2030-01-01T10:00:00Z",
                "end_at": "2030-01-02T10:00:00Z",
                "periodicity": "once",
            },
            content_type="application/json",
        ),
        mallory.post(
            "/api/v1/clients/",
            {"email": alice["client"].email, "full_name": "x", "lists": [alice["list"].pk]},
            content_type="application/json",
        ),
        mallory.post(
            "/api/v1/clients/bulk/",
            {"clients": [{"email": "a@b.org", "full_name": "A", "lists": [alice["list"].pk]}]},
            content_type="application/json",
        ),
        mallory.get(f"/api/v1/mailings/?message={alice['message'].pk}&search=secret"),
    ]

    for response in responses:
        assert response.status_code in (200, 400), response.content
        assert_no_markers(response)
    fields = responses[0].json()["error"]["fields"]
    assert {"message", "clients", "lists"} <= set(fields)
    assert responses[2].json()["results"][0]["result"] == "invalid"
    assert own and not Mailing.objects.exclude(owner=alice["owner"]).exists()


def test_a_mailing_reads_its_clients_as_a_count_and_takes_them_as_ids(alice):
    client = api(token_for(alice["owner"]))
    read = client.get(f"/api/v1/mailings/{alice['mailing'].pk}/")
    listing = client.get("/api/v1/mailings/").json()["results"][0]
    extra = ClientFactory(owner=alice["owner"])

    changed = client.patch(
        f"/api/v1/mailings/{alice['mailing'].pk}/",
        {"clients": [alice["client"].pk, extra.pk]},
        content_type="application/json",
        HTTP_IF_MATCH=read["ETag"],
    )

    assert read.json()["clients_count"] == listing["clients_count"] == 1
    assert "clients" not in read.json()
    assert changed.status_code == 200 and changed.json()["clients_count"] == 2


def test_a_list_is_created_renamed_and_deleted_through_the_api(alice):
    client = api(token_for(alice["owner"]))

    made = client.post("/api/v1/lists/", {"name": "  VIP  "}, content_type="application/json")
    renamed = client.patch(
        f"/api/v1/lists/{made.json()['id']}/", {"name": "Gold"}, content_type="application/json"
    )
    gone = client.delete(f"/api/v1/lists/{made.json()['id']}/")

    assert made.status_code == 201, made.content
    assert made.json()["name"] == "VIP" and made.json()["clients_count"] == 0
    assert "/subscribe/" in made.json()["form_url"]
    assert renamed.status_code == 200 and renamed.json()["name"] == "Gold"
    assert gone.status_code == 204
    assert list(ClientList.objects.filter(owner=alice["owner"])) == [alice["list"]]


def test_a_message_is_written_read_and_refused_bad_placeholders(alice):
    client = api(token_for(alice["owner"]))

    made = client.post(
        "/api/v1/messages/",
        {"subject": "Hello {full_name}", "body": "Hi {full_name}\n{unsubscribe_url}"},
        content_type="application/json",
    )
    edited = client.patch(
        f"/api/v1/messages/{made.json()['id']}/", {"body": "Bye"}, content_type="application/json"
    )
    bad = client.post(
        "/api/v1/messages/", {"subject": "x", "body": "{nope}"}, content_type="application/json"
    )

    assert made.status_code == 201 and made.json()["composed"] is False
    assert "Hi {full_name}" in made.json()["text"]
    assert edited.status_code == 200 and edited.json()["body"] == "Bye"
    assert bad.status_code == 400 and "body" in bad.json()["error"]["fields"]

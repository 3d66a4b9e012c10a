"""CSV import of clients: formats, merging, updates and row-level reasons."""

import io

import pytest
from django.utils import timezone

from mailings.importing import ImportFileError, clients_import
from mailings.models import Client
from tests.factories import ClientFactory, UserFactory

pytestmark = pytest.mark.django_db


def run(owner, text: str, *, encoding="utf-8", chunk_size=1000):
    return clients_import(
        owner=owner, file=io.BytesIO(text.encode(encoding)), chunk_size=chunk_size
    )


def test_comma_file_creates_clients():
    owner = UserFactory()

    report = run(owner, "email,full_name,comment\nann@example.org,Ann,VIP\nbob@example.org,Bob,\n")

    assert (report.created, report.updated, report.invalid) == (2, 0, 0)
    ann = Client.objects.get(owner=owner, email="ann@example.org")
    assert (ann.full_name, ann.comment) == ("Ann", "VIP")


def test_semicolon_file_with_bom_and_columns_in_any_order():
    owner = UserFactory()

    report = run(owner, "\ufeffFull_Name;Email\nАнна Иванова;anna@example.ru\n")

    assert report.created == 1
    assert Client.objects.get(owner=owner).full_name == "Анна Иванова"


def test_duplicates_in_the_file_are_merged_ignoring_case():
    owner = UserFactory()

    report = run(
        owner,
        "email,full_name,comment\nann@example.org,Ann,first\nANN@example.org,Ann B.,\n",
    )

    assert (report.created, report.merged) == (1, 1)
    ann = Client.objects.get(owner=owner)
    assert (ann.full_name, ann.comment) == ("Ann B.", "first")


def test_duplicates_across_chunks_are_merged_not_counted_as_updates():
    owner = UserFactory()
    rows = "".join(f"c{i}@example.org,C {i}\n" for i in range(5))

    report = run(owner, "email,full_name\n" + rows + "C0@example.org,Again\n", chunk_size=2)

    assert (report.created, report.updated, report.merged) == (5, 0, 1)
    assert Client.objects.get(owner=owner, email="c0@example.org").full_name == "Again"


def test_existing_clients_are_updated_and_empty_cells_keep_values():
    owner = UserFactory()
    ClientFactory(owner=owner, email="ann@example.org", full_name="Ann", comment="keep me")

    report = run(owner, "email,full_name,comment\nAnn@Example.org,Ann Archer,\n")

    assert (report.created, report.updated) == (0, 1)
    ann = Client.objects.get(owner=owner)
    assert (ann.full_name, ann.comment) == ("Ann Archer", "keep me")


def test_an_import_never_resubscribes_anyone():
    owner = UserFactory()
    gone = ClientFactory(owner=owner, email="gone@example.org", unsubscribed_at=timezone.now())

    run(owner, "email,full_name\ngone@example.org,Back Again\n")

    gone.refresh_from_db()
    assert gone.unsubscribed_at is not None


def test_broken_rows_are_reported_with_line_numbers_and_reasons():
    owner = UserFactory()

    report = run(
        owner,
        "email,full_name\n"
        "good@example.org,Good\n"  # line 2
        "not-an-address,Bad\n"  # line 3
        ",Nobody\n"  # line 4
        "\n"  # line 5: blank, ignored
        "noname@example.org,\n"  # line 6: a new client needs a name
        "extra@example.org,Extra,cells,too\n",  # line 7
    )

    assert report.created == 1
    assert report.invalid == 4
    reasons = dict(report.errors)
    assert "not-an-address" in reasons[3]
    assert "empty" in reasons[4]
    assert "full name" in reasons[6]
    assert "more cells" in reasons[7]


def test_other_owners_clients_are_untouched():
    owner, other = UserFactory(), UserFactory()
    theirs = ClientFactory(owner=other, email="ann@example.org", full_name="Theirs")

    report = run(owner, "email,full_name\nann@example.org,Mine\n")

    assert report.created == 1
    theirs.refresh_from_db()
    assert theirs.full_name == "Theirs"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"name,phone\nAnn,123\n", "'email' column"),
        ("email,full_name\nann@example.org,Ann\n".encode("cp1251") + b"\xff\xfe,\xc0\n", "UTF-8"),
    ],
)
def test_an_unreadable_file_is_refused_whole(content, message):
    owner = UserFactory()

    with pytest.raises(ImportFileError, match=message):
        clients_import(owner=owner, file=io.BytesIO(content), chunk_size=1)

    assert not Client.objects.filter(owner=owner).exists()

"""CSV import of clients: formats, merging, updates and row-level reasons. Every test runs
twice: the staged import (rows copied to the database, merged there in set-based
statements) and the import by chunks through the ORM it replaced, which must agree."""

import io

import pytest
from django.utils import timezone

from mailings.importing import ImportFileError, clients_import
from mailings.models import Client
from mailings.upserting import clients_import_by_chunks
from tests.factories import ClientFactory, UserFactory

pytestmark = pytest.mark.django_db

IMPORTERS = {
    "staged": lambda chunk_size=1000, **kwargs: clients_import(batch=chunk_size, **kwargs),
    "by chunks": lambda chunk_size=1000, **kwargs: clients_import_by_chunks(
        chunk_size=chunk_size, **kwargs
    ),
}
CURRENT = {}


@pytest.fixture(autouse=True, params=list(IMPORTERS))
def importer(request, monkeypatch):
    monkeypatch.setitem(CURRENT, "import", IMPORTERS[request.param])
    return request.param


def do_import(**kwargs):
    return CURRENT["import"](**kwargs)


def run(owner, text: str, *, encoding="utf-8", chunk_size=1000):
    return do_import(owner=owner, file=io.BytesIO(text.encode(encoding)), chunk_size=chunk_size)


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
        # 0x98 is no character in Windows-1251 and no start of one in UTF-8.
        (b"email,full_name\nann@example.org,Ann\n\x98@example.org,X\n", "Windows-1251"),
    ],
)
def test_an_unreadable_file_is_refused_whole(content, message):
    owner = UserFactory()

    with pytest.raises(ImportFileError, match=message):
        do_import(owner=owner, file=io.BytesIO(content), chunk_size=1)

    assert not Client.objects.filter(owner=owner).exists()


# Issue 15, item 11: what the review's broken files did.


def test_an_unterminated_quote_refuses_the_whole_file_at_its_line():
    owner = UserFactory()
    ClientFactory(owner=owner, email="kept@example.org", full_name="Kept")
    rows = [f"q{n}@example.com,Q{n}" for n in range(1, 1000)]
    rows[2] = 'q3@example.com,"Q3 unterminated'  # line 4: the header is line 1
    text = "email,full_name\n" + "\n".join(rows) + "\n"

    with pytest.raises(ImportFileError, match=r"Line 4 cannot be read"):
        run(owner, text, chunk_size=1)

    assert list(Client.objects.filter(owner=owner).values_list("email", flat=True)) == [
        "kept@example.org"
    ]


def test_a_quote_closed_in_the_wrong_place_refuses_the_file_at_the_opening_line():
    owner = UserFactory()
    text = (
        "email,full_name,comment\n"
        "a@example.org,Ann,\n"  # line 2
        'b@example.org,"Bob,\n'  # line 3: the quote opens
        "c@example.org,Cy,fine\n"
        'd@example.org,"Dee",x\n'  # the next quote closes it, and what follows is not CSV
    )

    with pytest.raises(ImportFileError, match=r"Line 3 cannot be read"):
        run(owner, text)

    assert not Client.objects.filter(owner=owner).exists()


def test_a_quoted_comment_over_several_lines_still_imports():
    owner = UserFactory()
    text = (
        "email,full_name,comment\n"
        'a@example.org,Ann,"first line\nsecond, line"\n'
        "b@example.org,Bob,\n"
        "bad,Bad,\n"  # line 5, after the two-line record
    )

    report = run(owner, text)

    assert report.created == 2
    assert Client.objects.get(email="a@example.org").comment == "first line\nsecond, line"
    assert [line for line, _ in report.errors] == [5]


def test_an_encoding_error_is_reported_at_its_own_line():
    owner = UserFactory()
    good = "".join(f"c{n}@example.org,Клиент {n}\n" for n in range(3000))
    content = ("email,full_name\n" + good).encode() + "bad@example.org,Ёлкин\n".encode("cp1251")
    content += b"z@example.org,Zed\n"

    # UTF-8 letters, then a Windows-1251 row: UTF-8 gone wrong, not a Windows-1251 file.
    # 3000 good rows after the header: the cp1251 row is line 3002.
    with pytest.raises(ImportFileError, match=r"line 3002\)"):
        run(owner, content.decode("latin-1"), encoding="latin-1")

    assert not Client.objects.filter(owner=owner).exists()


def test_a_nul_character_in_a_cell_is_a_row_error():
    owner = UserFactory()
    text = "email,full_name,comment\na@example.org,Ann\x00ette,\nb@example.org,Bob,x\x00y\n"

    report = run(owner, text)

    assert report.created == 0
    assert [line for line, _ in report.errors] == [2, 3]
    assert "NUL" in report.errors[0][1]


# Issue 16, item 19: what Russian Excel writes, and the headers people give their columns.


@pytest.mark.parametrize(
    ("header", "row"),
    [
        ("E-mail;ФИО;Примечание", "ann@example.ru;Анна Ёлкина;постоянная"),
        ("Электронная почта;Имя;Комментарий", "ann@example.ru;Анна Ёлкина;постоянная"),
        ("Email Address,Name,Notes", "ann@example.ru,Анна Ёлкина,постоянная"),
        ("EMAIL,Full name,Comment", "ann@example.ru,Анна Ёлкина,постоянная"),
    ],
)
@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1251"])
def test_excel_files_in_either_encoding_with_common_headers_import(header, row, encoding):
    owner = UserFactory()

    report = run(owner, f"{header}\n{row}\n", encoding=encoding)

    assert (report.created, report.invalid, report.ignored_columns) == (1, 0, [])
    ann = Client.objects.get(owner=owner)
    assert (ann.email, ann.full_name, ann.comment) == (
        "ann@example.ru",
        "Анна Ёлкина",
        "постоянная",
    )
    assert report.encoding == ("cp1251" if encoding == "cp1251" else "utf-8")


def test_a_second_column_for_the_same_field_is_ignored_and_named():
    owner = UserFactory()

    report = run(owner, "email,name,ФИО,phone\nann@example.org,Ann,Анна,123\n")

    assert report.ignored_columns == ["ФИО", "phone"]
    assert Client.objects.get(owner=owner).full_name == "Ann"


def test_row_errors_are_listed_in_line_order_across_chunks():
    owner = UserFactory()
    text = "email,full_name\n" + "".join(
        f"new{n}@example.org,\n" if n % 3 == 0 else f"bad{n},Name\n" for n in range(12)
    )

    report = run(owner, text, chunk_size=4)

    lines = [line for line, _ in report.errors]
    assert lines == sorted(lines) and len(lines) == 12


def test_a_dry_run_lists_changes_to_stored_clients_and_keeps_nothing():
    owner = UserFactory()
    ClientFactory(owner=owner, email="ann@example.org", full_name="Ann", comment="vip")
    ClientFactory(owner=owner, email="bob@example.org", full_name="Bob", comment="")
    text = (
        "email,full_name,comment\n"
        "ANN@example.org,Ann Archer,vip\n"  # the name changes, the comment does not
        "bob@example.org,Bob,\n"  # nothing changes
        "new@example.org,New,\n"
    )

    trial = do_import(owner=owner, file=io.BytesIO(text.encode()), dry_run=True)

    assert trial.changed == 1 and trial.created == 1
    assert trial.changes == [("ann@example.org", "full_name", "Ann", "Ann Archer")]
    assert sorted(Client.objects.filter(owner=owner).values_list("full_name", flat=True)) == [
        "Ann",
        "Bob",
    ]

"""Placeholders are validated and filled without a database."""

from mailings.placeholders import fill, placeholder_errors


def test_known_placeholders_and_literal_braces_are_fine():
    assert placeholder_errors("Hello {full_name} <{email}>, {{not a placeholder}}") == []
    assert placeholder_errors("Leave: {unsubscribe_url}") == []


def test_an_unknown_placeholder_is_named():
    (error,) = placeholder_errors("Dear {first_name}")

    assert "{first_name}" in error
    assert "{full_name}" in error  # says what is allowed


def test_malformed_placeholders_are_errors():
    assert placeholder_errors("Price: {") != []
    assert placeholder_errors("closing } alone") != []
    assert placeholder_errors("{}") != []
    assert "{email!r}" in placeholder_errors("{email!r}")[0]
    assert "{full_name:>20}" in placeholder_errors("{full_name:>20}")[0]


def test_attribute_and_index_access_is_refused():
    assert placeholder_errors("{email.__class__}") != []
    assert placeholder_errors("{email[0]}") != []


def test_fill_puts_values_in_and_never_interprets_them():
    text = fill(
        "Hi {full_name}, {{braces}} stay. {unsubscribe_url}",
        {"full_name": "Eve {email}", "email": "e@x.org", "unsubscribe_url": "https://u/"},
    )

    assert text == "Hi Eve {email}, {braces} stay. https://u/"

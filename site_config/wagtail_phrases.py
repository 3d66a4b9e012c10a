"""Wagtail's own phrases whose Russian in Wagtail's catalogue has the wrong plural ("Есть 2
совпадений" for two matches): named here so that ``makemessages`` keeps them in ours, which
Django asks first (``LOCALE_PATHS``) and which has Russian's three forms right. Not imported
by anything; the strings are the same as Wagtail's templates use."""

from django.utils.translation import ngettext_lazy

CORRECTED = [
    ngettext_lazy("There is %(counter)s match", "There are %(counter)s matches", 0),
]

"""The time zones a person may choose (their account, a mailing): the IANA zones this
machine's database holds, without its files that are not zones ("localtime" is this machine's
own clock, and browsers refuse it and "Factory": Wagtail's account page broke on them)."""

from zoneinfo import available_timezones

NOT_ZONES = {"localtime", "posixrules", "Factory"}
SELECTABLE = sorted(available_timezones() - NOT_ZONES)
SELECTABLE_SET = frozenset(SELECTABLE)

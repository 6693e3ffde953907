"""Swedish public holidays ("helgdagar") and the eves around them, computed for the schedules' holiday list.

The public holidays come from the ``holidays`` package (Easter and Midsummer move every year); the eves
most workplaces close on as well (julafton, midsommarafton, nyårsafton) are not public holidays, so they
are offered apart and the admin chooses.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

EVES = {
    "christmas_eve": _("Christmas Eve"),
    "midsummer_eve": _("Midsummer Eve"),
    "new_years_eve": _("New Year's Eve"),
}


@dataclass(frozen=True)
class Holiday:
    date: dt.date
    name: str
    is_eve: bool  # a day around a holiday, not a public holiday itself

    @property
    def key(self) -> str:
        return self.date.isoformat()


def _midsummer_day(year: int) -> dt.date:
    # The Saturday between 20 and 26 June.
    day = dt.date(year, 6, 20)
    return day + dt.timedelta(days=(5 - day.weekday()) % 7)


def swedish_holidays(years: list[int]) -> list[Holiday]:
    import holidays  # ~0.2 s to import: only when an admin opens the page, never at start-up

    language = "sv" if (get_language() or "sv").startswith("sv") else "en_US"
    public = holidays.Sweden(years=years, language=language, include_sundays=False)
    days = [Holiday(date, name, False) for date, name in public.items()]
    for year in years:
        days += [
            Holiday(dt.date(year, 12, 24), str(EVES["christmas_eve"]), True),
            Holiday(_midsummer_day(year) - dt.timedelta(days=1), str(EVES["midsummer_eve"]), True),
            Holiday(dt.date(year, 12, 31), str(EVES["new_years_eve"]), True),
        ]
    return sorted(days, key=lambda h: h.date)

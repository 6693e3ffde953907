"""A password validator for the guesses attackers try first in Sweden: a common word, season, month, day or
city, with a year or a few digits and symbols around it (``Sommar2026``, ``Stockholm1``, ``Lösenord123``).

Django's CommonPasswordValidator knows English lists only; this one folds case, å/ä/ö and the usual
digit-for-letter swaps, takes out every listed word, and refuses the password when what is left is too
little to guess at (fewer than four letters): the digits and symbols around a word add almost nothing.
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

SEASONS = ["sommar", "vinter", "host", "var", "varen", "hosten", "sommaren", "vintern", "midsommar", "jul",
           "julafton", "pask", "nyar", "semester"]
MONTHS = ["januari", "februari", "mars", "april", "maj", "juni", "juli", "augusti", "september", "oktober",
          "november", "december"]
DAYS = ["mandag", "tisdag", "onsdag", "torsdag", "fredag", "lordag", "sondag"]
CITIES = ["stockholm", "goteborg", "malmo", "uppsala", "vasteras", "orebro", "linkoping", "helsingborg",
          "jonkoping", "norrkoping", "lund", "umea", "gavle", "boras", "sodertalje", "eskilstuna", "halmstad",
          "vaxjo", "karlstad", "sundsvall", "lulea", "kiruna", "visby", "ostersund", "trollhattan", "kalmar",
          "falun", "skelleftea", "kristianstad", "solna", "nacka", "sverige", "sweden", "norrland", "skane"]
WORDS = ["losenord", "losen", "password", "passw", "valkommen", "welcome", "hemlig", "hemligt", "hejsan", "hej",
         "admin", "administrator", "vaxel", "vaxeln", "telefon", "foretag", "kontor", "jobbet", "jobb", "kaffe",
         "karlek", "fotboll", "hockey", "mamma", "pappa", "sol", "solsken", "sommarsol", "blomma", "hund", "katt",
         "qwerty", "asdf", "test", "abc", "svenska", "svensk", "tre", "kronor", "ikea", "volvo", "demo"]
GUESSES = sorted(set(SEASONS + MONTHS + DAYS + CITIES + WORDS), key=len, reverse=True)
_GUESS_RE = re.compile("|".join(GUESSES))

FOLD = str.maketrans({"å": "a", "ä": "a", "ö": "o", "é": "e", "ü": "u"})
LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s", "!": "i"})
MIN_LEFT = 4


def _letters(text: str) -> str:
    return "".join(ch for ch in text if ch.isalpha())


def guessable_core(password: str) -> str | None:
    """The listed word(s) a password is built on, or None if enough else is in it."""
    folded = password.lower().translate(FOLD)
    for candidate in (_letters(folded), _letters(folded.translate(LEET))):
        found = _GUESS_RE.findall(candidate)
        if found and len(_GUESS_RE.sub("", candidate)) < MIN_LEFT:
            return "".join(found)
    return None


class SwedishCommonPasswordValidator:
    def validate(self, password: str, user=None) -> None:
        if guessable_core(password):
            raise ValidationError(
                _("This password is a common word, season, month or place with a few digits or signs around it; "
                  "such passwords are guessed first. Use a few unrelated words instead."),
                code="password_swedish_common",
            )

    def get_help_text(self) -> str:
        return _("Your password can’t be a common word, season, month or Swedish place with a year or digits added.")

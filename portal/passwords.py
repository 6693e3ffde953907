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


# ------------------------------------------------------------------------------ the company's policy

DEFAULT_MIN_LENGTH = 10
SPECIAL = re.compile(r"[^0-9A-Za-zÅÄÖåäöÉéÜü]")


def policy_for(user):
    """The person's company's PasswordPolicy, or None (the deployment's defaults)."""
    from .models import PasswordPolicy

    tenant_id = getattr(user, "tenant_id", None)
    if not tenant_id:
        return None
    return PasswordPolicy.objects.filter(tenant_id=tenant_id).first()


def _missing_classes(password: str, policy) -> list[str]:
    missing = []
    if policy.require_lower and not any(ch.islower() for ch in password):
        missing.append(_("a lower-case letter"))
    if policy.require_upper and not any(ch.isupper() for ch in password):
        missing.append(_("an upper-case letter"))
    if policy.require_digit and not any(ch.isdigit() for ch in password):
        missing.append(_("a digit"))
    if policy.require_special and not SPECIAL.search(password):
        # xgettext:no-python-format
        missing.append(_("a special character (such as ! ? # % or a space)"))
    return missing


class CompanyPasswordPolicyValidator:
    """The rules of the person's company (portal.models.PasswordPolicy): length, character classes and none
    of the last N passwords again. Every path that sets a password runs it (change, reset, the admin's form,
    createsuperuser); ``password_changed`` keeps the history of hashes the reuse check reads."""

    def validate(self, password: str, user=None) -> None:
        policy = policy_for(user)
        min_length = policy.min_length if policy else DEFAULT_MIN_LENGTH
        errors = []
        if len(password) < min_length:
            errors.append(ValidationError(
                _("This password is too short. It must contain at least %(min_length)d characters."),
                code="password_too_short", params={"min_length": min_length}))
        if policy is not None:
            missing = _missing_classes(password, policy)
            if missing:
                errors.append(ValidationError(
                    _("The password must also contain %(missing)s.") % {"missing": ", ".join(missing)},
                    code="password_classes"))
            if policy.history_count and user is not None and user.pk and self._used_before(password, user, policy):
                errors.append(ValidationError(
                    _("You have used this password before. It may not be one of your last %(count)d passwords.")
                    % {"count": policy.history_count}, code="password_reused"))
        if errors:
            raise ValidationError(errors)

    @staticmethod
    def _used_before(password: str, user, policy) -> bool:
        from django.contrib.auth.hashers import check_password

        from .models import PasswordHistory

        hashes = list(PasswordHistory.objects.filter(user_id=user.pk)
                      .values_list("password", flat=True)[: policy.history_count])
        if not hashes and user.has_usable_password():  # set before the history was kept
            hashes = [type(user).objects.filter(pk=user.pk).values_list("password", flat=True).first() or ""]
        return any(check_password(password, encoded) for encoded in hashes if encoded)

    def password_changed(self, password: str, user=None) -> None:
        from .models import PasswordHistory

        if user is None or not user.pk or not user.password:
            return
        PasswordHistory.objects.create(user_id=user.pk, password=user.password)
        # Kept: the most any policy may ask about (50), so raising a company's count works at once.
        stale = PasswordHistory.objects.filter(user_id=user.pk).values_list("pk", flat=True)[50:]
        PasswordHistory.objects.filter(pk__in=list(stale)).delete()

    def get_help_text(self) -> str:
        return _("Your password must follow your company's password rules.")


def password_set_at(user):
    """When the person's current password was set (the newest history row; else when they joined)."""
    from .models import PasswordHistory

    latest = PasswordHistory.objects.filter(user_id=user.pk).values_list("created_at", flat=True).first()
    return latest or user.date_joined


def password_expired(user) -> bool:
    import datetime

    from django.utils import timezone

    policy = policy_for(user)
    if policy is None or not policy.max_age_days or not user.has_usable_password():
        return False
    return timezone.now() - password_set_at(user) >= datetime.timedelta(days=policy.max_age_days)


def describe(policy) -> list[str]:
    """The policy in words, for the pages where a password is chosen."""
    min_length = policy.min_length if policy else DEFAULT_MIN_LENGTH
    lines = [_("At least %(count)d characters.") % {"count": min_length}]
    if policy is not None:
        missing = _missing_classes("", policy)
        if missing:
            lines.append(_("Contains %(classes)s.") % {"classes": ", ".join(missing)})
        if policy.history_count:
            lines.append(_("Not one of your last %(count)d passwords.") % {"count": policy.history_count})
        if policy.max_age_days:
            lines.append(_("A new password is needed every %(days)d days.") % {"days": policy.max_age_days})
    return lines

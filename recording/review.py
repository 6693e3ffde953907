"""Quality review of recordings: the company's evaluation lists and questions, answers, share links.

"Samtalsutvärdering" in the guide: the super user defines the choices for call result ("Samtalsresultat")
and customer response ("Feedback från kund / Kundrespons") and the evaluation questions
("Utvärderingsfrågor"); whoever may hear a recording saves its evaluation. A share link
("Skicka länk till inspelning med e-post") opens one recording for 24 hours without an account.
"""

from __future__ import annotations

import datetime

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from pbx.models import TenantOwned
from pbx.validators import validate_plain_text

SHARE_HOURS = 24


class EvaluationChoice(TenantOwned):
    class Kind(models.TextChoices):
        RESULT = "result", _("Call result")
        RESPONSE = "response", _("Customer response")

    kind = models.CharField(_("list"), max_length=8, choices=Kind.choices)
    name = models.CharField(_("description"), max_length=80, validators=[validate_plain_text])
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    class Meta:
        verbose_name = _("evaluation choice")
        verbose_name_plural = _("evaluation choices")
        ordering = ["kind", "position", "name"]
        constraints = [models.UniqueConstraint(fields=["tenant", "kind", "name"], name="evaluationchoice_once")]

    def __str__(self) -> str:
        return self.name


class EvaluationQuestion(TenantOwned):
    """A yes/no question of the company's evaluation form; the score is the share of "yes" answers."""

    text = models.CharField(_("question"), max_length=200, validators=[validate_plain_text])
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    active = models.BooleanField(_("in use"), default=True)

    class Meta:
        verbose_name = _("evaluation question")
        verbose_name_plural = _("evaluation questions")
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.text


class EvaluationAnswer(TenantOwned):
    class Answer(models.TextChoices):
        YES = "yes", _("Yes")
        NO = "no", _("No")
        NOT_APPLICABLE = "na", _("Not applicable")

    recording = models.ForeignKey("recording.Recording", on_delete=models.CASCADE, related_name="answers",
                                  verbose_name=_("recording"))
    question = models.ForeignKey(EvaluationQuestion, on_delete=models.CASCADE, related_name="answers",
                                 verbose_name=_("question"))
    answer = models.CharField(_("answer"), max_length=3, choices=Answer.choices)

    tenant_references = ("recording", "question")
    tenant_parent = "recording"

    class Meta:
        verbose_name = _("evaluation answer")
        verbose_name_plural = _("evaluation answers")
        constraints = [models.UniqueConstraint(fields=["recording", "question"], name="evaluationanswer_once")]

    def __str__(self) -> str:
        return f"{self.question}: {self.get_answer_display()}"


def share_expiry() -> datetime.datetime:
    return timezone.now() + datetime.timedelta(hours=SHARE_HOURS)


class ShareLink(TenantOwned):
    """One recording, for one recipient, for 24 hours. Only the token's SHA-256 is stored."""

    recording = models.ForeignKey("recording.Recording", on_delete=models.CASCADE, related_name="shares",
                                  verbose_name=_("recording"))
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    email = models.EmailField(_("to"))
    subject = models.CharField(_("subject"), max_length=120, validators=[validate_plain_text])
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True,
                                   related_name="+", verbose_name=_("sent by"))
    created_at = models.DateTimeField(_("sent"), auto_now_add=True)
    expires_at = models.DateTimeField(_("valid until"), default=share_expiry)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)

    tenant_references = ("recording", "created_by")
    tenant_parent = "recording"

    class Meta:
        verbose_name = _("shared link")
        verbose_name_plural = _("shared links")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.email} ({self.created_at:%Y-%m-%d %H:%M})"

    @property
    def is_valid(self) -> bool:
        return self.revoked_at is None and self.expires_at > timezone.now()

"""Callbacks to make: a caller asked to be called back (an IVR callback choice, or a queue's callback key)."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from .base import TenantOwned


class CallbackRequest(TenantOwned):
    class Kind(models.TextChoices):
        # A menu's "callback" destination: captured, kept in AstDB, someone calls back by hand.
        REQUEST = "request", _("Callback request")
        # A queue's callback key: the caller keeps their place and the queue dials them back by itself.
        QUEUE = "queue", _("Queue callback")

    class Status(models.TextChoices):
        OPEN = "open", _("To call back")
        DONE = "done", _("Done")

    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices, default=Kind.REQUEST)
    queue = models.ForeignKey("pbx.Queue", on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
                              verbose_name=_("queue"))
    destination = models.ForeignKey("pbx.Destination", on_delete=models.SET_NULL, null=True, blank=True,
                                    related_name="+", verbose_name=_("destination"))
    number = models.CharField(_("call back on"), max_length=21)
    caller_number = models.CharField(_("caller's number"), max_length=40, blank=True)
    caller_name = models.CharField(_("caller's name"), max_length=80, blank=True)
    # The call and the channel the dialplan ran on (its Uniqueid names the AstDB entry pbxcb/t<T>/<Uniqueid>).
    call_id = models.CharField(_("call"), max_length=40, blank=True)
    channel_id = models.CharField(_("channel"), max_length=40)
    requested_at = models.DateTimeField(_("requested"), db_index=True)
    status = models.CharField(_("status"), max_length=6, choices=Status.choices, default=Status.OPEN)
    done_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                related_name="+", verbose_name=_("called back by"))
    done_at = models.DateTimeField(_("called back"), null=True, blank=True)

    tenant_references = ("queue", "destination", "done_by")

    class Meta:
        verbose_name = _("callback request")
        verbose_name_plural = _("callback requests")
        ordering = ["-requested_at", "-id"]
        constraints = [
            # One UserEvent, one row: the same event seen twice (a replay, two bridges) is one callback.
            models.UniqueConstraint(fields=["tenant", "kind", "channel_id"], name="callback_once_per_channel"),
        ]
        indexes = [models.Index(fields=["tenant", "status", "-requested_at"])]

    def __str__(self) -> str:
        return f"{self.number} ({self.get_status_display()})"

    @property
    def astdb_key(self) -> str:
        """Where the dialplan keeps the request: ``DB(pbxcb/t<T>/${UNIQUEID})`` (menu requests only)."""
        return f"t{self.tenant_id}/{self.channel_id}"

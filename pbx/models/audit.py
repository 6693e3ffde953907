"""The audit trail: who changed what, when, from what to what."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .base import TenantQuerySet


class AuditLog(models.Model):
    tenant = models.ForeignKey("pbx.Tenant", on_delete=models.CASCADE, null=True, blank=True, verbose_name=_("company"))
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("person")
    )
    action = models.CharField(_("action"), max_length=60)
    object_type = models.CharField(_("object type"), max_length=60)
    object_id = models.CharField(_("object id"), max_length=40, blank=True)
    object_repr = models.CharField(_("object"), max_length=200, blank=True)
    before = models.JSONField(_("before"), null=True, blank=True)
    after = models.JSONField(_("after"), null=True, blank=True)
    created_at = models.DateTimeField(_("when"), auto_now_add=True, db_index=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit log")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["tenant", "-created_at"])]

    def __str__(self) -> str:
        # The change page's title and breadcrumb: in the reader's time zone (the company's, see pbx.middleware)
        # and words (never the raw code such as ``signed_in``).
        from pbx.audit_text import sentence

        return f"{timezone.localtime(self.created_at):%Y-%m-%d %H:%M} {sentence(self)}"

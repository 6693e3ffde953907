from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = _("Portal")

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from . import emails, mfa, signals, signin_audit

        signals.connect()
        emails.connect()
        signin_audit.connect()
        mfa.connect()
        post_migrate.connect(name_the_site, sender=self, dispatch_uid="portal.name_the_site")


def name_the_site(using="default", **kwargs) -> None:
    """The Sites row mails are signed with: the product's name and domain (settings), not example.com."""
    from django.conf import settings
    from django.contrib.sites.models import Site

    Site.objects.using(using).update_or_create(
        pk=settings.SITE_ID, defaults={"name": settings.SITE_NAME, "domain": settings.SITE_DOMAIN})
    Site.objects.clear_cache()

from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps
from django.utils.translation import gettext_lazy as _


class PbxConfig(AppConfig):
    name = "pbx"
    verbose_name = _("Switchboard")

    def ready(self) -> None:
        from pbx.asterisk import receivers

        receivers.connect()


class PbxAdminConfig(admin_apps.AdminConfig):
    """Django's admin with the site organised by the company admin's tasks (pbx/adminsite.py)."""

    default = False  # "pbx" alone still means PbxConfig
    default_site = "pbx.adminsite.CompanyAdminSite"

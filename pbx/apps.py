from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PbxConfig(AppConfig):
    name = "pbx"
    verbose_name = _("Switchboard")

    def ready(self) -> None:
        from pbx.asterisk import receivers

        receivers.connect()

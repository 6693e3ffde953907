from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RecordingConfig(AppConfig):
    name = "recording"
    verbose_name = _("Call recording")

    def ready(self) -> None:
        from .signals import connect

        connect()

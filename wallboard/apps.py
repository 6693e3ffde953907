from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WallboardConfig(AppConfig):
    name = "wallboard"
    verbose_name = _("Wallboard")

    def ready(self) -> None:
        from . import signals  # noqa: F401 - connects the layout and link receivers

"""Why a call control action did not happen, in words the person can act on.

``ActionRefused`` is a ``PermissionDenied`` so that views, the API and the console treat every refusal
the same way (403 / a refusal message); its text is translated and meant to be shown as it is.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext_lazy as _


class ActionRefused(PermissionDenied):
    """The action was refused before anything reached Asterisk; ``str()`` says why, in plain words."""

    default_message = _("You may not do that.")

    def __init__(self, message=None):
        self.message = message if message is not None else self.default_message
        super().__init__(self.message)

    def __str__(self) -> str:
        return str(self.message)


class CallGone(ActionRefused):
    """The call is not (or no longer) there: it has ended, or it is none of the actor's company's calls.

    The two are deliberately told apart by nothing: a call id of another company reads like an ended call,
    so a guessed id reveals nothing.
    """

    default_message = _("That call has just ended.")


__all__ = ["ActionRefused", "CallGone"]

"""The events a company can subscribe to: their names on the wire and for people."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

EVENT_TYPES: dict[str, str] = {
    "call.started": _("Call started"),
    "call.answered": _("Call answered"),
    "call.transferred": _("Call transferred"),
    "call.ended": _("Call ended (with its call-log row)"),
    "queue.caller_joined": _("Caller joined a queue"),
    "queue.caller_abandoned": _("Caller hung up in a queue"),
    "agent.logged_in": _("Agent logged in to a queue"),
    "agent.logged_out": _("Agent logged out of a queue"),
    "agent.paused": _("Agent paused or resumed"),
    "presence.changed": _("Presence status changed"),
    "voicemail.left": _("Voicemail left"),
    "callback.requested": _("Callback requested"),
    "recording.ready": _("Recording ready"),
}

# Sent by "Send test event" in the admin; not subscribable.
TEST_EVENT = "webhook.test"


def choices() -> list[tuple[str, str]]:
    return list(EVENT_TYPES.items())

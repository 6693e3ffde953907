"""The operator console ("telefonist"): one page, filled and kept current over the websocket ``ws/console/``.

The page itself is a plain server-rendered frame (headings, empty lists, dialogs, the help overlay) plus
``portal/console.js``; everything live comes from the consumer (portal/consumers.py): a snapshot on every
(re)connect, then events. Operators and company admins of a company only; anyone else gets 403.

Keyboard shortcuts: ``DEFAULT_SHORTCUTS`` is the server's default map; each person may change keys in the
help overlay (``?``), kept in the browser's localStorage per person.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from portal.snapshot import can_use_console
from portal.views.queues import PAUSE_REASONS

# action → (default key, what it does). Keys are KeyboardEvent.key values, with "Ctrl+"/"Alt+" prefixes.
DEFAULT_SHORTCUTS: dict[str, tuple[str, str]] = {
    "help": ("?", gettext_lazy("Show or hide this help")),
    "search": ("/", gettext_lazy("Search colleagues")),
    "answer": ("a", gettext_lazy("Answer the chosen waiting call (else the longest waiting)")),
    "nextWaiting": ("j", gettext_lazy("Choose the next waiting call")),
    "prevWaiting": ("k", gettext_lazy("Choose the previous waiting call")),
    "nextCall": ("]", gettext_lazy("Choose my next call")),
    "prevCall": ("[", gettext_lazy("Choose my previous call")),
    "hold": ("h", gettext_lazy("Hold or resume my chosen call")),
    "transfer": ("b", gettext_lazy("Transfer my chosen call (blind)")),
    "announce": ("t", gettext_lazy("Transfer with announcement (attended)")),
    "complete": ("c", gettext_lazy("Complete the attended transfer")),
    "cancelTransfer": ("x", gettext_lazy("Cancel the transfer and take the call back")),
    "external": ("o", gettext_lazy("Transfer to an external number")),
    "hangup": ("e", gettext_lazy("End my chosen call")),
    "record": ("r", gettext_lazy("Start or stop recording my chosen call")),
    "recordPause": ("u", gettext_lazy("Pause or resume recording my chosen call")),
    "listenIn": ("i", gettext_lazy("Listen in on the chosen colleague's call")),
    "dial": ("d", gettext_lazy("Call a number")),
    "queueLogin": ("l", gettext_lazy("Log in to or out of all my queues")),
    "queuePause": ("p", gettext_lazy("Pause or resume in all my queues")),
}


def ui_strings() -> dict[str, str]:
    """Every word console.js shows, translated here (one catalogue: locale/*/django.po)."""
    return {
        "connecting": _("Connecting…"),
        "live": _("Live"),
        "reconnecting": _("Connection lost. Reconnecting…"),
        "reconnected": _("Connected again; the picture is fresh."),
        "loggedOut": _("Your session has ended. Reload the page to log in again."),
        "forbidden": _("The console is for operators and company admins."),
        "newCall": _("New call waiting in %(queue)s from %(caller)s."),
        "listenRefused": _("All %(limit)s of your company's recording and listen-in licences are in use: the "
                           "listen-in did not start."),
        "callGone": _("The call from %(caller)s is no longer waiting."),
        "unknownCaller": _("Unknown caller"),
        "answer": _("Answer"),
        "hold": _("Hold"),
        "resume": _("Resume"),
        "transfer": _("Transfer"),
        "announce": _("Announce"),
        "complete": _("Complete"),
        "cancelTransfer": _("Cancel transfer"),
        "external": _("External number"),
        "hangup": _("Hang up"),
        "recordStart": _("Record"),
        "recordStop": _("Stop recording"),
        "recording": _("Recording"),
        "recordPause": _("Pause recording"),
        "recordResume": _("Resume recording"),
        "recordingPaused": _("Recording paused"),
        "listenIn": _("Listen in"),
        "listenInOn": _("Listen in on %(name)s's call"),
        "listenWith": _("%(name)s with %(other)s"),
        "pickColleagueInCall": _("Choose a colleague who is in a call first."),
        "login": _("Log in"),
        "logout": _("Log out"),
        "pause": _("Pause"),
        "unpause": _("Resume"),
        "loggedIn": _("Logged in"),
        "loggedOutQ": _("Logged out"),
        "paused": _("Paused"),
        "pausedReason": _("Paused: %(reason)s"),
        "state_ringing": _("Ringing"),
        "state_up": _("Talking"),
        "state_held": _("On hold"),
        "state_transferring": _("Transferring"),
        "state_queued": _("In queue"),
        "state_routing": _("Connecting"),
        "line_free": _("Free"),
        "line_ringing": _("Ringing"),
        "line_in_call": _("In a call"),
        "line_unavailable": _("Not reachable"),
        "line_unknown": _("Unknown"),
        "available": _("Available"),
        "until": _("until %(time)s"),
        "transferTo": _("Transfer my chosen call to %(name)s"),
        "announceTo": _("Announce my chosen call to %(name)s"),
        "dropHint": _("Drop a call here to transfer it to %(name)s"),
        "pickCallFirst": _("Choose one of your calls first."),
        "pickWaitingFirst": _("No call is waiting."),
        "position": _("No. %(n)s in line"),
        "queuesOf": _("Queues"),
        "pressKey": _("Press the new key…"),
        "keyTaken": _("%(key)s is already used for: %(action)s"),
        "consulting": _("Speaking with %(target)s"),
        "internal": _("Internal"),
        "done": _("Done."),
        "calledBack": _("Called back"),
        "callbackFrom": _("Called from %(number)s"),
        "callbackAsked": _("%(number)s asks to be called back (%(queue)s)."),
        "callbackQueued": _("%(number)s will be called back by the queue %(queue)s."),
        "callbackDoneBy": _("%(name)s called %(number)s back."),
    }


@login_required
@require_GET
def console(request):
    if not can_use_console(request.user):
        raise PermissionDenied(_("The console is for operators and company admins."))
    shortcuts = {action: {"key": key, "label": str(label)} for action, (key, label) in DEFAULT_SHORTCUTS.items()}
    return render(request, "portal/console.html", {
        "config": {
            "ws": "/ws/console/",
            "user_id": request.user.pk,
            "shortcuts": shortcuts,
            "strings": ui_strings(),
            "pause_reasons": [str(reason) for reason in PAUSE_REASONS],
        },
        "shortcuts": [(action, spec["key"], spec["label"]) for action, spec in shortcuts.items()],
        "pause_reasons": PAUSE_REASONS,
    })

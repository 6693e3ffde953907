"""The audit log in words: every action code (``pbx.actions.base.record``) as a sentence in the reader's language.

The log stores codes (``schedule_override``, ``pbx.forwardingrule``) so that it reads the same whatever language
the actor used; this module turns an entry into "Alice Admin forced the schedule “Kontorstid” closed." when it
is shown. ``ACTIONS`` is the complete list of codes: tests/test_admin_web.py fails when an action records a
code that has no sentence here.
"""

from __future__ import annotations

from django.apps import apps
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

# code → (short label for the filter, sentence). The sentence has %(actor)s, %(type)s and %(object)s.
ACTIONS = {
    "created": (_("Created"), _("%(actor)s created the %(type)s “%(object)s”.")),
    "changed": (_("Changed"), _("%(actor)s changed the %(type)s “%(object)s”.")),
    "deleted": (_("Deleted"), _("%(actor)s deleted the %(type)s “%(object)s”.")),
    "schedule_override": (_("Opening hours overridden"), None),  # worded by its new state, below
    "presence_set": (_("Status set"), _("%(actor)s set the status of %(object)s.")),
    "presence_cleared": (_("Status cleared"), _("%(actor)s cleared the status of %(object)s.")),
    "profile_activated": (_("Forwarding profile switched"),
                          _("%(actor)s switched the active forwarding profile of %(object)s.")),
    "verified": (_("Mobile number verified"), _("%(actor)s verified the mobile number %(object)s.")),
    "unverified": (_("Mobile number unverified"), _("%(actor)s withdrew the verification of the mobile number %(object)s.")),
    "callback_requested": (_("Callback requested"), _("%(actor)s asked for a callback: %(object)s.")),
    "callback_unserved": (_("Callback not served"), _("%(actor)s recorded a callback that could not be served: %(object)s.")),
    "callback_done": (_("Callback done"), _("%(actor)s marked the callback %(object)s done.")),
    "queue_login": (_("Logged in to a queue"), _("%(actor)s logged in %(object)s.")),
    "queue_logout": (_("Logged out of a queue"), _("%(actor)s logged out %(object)s.")),
    "queue_pause": (_("Paused in a queue"), _("%(actor)s paused %(object)s.")),
    "queue_unpause": (_("Resumed in a queue"), _("%(actor)s resumed %(object)s.")),
    "caller_id_set": (_("Caller ID chosen"), _("%(actor)s chose the caller ID of %(object)s.")),
    "voicemail_deleted": (_("Voicemail deleted"), _("%(actor)s deleted a voicemail message in %(object)s.")),
    "voicemail_heard": (_("Voicemail heard"), _("%(actor)s marked a voicemail message in %(object)s as heard.")),
    "secret_regenerated": (_("SIP password renewed"), _("%(actor)s generated a new SIP password for %(object)s.")),
    "provisioning_renewed": (_("Provisioning link renewed"),
                             _("%(actor)s renewed the provisioning link of %(object)s; the old link no longer works.")),
    "setup_email_sent": (_("Setup e-mail sent"), _("%(actor)s sent the phone set-up e-mail for %(object)s.")),
    "email_added": (_("E-mail address added"), _("%(actor)s added an e-mail address to %(object)s.")),
    "email_removed": (_("E-mail address removed"), _("%(actor)s removed an e-mail address from %(object)s.")),
    "email_verified": (_("E-mail address confirmed"), _("%(actor)s confirmed an e-mail address of %(object)s.")),
    "login_email_changed": (_("Login address changed"), _("%(actor)s changed the login e-mail address of %(object)s.")),
    "account_locked": (_("Account locked"), _("%(actor)s locked the account %(object)s after repeated wrong passwords.")),
    "licence_accepted": (_("Licence accepted"), _("%(actor)s accepted the licence agreement: %(object)s.")),
    "signed_in": (_("Signed in"), _("%(actor)s signed in.")),
    "sign_in_failed": (_("Sign-in failed"), _("A sign-in as %(object)s failed.")),
    "two_factor_added": (_("Two-factor method added"), _("%(actor)s added a two-factor method.")),
    "two_factor_removed": (_("Two-factor method removed"), _("%(actor)s removed a two-factor method.")),
    "recovery_codes_renewed": (_("Recovery codes renewed"), _("%(actor)s generated new recovery codes.")),
    "password_changed": (_("Password changed"), _("%(actor)s changed their password.")),
    "password_set": (_("Password set"), _("%(actor)s set a password.")),
    "password_reset": (_("Password reset"), _("%(actor)s reset their password with an e-mailed link.")),
    "sessions_ended": (_("Other sessions ended"), _("%(actor)s logged out their other sessions.")),
    "language_set": (_("Language chosen"), _("%(actor)s chose the language of %(object)s.")),
    "sso_signed_in": (_("Signed in with SSO"), _("%(actor)s signed in with the company's single sign-on.")),
    "sso_refused": (_("SSO sign-in refused"), _("%(actor)s: a single sign-on attempt for %(object)s was refused.")),
    "call_click_to_call": (_("Call placed from the web"), _("%(actor)s placed a call to %(object)s from the web.")),
    "call_answer_waiting": (_("Waiting call answered"), _("%(actor)s answered a waiting %(object)s.")),
    "call_transfer": (_("Call transferred"), _("%(actor)s transferred a %(object)s.")),
    "call_transfer_announced": (_("Call transferred with announcement"),
                                _("%(actor)s started an announced transfer of a %(object)s.")),
    "call_transfer_completed": (_("Transfer completed"), _("%(actor)s completed the transfer of a %(object)s.")),
    "call_transfer_cancelled": (_("Transfer cancelled"), _("%(actor)s cancelled the transfer of a %(object)s.")),
    "call_hangup": (_("Call hung up"), _("%(actor)s hung up a %(object)s.")),
    "call_hold": (_("Call held"), _("%(actor)s put a %(object)s on hold.")),
    "call_resume": (_("Call resumed"), _("%(actor)s took a %(object)s off hold.")),
    "call_record_start": (_("Recording started"), _("%(actor)s started recording a %(object)s.")),
    "call_record_pause": (_("Recording paused"), _("%(actor)s paused the recording of a %(object)s.")),
    "call_record_resume": (_("Recording resumed"), _("%(actor)s resumed the recording of a %(object)s.")),
    "call_record_stop": (_("Recording stopped"), _("%(actor)s stopped recording a %(object)s.")),
    "call_listen_listen": (_("Listened in"), _("%(actor)s listened in on a %(object)s.")),
    "call_listen_whisper": (_("Whispered"), _("%(actor)s whispered to the agent of a %(object)s.")),
    "call_listen_barge": (_("Joined a call"), _("%(actor)s joined a %(object)s.")),
    "call_listen_end": (_("Listen-in ended"), _("%(actor)s ended a listen-in on a %(object)s.")),
}
OVERRIDE_SENTENCES = {
    "open": _("%(actor)s forced the schedule “%(object)s” open."),
    "closed": _("%(actor)s forced the schedule “%(object)s” closed."),
    "": _("%(actor)s set the schedule “%(object)s” to follow its opening hours again."),
}
OVERRIDE_UNTIL = _("%(sentence)s Until %(until)s.")
UNKNOWN_ACTION = _("%(actor)s: “%(action)s” on %(object)s.")
NOBODY = pgettext_lazy("audit actor", "The system")
CALL = pgettext_lazy("audit object type", "call")


def action_label(code: str) -> str:
    known = ACTIONS.get(code)
    return str(known[0]) if known else code


def type_label(object_type: str) -> str:
    """``pbx.forwardingrule`` → "forwarding rule" (the model's own translated name)."""
    if object_type == "call":
        return str(CALL)
    try:
        return str(apps.get_model(object_type)._meta.verbose_name)
    except (LookupError, ValueError):
        return object_type


def local_time(value: str) -> str:
    """An ISO time from an audit snapshot, in the reader's time zone (pbx.middleware) and language's format."""
    moment = parse_datetime(value)
    if moment is None:
        return value
    return date_format(timezone.localtime(moment), "SHORT_DATETIME_FORMAT")


# The person's own actions, done to them by the operator in the admin (after["by"] == "admin").
BY_ADMIN = {
    "two_factor_removed": _("%(actor)s removed a two-factor method of %(object)s."),
    "sessions_ended": _("%(actor)s ended a signed-in session of %(object)s."),
}


def sentence(entry) -> str:
    """One audit entry as a sentence in the active language."""
    actor = entry.actor.display_name if entry.actor_id and entry.actor else str(NOBODY)
    values = {"actor": actor, "type": type_label(entry.object_type), "object": entry.object_repr,
              "action": entry.action}
    if entry.action == "schedule_override":
        after = entry.after or {}
        text = str(OVERRIDE_SENTENCES.get(after.get("override") or "", UNKNOWN_ACTION)) % values
        until = after.get("override_until")
        if until and after.get("override"):
            text = str(OVERRIDE_UNTIL) % {"sentence": text, "until": local_time(until)}
        return text
    if (entry.after or {}).get("by") == "admin" and entry.action in BY_ADMIN:
        return str(BY_ADMIN[entry.action]) % values
    known = ACTIONS.get(entry.action)
    template = known[1] if known and known[1] else UNKNOWN_ACTION
    return str(template) % values

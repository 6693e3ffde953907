"""The operator console's websocket, ``ws/console/``.

Protocol (JSON text frames):

- server → client
  - ``{"type": "snapshot", ...}`` right after connecting, after ``{"action": "snapshot"}`` and whenever the
    bridge resynchronised a node (see portal/snapshot.py). The console *replaces* its picture with it.
  - every event the company's group ``tenant-<id>`` and the person's group ``user-<id>`` receive, as
    published (``{"type": "call.answered", ...}``, ``"queue.caller_joined"``, ``"presence.changed"``...).
  - ``{"type": "result", "id": <the command's id>, "action": ..., "ok": bool, "message": "..."}`` once per
    command; a refusal's message says why (another company's call, a call that just ended...).
  - ``{"type": "pong", "id": ...}`` for ``{"action": "ping"}`` (the console's heartbeat).
- client → server: ``{"action": <name>, "id": <anything, echoed>, ...arguments}``; see ``COMMANDS``.

Who may connect: an operator or a company admin of a company, through the session (AuthMiddlewareStack).
Anyone else is accepted and at once closed with 4401 (not signed in) or 4403 (not for the console), before
any group is joined or anything is sent, so the page can tell "log in again" from a network drop. An open
console stops the same way when its session no longer holds (see ``session_refusal``): checked before every
command, on the heartbeat, and at once when the person's password, state or roles change (portal/signals.py
sends ``session.recheck`` to their group after commit).

The groups are always the signed-in person's company and their own group; no message from the client names
a group (there is no "subscribe": an unknown action is refused and changes nothing).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import importlib.util
import json
import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from pbx.events import tenant_group, user_group

from .mfa import lacks_required_two_factor
from .snapshot import can_use_console, console_snapshot

log = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
MAX_FRAME = 4096  # bytes of one command; commands are small
MAX_IN_FLIGHT = 4  # commands of one console running at once
ID_MAX = 64  # call ids, request ids
SESSION_CHECK_EVERY = 60.0  # seconds between checks (on the heartbeat) that the session still holds
SNAPSHOT_EVERY = 1.0  # a snapshot asked for by the page, at most this often (the database does the work)

NOT_UNDERSTOOD = gettext_noop("That message was not understood.")
UNKNOWN_ACTION = gettext_noop("Unknown action.")
BUSY = gettext_noop("Wait for the actions already on their way.")


class Refused(Exception):
    """A command refused before any action ran (bad arguments, unknown action)."""


# --------------------------------------------------------------------------------------------
# Commands: name → function(actor, data) run in a worker thread; returns the success message.


def _calls():
    """pbx.actions.calls (call control); written apart from the console."""
    if importlib.util.find_spec("pbx.actions.calls") is None:
        raise Refused(_("Call control is not available on this server."))
    return importlib.import_module("pbx.actions.calls")


def _text(data: dict, key: str, *, limit: int = ID_MAX, required: bool = True) -> str:
    value = data.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str | int) or isinstance(value, bool) or not str(value).strip():
        raise Refused(_("Something is missing: %(what)s.") % {"what": key})
    value = str(value).strip()
    if len(value) > limit:
        raise Refused(_("That is too long: %(what)s.") % {"what": key})
    return value


def _number(data: dict, key: str = "target") -> str:
    """An extension or a phone number: digits, an optional leading + (spaces and dashes dropped)."""
    raw = _text(data, key, limit=32)
    value = raw.replace(" ", "").replace("-", "")
    if not value.lstrip("+").isdigit() or value.count("+") > 1 or ("+" in value and not value.startswith("+")):
        raise Refused(_("%(value)s is not an extension or a phone number.") % {"value": raw})
    return value


def _int(data: dict, key: str) -> int:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdigit():
        raise Refused(_("Something is missing: %(what)s.") % {"what": key})
    return int(value)


def _choice(data: dict, key: str, allowed: tuple[str, ...]) -> str:
    value = data.get(key)
    if value not in allowed:
        raise Refused(_("Choose one of: %(choices)s.") % {"choices": ", ".join(allowed)})
    return value


def _agent(actor, data: dict):
    from pbx.models import QueueAgent

    # Only the actor's own company's memberships exist here; the action checks agent-or-admin.
    try:
        return QueueAgent.objects.select_related("queue").get(pk=_int(data, "agent_id"), tenant_id=actor.tenant_id)
    except QueueAgent.DoesNotExist:
        raise Refused(_("There is no such queue membership.")) from None


def cmd_answer(actor, data):
    _calls().do_answer_waiting_call(actor, _text(data, "call_id"))
    return _("Answering: the call is coming to your phone.")


def cmd_hangup(actor, data):
    _calls().do_hangup_call(actor, _text(data, "call_id"))
    return _("Call ended.")


def cmd_hold(actor, data):
    hold = data.get("hold", True)
    if not isinstance(hold, bool):
        raise Refused(_("Something is missing: %(what)s.") % {"what": "hold"})
    _calls().do_hold_call(actor, _text(data, "call_id"), hold=hold)
    return _("Call on hold.") if hold else _("Call resumed.")


def cmd_transfer(actor, data):
    announced = bool(data.get("announced", False))
    target = _number(data)
    _calls().do_transfer_call(actor, _text(data, "call_id"), target, announced=announced)
    if announced:
        return _("Calling %(target)s: complete or cancel the transfer when you have spoken.") % {"target": target}
    return _("Call transferred to %(target)s.") % {"target": target}


def cmd_complete_transfer(actor, data):
    _calls().do_complete_transfer(actor, _text(data, "call_id"))
    return _("Transfer completed.")


def cmd_cancel_transfer(actor, data):
    _calls().do_cancel_transfer(actor, _text(data, "call_id"))
    return _("Transfer cancelled: the call is back with you.")


RECORD_MESSAGES = {"start": gettext_noop("Recording started."), "pause": gettext_noop("Recording paused."),
                   "resume": gettext_noop("Recording resumed."), "stop": gettext_noop("Recording stopped.")}


def cmd_record(actor, data):
    op = _choice(data, "op", tuple(RECORD_MESSAGES))
    _calls().do_record_call(actor, _text(data, "call_id"), op)
    return _(RECORD_MESSAGES[op])


def cmd_listen(actor, data):
    mode = _choice(data, "mode", ("listen", "whisper", "barge"))
    _calls().do_listen_in(actor, _text(data, "call_id"), mode)
    return _("Listening in.")


def cmd_call(actor, data):
    number = _number(data, "number")
    _calls().do_click_to_call(actor, number)
    return _("Calling %(number)s: your phone rings first.") % {"number": number}


def cmd_queue_login(actor, data):
    from pbx.actions import do_queue_login

    agent = do_queue_login(actor, _agent(actor, data))
    return _("You are logged in to %(queue)s.") % {"queue": agent.queue.name}


def cmd_queue_logout(actor, data):
    from pbx.actions import do_queue_logout

    agent = do_queue_logout(actor, _agent(actor, data))
    return _("You are logged out of %(queue)s.") % {"queue": agent.queue.name}


def cmd_queue_pause(actor, data):
    from pbx.actions import do_queue_pause

    agent = _agent(actor, data)
    if not agent.logged_in:
        raise Refused(_("Log in to %(queue)s before pausing.") % {"queue": agent.queue.name})
    reason = _text(data, "reason", limit=80, required=False)
    do_queue_pause(actor, agent, paused=True, reason=reason)
    return _("You are paused in %(queue)s.") % {"queue": agent.queue.name}


def cmd_queue_resume(actor, data):
    from pbx.actions import do_queue_pause

    agent = do_queue_pause(actor, _agent(actor, data), paused=False)
    return _("You are back in %(queue)s.") % {"queue": agent.queue.name}


def cmd_presence(actor, data):
    """Set or clear a status: one's own, or (company admins) a colleague's."""
    from pbx.actions import do_set_presence
    from pbx.models import PresenceStatus, User

    user = actor
    if data.get("user_id") not in (None, actor.pk):
        try:
            user = User.objects.get(pk=_int(data, "user_id"), tenant_id=actor.tenant_id)
        except User.DoesNotExist:
            raise Refused(_("There is no such colleague.")) from None
    if data.get("status_id") in (None, ""):
        do_set_presence(actor, user, None)
        return _("Status cleared: available.")
    try:
        status = PresenceStatus.objects.get(pk=_int(data, "status_id"), tenant_id=actor.tenant_id)
    except PresenceStatus.DoesNotExist:
        raise Refused(_("Choose one of your company's statuses.")) from None
    until = None
    if data.get("until"):
        try:
            until = datetime.fromisoformat(_text(data, "until"))
        except ValueError:
            raise Refused(_("That end time is not a time.")) from None
        if timezone.is_naive(until):
            raise Refused(_("That end time is not a time."))
    message = _text(data, "message", limit=120, required=False)
    do_set_presence(actor, user, status, message=message, until=until)
    return _("Status set: %(status)s.") % {"status": status.name}


def cmd_callback_done(actor, data):
    """The person has called the customer back: the callback leaves every console's list."""
    from pbx.actions.callbacks import do_mark_callback_done
    from pbx.models import CallbackRequest

    try:
        callback = CallbackRequest.objects.get(pk=_int(data, "callback_id"), tenant_id=actor.tenant_id)
    except CallbackRequest.DoesNotExist:
        raise Refused(_("That callback is no longer there.")) from None
    callback = do_mark_callback_done(actor, callback)
    return _("%(number)s is marked as called back.") % {"number": callback.number}


COMMANDS: dict[str, Callable[[Any, dict], str]] = {
    "answer": cmd_answer,
    "hangup": cmd_hangup,
    "hold": cmd_hold,
    "transfer": cmd_transfer,
    "complete_transfer": cmd_complete_transfer,
    "cancel_transfer": cmd_cancel_transfer,
    "record": cmd_record,
    "listen": cmd_listen,
    "call": cmd_call,
    "queue_login": cmd_queue_login,
    "queue_logout": cmd_queue_logout,
    "queue_pause": cmd_queue_pause,
    "queue_resume": cmd_queue_resume,
    "presence": cmd_presence,
    "callback_done": cmd_callback_done,
}


def refusal_message(error: Exception) -> str:
    """What the operator reads when an action did not happen."""
    from pbx.asterisk.errors import AsteriskError

    if isinstance(error, Refused):
        return str(error)
    if isinstance(error, PermissionDenied):
        return str(error) or _("You may not do that.")
    if isinstance(error, ValidationError):
        return " ".join(str(m) for m in error.messages)
    if isinstance(error, ObjectDoesNotExist):
        return _("That is no longer there.")
    if isinstance(error, AsteriskError):
        return _("The switchboard did not carry that out (%(reason)s). Try again.") % {"reason": error.message}
    return _("Something went wrong; nothing was done. Try again.")


def run_command(user_id: int, language: str, action: str, data: dict) -> tuple[bool, str]:
    """Run one command as the person, in their language (sync: called through database_sync_to_async)."""
    from pbx.models import User

    with translation.override(language):
        actor = User.objects.select_related("tenant").filter(pk=user_id).first()
        if not can_use_console(actor):  # the role may have been taken away since the page was opened
            return False, _("You no longer have access to the console.")
        handler = COMMANDS.get(action)
        if handler is None:
            return False, _(UNKNOWN_ACTION)
        try:
            return True, handler(actor, data)
        except (Refused, PermissionDenied, ValidationError, ObjectDoesNotExist) as error:
            return False, refusal_message(error)
        except Exception as error:
            from pbx.asterisk.errors import AsteriskError

            if not isinstance(error, AsteriskError):
                log.exception("console command %s failed", action)
            return False, refusal_message(error)


def session_refusal(session_key: str | None, user_id: int) -> int | None:
    """Why this socket's session no longer carries the console (a close code), or None if it does.

    The same verification as Django's for a page (django.contrib.auth.get_user): the session still exists,
    names this person, and holds the auth hash of their current password, so changing the password ends
    every other session's console; then the person is still active and still an operator or admin, with the
two-factor their company requires of that role (portal/mfa.py).
    """
    from importlib import import_module

    from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY
    from django.utils.crypto import constant_time_compare

    from pbx.models import User

    if not session_key:
        return CLOSE_UNAUTHENTICATED
    data = import_module(settings.SESSION_ENGINE).SessionStore(session_key).load()
    if str(data.get(SESSION_KEY)) != str(user_id):
        return CLOSE_UNAUTHENTICATED
    user = User.objects.filter(pk=user_id).first()
    if user is None or not user.is_active:
        return CLOSE_UNAUTHENTICATED
    stored = data.get(HASH_SESSION_KEY) or ""
    hashes = [user.get_session_auth_hash(), *user.get_session_auth_fallback_hash()]
    if not any(constant_time_compare(stored, current) for current in hashes):
        return CLOSE_UNAUTHENTICATED
    if not can_use_console(user) or lacks_required_two_factor(user):
        return CLOSE_FORBIDDEN
    return None


def _language(scope) -> str:
    """The page's language: what the page says it is (``?lang=``, the language it was rendered in), else as
    LocaleMiddleware would choose (language cookie, Accept-Language), else the person's, else the default."""
    from urllib.parse import parse_qs

    from django.utils.translation.trans_real import parse_accept_lang_header

    query = parse_qs((scope.get("query_string") or b"").decode("latin-1"))
    candidates = [*query.get("lang", [])[:1], scope.get("cookies", {}).get(settings.LANGUAGE_COOKIE_NAME)]
    headers = dict(scope.get("headers") or [])
    accept = headers.get(b"accept-language", b"").decode("latin-1")[:200]
    candidates += [code for code, _q in parse_accept_lang_header(accept) if code != "*"]
    candidates.append(getattr(scope.get("user"), "language", "") or None)
    for code in candidates:
        if code:
            with contextlib.suppress(LookupError):
                return translation.get_supported_language_variant(code)
    return settings.LANGUAGE_CODE


class ConsoleConsumer(AsyncJsonWebsocketConsumer):
    user = None
    joined: tuple[str, ...] = ()
    session_checked = 0.0
    snapshot_sent = 0.0

    async def connect(self):
        user = self.scope.get("user")
        await self.accept()
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        # A role the company requires two-factor of, without it: only the account pages, never the console.
        if not can_use_console(user) or await database_sync_to_async(lacks_required_two_factor)(user):
            await self.close(code=CLOSE_FORBIDDEN)
            return
        self.user = user
        self.session_checked = time.monotonic()
        self.language = _language(self.scope)
        self.tasks: set[asyncio.Task] = set()
        # Only these two groups, named from the signed-in person: never from anything the client sent.
        self.joined = (tenant_group(user.tenant_id), user_group(user.pk))
        for group in self.joined:
            await self.channel_layer.group_add(group, self.channel_name)
        # Joined first, snapshot second: an event published meanwhile waits in this consumer's queue and
        # is applied after the snapshot (events carry whole pictures, so applying one twice is harmless).
        await self.send_snapshot()

    async def disconnect(self, code):
        for group in self.joined:
            await self.channel_layer.group_discard(group, self.channel_name)
        self.joined = ()
        for task in getattr(self, "tasks", ()):
            task.cancel()

    async def send_snapshot(self):
        self.snapshot_sent = time.monotonic()
        await self.send_json(await console_snapshot(self.user))

    # ----------------------------------------------------------------------- from the browser

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        if self.user is None:
            return
        if text_data is None or len(text_data) > MAX_FRAME:
            await self.send_json({"type": "result", "ok": False, "message": self._t(NOT_UNDERSTOOD)})
            return
        try:
            data = json.loads(text_data)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            await self.send_json({"type": "result", "ok": False, "message": self._t(NOT_UNDERSTOOD)})
            return
        await self.receive_json(data)

    async def receive_json(self, content, **kwargs):
        request_id = content.get("id")
        if not (request_id is None or isinstance(request_id, int | str)) or len(str(request_id)) > ID_MAX:
            request_id = None
        action = content.get("action")
        if action == "ping":
            if time.monotonic() - self.session_checked > SESSION_CHECK_EVERY and not await self._still_signed_in():
                return
            await self.send_json({"type": "pong", "id": request_id})
            return
        if action == "snapshot":
            if time.monotonic() - self.snapshot_sent < SNAPSHOT_EVERY:  # a page asking in a loop
                await self._result(request_id, action, False, self._t(BUSY))
                return
            await self.send_snapshot()
            return
        if not isinstance(action, str) or action not in COMMANDS:
            # Among others {"subscribe": "tenant-<other>"}: refused, nothing joined.
            await self._result(request_id, action if isinstance(action, str) else None, False,
                               self._t(UNKNOWN_ACTION))
            return
        if len(self.tasks) >= MAX_IN_FLIGHT:
            await self._result(request_id, action, False, self._t(BUSY))
            return
        # Commands run beside the event stream: a slow Asterisk never holds back the pushes.
        task = asyncio.get_running_loop().create_task(self._command(request_id, action, content))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _command(self, request_id, action: str, content: dict):
        if not await self._still_signed_in():
            return
        ok, message = await database_sync_to_async(run_command)(self.user.pk, self.language, action, content)
        await self._result(request_id, action, ok, message)

    async def _still_signed_in(self) -> bool:
        """Logged out elsewhere, session expired, password changed, disabled or no longer an operator or
        admin: the console stops here, with 4401 (sign in again) or 4403 (not for the console)."""
        session = self.scope.get("session")
        key = getattr(session, "session_key", None)
        code = await database_sync_to_async(session_refusal)(key, self.user.pk)
        self.session_checked = time.monotonic()
        if code is not None:
            await self.close(code=code)
            # Nothing more reaches a closed console, even before the browser acknowledges the close.
            await self.disconnect(code)
            self.user = None
        return code is None

    async def session_recheck(self, message):
        """portal/signals.py: the person's password, state or roles changed; this socket verifies itself."""
        if self.user is not None:
            await self._still_signed_in()

    async def _result(self, request_id, action, ok: bool, message: str):
        await self.send_json({"type": "result", "id": request_id, "action": action, "ok": ok, "message": message})

    def _t(self, text: str) -> str:
        with translation.override(getattr(self, "language", settings.LANGUAGE_CODE)):
            return _(text)

    # ----------------------------------------------------------------------- from the groups

    async def dispatch(self, message):
        # The hot path: an event goes straight out. Channels' own dispatch first closes stale database
        # connections (a hop to a worker thread per message, one thread for every consumer of the process);
        # forwarding an event touches no database, so thousands of events a second skip that.
        # The frame was encoded once by the publisher (pbx.events.layer_message), for every console.
        if message.get("type") == "pbx.event" and message.get("kind") != "snapshot":
            if self.user is None:  # closed: the session no longer holds
                return
            text = message.get("text")
            if isinstance(text, str):
                await self.send(text_data=text)
            return
        await super().dispatch(message)

    async def pbx_event(self, message):
        # pbx.events.layer_message: the event's type and its JSON text, encoded once by the publisher.
        if self.user is None:
            return
        if message.get("kind") == "snapshot":
            # The bridge resynchronised: its picture of the live half replaces ours, with a fresh directory.
            await self.send_snapshot()
            return
        text = message.get("text")
        if isinstance(text, str):
            await self.send(text_data=text)

    @classmethod
    async def encode_json(cls, content):
        return json.dumps(content, separators=(",", ":"), ensure_ascii=False)

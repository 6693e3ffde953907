"""What the bridge does about events beyond the live state and the browsers: the dialplan's callback requests
that become rows and notifications, new voicemail that the worker mails, and a recording's pauses and stop.

Each handler is a plain function of one domain event. ``on_callback_requested`` is registered in the dialplan
events' table (``dialplan_events.HANDLERS``: every UserEvent has exactly one consumer); ``run_followups`` is
the bridge's one call for the other events of a batch. A handler that fails is logged and the batch goes on:
the event has already changed the live state and is still published.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable

from . import domain as d

log = logging.getLogger(__name__)


def on_callback_requested(event: d.CallbackRequested) -> None:
    """``UserEvent(PbxCallbackRequest | PbxCallback)`` → a callback to make (and its notifications).

    Returns None: the dialplan has thanked the caller already and waits for no answer."""
    from pbx.actions.callbacks import do_record_callback_request

    if event.tenant_id is None:
        return
    do_record_callback_request(
        None, tenant_id=event.tenant_id, kind=event.kind, number=event.number, channel_id=event.channel_id,
        requested_at=dt.datetime.fromtimestamp(event.at, tz=dt.UTC), call_id=event.call_id,
        queue_id=event.queue_id, destination_id=event.destination_id, caller_number=event.caller.number,
        caller_name=event.caller.name,
    )


def on_callback_unserved(event: d.CallbackRequested) -> None:
    """``UserEvent(PbxCallbackUnserved)``: the queue could not keep its callback; it goes on the list."""
    from pbx.actions.callbacks import do_list_unserved_callback

    if event.tenant_id is None:
        return
    do_list_unserved_callback(None, tenant_id=event.tenant_id, queue_id=event.queue_id, number=event.number,
                              channel_id=event.channel_id, call_id=event.call_id,
                              at=dt.datetime.fromtimestamp(event.at, tz=dt.UTC))


def on_voicemail_arrived(event: d.VoicemailArrived):
    """A new message in a mailbox: the worker mails it (``MessageWaiting`` repeats; the job sends once)."""
    from pbx.notifications.voicemail import mail_new_voicemail

    if event.tenant_id is None:
        return None
    return mail_new_voicemail(event.tenant_id, event.mailbox)


def on_recording_paused(event: d.RecordingPaused) -> None:
    from recording.capture import on_recording_paused as paused

    paused(event)


def on_recording_stopped(event: d.RecordingStopped) -> None:
    from recording.capture import on_recording_stopped as stopped

    stopped(event)


FOLLOWUPS: dict[type, Callable] = {
    d.VoicemailArrived: on_voicemail_arrived,
    # A recording's pauses and early stop, as Asterisk reported them (MixMonitorMute / MixMonitorStop).
    d.RecordingPaused: on_recording_paused,
    d.RecordingStopped: on_recording_stopped,
}


def run_followups(events: Iterable[d.Event]) -> None:
    """Sync code (the bridge's worker thread): the database is written here."""
    for event in events:
        handler = FOLLOWUPS.get(type(event))
        if handler is None:
            continue
        try:
            handler(event)
        except Exception:
            log.exception("could not handle %s of company %s", event.type, event.tenant_id)

"""The one consumer of what the dialplan raises (``UserEvent(Pbx...)``): event name → the handler that acts.

The subscription table parses the raw UserEvent once into ``FeatureCodeUsed`` (its ``feature`` is the
UserEvent's name, ``values`` its own headers, ``channel`` the channel that raised it); the event bridge hands
each one to :meth:`DialplanEvents.submit`. ``HANDLERS`` says who acts on which name. A handler is plain sync
code (it uses the ORM and the ``do_*`` actions, with the person who pressed the keys as actor), run in a worker
thread off the event loop, and returns an :class:`Answer` for the phone, or None when the dialplan waits for
nothing.

The answer goes back on the channel that raised the event, and only there, through AMI ``Setvar`` of
``PBX_UNTIL`` (when set) then ``PBX_ANSWER``: the dialplan (``pbx-feature-answer``) polls ``PBX_ANSWER`` with
``WaitForCondition`` and plays the success prompt, the refusal or "try later" (no answer in time). A refusal
by an action (``PermissionDenied``, ``ValidationError``, an ``ActionRefused``) is ``refused``; anything else
going wrong is ``later`` and is logged; neither ever stops the bridge. An event no handler is registered for
is a bug (design.md: every UserEvent has exactly one consumer) and is logged as one.

Registering another event: ``HANDLERS["PbxCallback"] = my_handler`` (and have ``subscriptions.on_user_event``
give it as a ``FeatureCodeUsed``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from asgiref.sync import sync_to_async
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.db import close_old_connections

from pbx.asterisk.astdb_sync import collect_writes
from pbx.asterisk.errors import AsteriskError

from . import feature_codes
from .domain import CallbackRequested, FeatureCodeUsed, RecordingCaptured
from .followups import on_callback_requested, on_callback_unserved

log = logging.getLogger(__name__)

ANSWERS = frozenset({"ok", "refused", "later"})
# The only channel variables the bridge sets in answer (the dialplan clears them before its UserEvent).
ANSWER_VARIABLES = ("PBX_UNTIL", "PBX_ANSWER")
WRITE_WAIT_S = 3.5  # how long an answer waits for the change's AMI writes (the dialplan waits 5 s)


@dataclass(frozen=True)
class Answer:
    result: str  # one of ANSWERS
    until: int | None = None  # Unix time a change lasts until (the phone says it)
    reason: str = ""  # why it was refused (the log, the tests; never sent to Asterisk)

    def __post_init__(self) -> None:
        if self.result not in ANSWERS:
            raise ValueError(f"not an answer: {self.result!r}")


DialplanEvent = FeatureCodeUsed | CallbackRequested | RecordingCaptured
Handler = Callable[[DialplanEvent], Answer | None]

def _recording_started(event):
    from recording.capture import on_recording_started

    return on_recording_started(event)


def _recording_refused(event):
    from recording.capture import on_recording_refused

    return on_recording_refused(event)


HANDLERS: dict[str, Handler] = {
    "PbxQueueAgent": feature_codes.queue_agent,
    "PbxPresence": feature_codes.presence,
    "PbxOnDemandRecording": feature_codes.on_demand_recording,
    "PbxPromptRecorded": feature_codes.prompt_recorded,
    # Parsed into CallbackRequested (they carry a caller's number, not a person): a callback to make, told
    # to the destination's contacts; the dialplan waits for no answer.
    "PbxCallbackRequest": on_callback_requested,
    "PbxCallback": on_callback_requested,
    "PbxCallbackUnserved": on_callback_unserved,
    # Call recording: the Recording row of an automatic recording, or the refusal for want of a licence.
    "PbxRecording": _recording_started,
    "PbxRecordingRefused": _recording_refused,
}


def run_handler(handler: Handler, event: DialplanEvent) -> Answer | None:
    """Run one handler (in a worker thread); an action's refusal becomes the phone's refusal."""
    try:
        result = handler(event)
    except (PermissionDenied, ValidationError, ObjectDoesNotExist, feature_codes.Refused) as exc:
        reason = "; ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
        log.info("dialplan event %s of user %s in company %s refused: %s", event.feature, event.user_id,
                 event.tenant_id, reason)
        return Answer("refused", reason=reason)
    if isinstance(result, feature_codes.Done):
        return Answer("ok", until=result.until)
    return result


def _written(writes: list[concurrent.futures.Future]) -> bool:
    """The AMI writes (AstDB keys, queue members) of the handler's changes all done, within WRITE_WAIT_S."""
    deadline = time.monotonic() + WRITE_WAIT_S
    for future in writes:
        try:
            future.result(max(0.0, deadline - time.monotonic()))
        except Exception as exc:
            log.warning("a feature code's change did not reach Asterisk: %s", exc)
            return False
    return True


class DialplanEvents:
    """One node's consumer: runs the handlers as tasks, answers on the raising channel through ``ami()``."""

    def __init__(self, node: str, ami: Callable[[], Any], *, handlers: dict[str, Handler] | None = None,
                 run: Callable[[Handler, FeatureCodeUsed], Answer | None] = run_handler,
                 thread_sensitive: bool = False):
        self.node = node
        self._ami = ami
        self.handlers = HANDLERS if handlers is None else handlers
        self.run = run
        # False: handlers run in their own worker threads (own database connections), so a slow one (a prompt
        # being converted, a recording waiting for Asterisk) never holds up the event pipeline's thread.
        self.thread_sensitive = thread_sensitive
        self._tasks: set[asyncio.Task] = set()

    def submit(self, events) -> None:
        """Start handling the dialplan events among ``events`` (called from the event loop)."""
        for event in events:
            if isinstance(event, FeatureCodeUsed | CallbackRequested | RecordingCaptured):
                task = asyncio.get_running_loop().create_task(self.handle(event))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def handle(self, event: FeatureCodeUsed) -> Answer | None:
        handler = self.handlers.get(event.feature)
        if handler is None:
            log.error("%s: BUG: the dialplan raised %s (company %s) and nothing consumes it", self.node,
                      event.feature, event.tenant_id)
            answer: Answer | None = Answer("refused", reason="nothing consumes this event")
        else:
            try:
                answer = await sync_to_async(self._call, thread_sensitive=self.thread_sensitive)(handler, event)
            except Exception:
                log.exception("%s: %s of user %s in company %s failed", self.node, event.feature, event.user_id,
                              event.tenant_id)
                answer = Answer("later", reason="failed")
        if answer is not None:
            await self.answer(event, answer)
        return answer

    def _call(self, handler: Handler, event: FeatureCodeUsed) -> Answer | None:
        if not self.thread_sensitive:  # a pool thread of a long-running process: drop a closed connection
            close_old_connections()
        try:
            with collect_writes() as writes:
                answer = self.run(handler, event)
        finally:
            if not self.thread_sensitive:
                close_old_connections()
        if answer is not None and answer.result == "ok" and not _written(writes):
            # Committed, but Asterisk has not got it (yet): the next AstDB rewrite brings it; not "ok" now.
            return Answer("later", reason="Asterisk did not take the change")
        return answer

    async def answer(self, event: FeatureCodeUsed, answer: Answer) -> None:
        """Setvar on the channel that raised the event: PBX_UNTIL first, since the dialplan wakes on PBX_ANSWER."""
        ami = self._ami()
        if ami is None or not event.channel:
            return
        values = {"PBX_UNTIL": str(int(answer.until)) if answer.until else "", "PBX_ANSWER": answer.result}
        try:
            for variable in ANSWER_VARIABLES:
                if variable == "PBX_UNTIL" and not values[variable]:
                    continue
                await ami.action({"Action": "Setvar", "Channel": event.channel, "Variable": variable,
                                  "Value": values[variable]})
        except AsteriskError as exc:  # the caller hung up before the answer: nobody left to tell
            log.info("%s: could not answer %s on %s: %s", self.node, event.feature, event.channel, exc.message)
        except ValueError as exc:  # a channel name the AMI client will not put on the wire (a line break)
            log.warning("%s: not answering %s on %r: %s", self.node, event.feature, event.channel, exc)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


__all__ = ["ANSWER_VARIABLES", "HANDLERS", "Answer", "DialplanEvents", "run_handler"]

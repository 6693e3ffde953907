"""A caller running a context of the generated dialplan, application by application, as Asterisk would.

Only what a callback context uses (``Answer``, ``Gosub`` to the number capture, ``Set`` of variables and of
``DB()``, ``GotoIf`` on an empty number, ``UserEvent``, ``Originate``, ``Playback``, ``Hangup``): enough for
the fake to raise exactly the ``UserEvent`` the real dialplan raises and to write the AstDB entry it writes,
from the rendered text rather than from a copy of it.

- ``UserEvent(name,Key: value,...)``: app_userevent splits the body at commas, each argument at its first
  ``:`` (``strsep``), strips the value, skips an argument without ``:``; the manager event is the channel
  snapshot, then ``UserEvent: <name>``, then the body (main/stasis.c ``multi_user_event_to_ami``), with
  ``Privilege: user,all``.
- ``Set(DB(family/key)=value)``: func_db puts ``/family/key``; the first ``/`` splits family from key.
"""

from __future__ import annotations

import re
import time

from . import events as ev
from .state import Channel

VARIABLE_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
FILTER_RE = re.compile(r"\$\{FILTER\(([^,]*),([^(){}]*)\)\}")
EMPTY_TEST_RE = re.compile(r'^\$\["([^"]*)" = ""\]\?(.+)$')


def expand(text: str, variables: dict[str, str]) -> str:
    """${VAR} and ${FILTER(allowed,value)}, innermost first (what the callback contexts use)."""
    while True:
        expanded = VARIABLE_RE.sub(lambda m: variables.get(m[1], ""), text)
        expanded = FILTER_RE.sub(lambda m: "".join(c for c in m[2] if c in m[1]), expanded)
        if expanded == text:
            return expanded
        text = expanded


def user_event_headers(ch: Channel, data: str) -> list[tuple[str, str]]:
    name, *arguments = data.split(",")
    body = []
    for argument in arguments:
        key, colon, value = argument.partition(":")
        if colon:
            body.append((key, value.strip()))
    return ev.event("UserEvent", "user,all", ev.chan(ch), [("UserEvent", name)], *([body] if body else []))


def run_context(fake, ch: Channel, dialplan, context: str, *, captured: str, exten: str = "s",
                variables: dict[str, str] | None = None) -> list[str]:
    """Run ``context``'s ``exten`` on ``ch``; the number capture (a Gosub) returns ``captured``.

    ``dialplan`` is ``pbx.asterisk.confgen.parse.parse_dialplan_text`` of the rendered extensions.conf;
    ``variables`` are the channel's own before it enters (e.g. ``QUEUEPOSITION``, which app_queue sets when
    a key takes the caller out of the queue). Returns the applications run, in order."""
    variables = {**(variables or {}), "UNIQUEID": ch.uniqueid, "EPOCH": str(int(time.time()))}
    priorities = dialplan.contexts[context].extensions[exten].priorities
    ran = []
    for number in sorted(priorities):
        step = priorities[number]
        data = expand(step.data, variables) if step.app != "GotoIf" else step.data
        fake.set_dialplan(ch, context, exten, number, step.app, data)
        ran.append(step.app)
        if step.app == "Answer":
            fake.answer_channel(ch)
        elif step.app == "Gosub":
            variables["GOSUB_RETVAL"] = captured
        elif step.app == "Set":
            name, _, value = data.partition("=")
            if name.startswith("DB(") and name.endswith(")"):
                family, _, key = name[3:-1].partition("/")
                fake.state.astdb[f"/{family}/{key}"] = value
            else:
                variables[name] = value
        elif step.app == "GotoIf":
            match = EMPTY_TEST_RE.match(step.data)
            if match is None:
                raise NotImplementedError(f"GotoIf({step.data}) is not one the callback contexts use")
            if expand(match[1], variables) == "":
                break  # no number: the dialplan leaves for the hang-up context
        elif step.app == "UserEvent":
            fake.emit(user_event_headers(ch, data))
        elif step.app == "Hangup":
            fake.dialplan_hangup(ch)
            break
    return ran

"""AMI classes as Asterisk 22.10.1 enforces them (main/manager.c).

An action runs when the user's write classes share one class with the authority it is registered
with (``ast_manager_register_xml(name, EVENT_FLAG_..., ...)``; 0: any logged-in user), else
``Permission denied``. An event reaches a session when every class of its category (the
``Privilege`` header without ``all``) is in the user's read classes. ``all`` grants every class.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache
from pathlib import Path

MANAGER_CONF = Path(__file__).resolve().parents[2] / "asterisk_conf" / "manager.conf"

CLASSES = frozenset({"system", "call", "log", "verbose", "command", "agent", "user", "config", "dtmf", "reporting",
                     "cdr", "dialplan", "originate", "agi", "cc", "aoc", "test", "security", "message"})

# Lower-case action name → authority, from Asterisk 22.10.1's source (main/manager.c, main/db.c,
# apps/app_queue.c, apps/app_mixmonitor.c, pbx/pbx_config.c, res/res_pjsip/*.c, main/devicestate.c,
# main/presencestate.c, main/bridging.c ...).
ACTION_PRIVILEGES: dict[str, frozenset[str]] = {name: frozenset(classes) for name, classes in {
    "atxfer": {"call"}, "blindtransfer": {"call"}, "cancelatxfer": {"call"}, "redirect": {"call"},
    "setvar": {"call"}, "getvar": {"call", "reporting"}, "hangup": {"system", "call"},
    "status": {"system", "call", "reporting"}, "originate": {"originate"}, "command": {"command"},
    "coresettings": {"system", "reporting"}, "coreshowchannelmap": {"system", "reporting"},
    "coreshowchannels": {"system", "reporting"}, "corestatus": {"system", "reporting"},
    "dbdel": {"system"}, "dbdeltree": {"system"}, "dbput": {"system"}, "dbget": {"system", "reporting"},
    "dbgettree": {"system", "reporting"}, "dialplanextensionadd": {"system"}, "dialplanextensionremove": {"system"},
    "devicestatelist": {"call", "reporting"}, "presencestatelist": {"call", "reporting"},
    "presencestate": {"call", "reporting"}, "extensionstate": {"call", "reporting"},
    "extensionstatelist": {"call", "reporting"}, "mailboxcount": {"call", "reporting"},
    "mailboxstatus": {"call", "reporting"}, "mixmonitor": {"system"}, "mixmonitormute": {"system", "call"},
    "stopmixmonitor": {"system", "call"}, "muteaudio": {"system"}, "pjsipshowcontacts": {"system"},
    "pjsipshowendpoints": {"system"}, "queueadd": {"agent"}, "queuelog": {"agent"}, "queuepause": {"agent"},
    "queuepenalty": {"agent"}, "queueremove": {"agent"}, "queuestatus": set(), "queuesummary": set(),
    "reload": {"config", "system"}, "userevent": {"user"}, "bridgelist": set(), "challenge": set(),
    "events": set(), "listcommands": set(), "ping": set(), "login": set(), "logoff": set(),
}.items()}


def parse_classes(value: str) -> frozenset[str]:
    """``read``/``write`` of manager.conf: a comma-separated list, where ``all`` means every class."""
    names = {c.strip().lower() for c in value.split(",") if c.strip()}
    return CLASSES if "all" in names else frozenset(names & CLASSES)


@cache
def deployed() -> tuple[str, str]:
    """read and write of the orchestrator's user template in asterisk_conf/manager.conf: the fake grants
    what a real node grants, so every test through the fake runs with the deployed classes. (The app image
    has no asterisk_conf/: a demo simulated there grants everything.)"""
    if not MANAGER_CONF.exists():
        return "all", "all"
    text = MANAGER_CONF.read_text()
    template = text[text.index("[orchestrator-user](!)"):]
    template = template[:template.find("\n[", 1)] if "\n[" in template[1:] else template
    values = dict(re.findall(r"^(read|write)\s*=\s*(\S+)", template, re.M))
    return values["read"], values["write"]


def may_run(action: str, write: frozenset[str]) -> bool:
    # An action missing from the table runs (test_every_action_of_the_fake_has_its_asterisk_privilege
    # names it) rather than breaking every session that sends it.
    authority = ACTION_PRIVILEGES.get(action.lower(), frozenset())
    return not authority or bool(authority & write)


def event_category(headers: Iterable[tuple[str, str]]) -> frozenset[str]:
    for key, value in headers:
        if key.lower() == "privilege":
            return frozenset(c.strip().lower() for c in value.split(",") if c.strip().lower() != "all")
    return frozenset()


def may_read(headers: Iterable[tuple[str, str]], read: frozenset[str]) -> bool:
    return event_category(headers) <= read

"""modules.conf loads nothing that can run a program, and nothing the dialplan needs is missing.

Every application and function of the base and the generated dialplan (both demo companies) and
every application the project originates over AMI is looked up in Asterisk 22's own documentation
(tests/fixtures/asterisk/reference/core-en_US.xml names each one's module); none of those modules
may be in the noload list, and the modules that run programs or shells must be.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from functools import cache
from pathlib import Path

import pytest

from pbx.asterisk.confgen import render_from_db
from pbx.asterisk.confgen.parse import parse_dialplan_text

from .test_asterisk_base_conf import load

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "tests" / "fixtures" / "asterisk" / "reference" / "core-en_US.xml"

# Module → what in it reaches a program, a shell, the environment or arbitrary files.
DANGEROUS = {
    "app_system": {"applications": {"System", "TrySystem"}},
    "func_shell": {"functions": {"SHELL"}},
    "app_externalivr": {"applications": {"ExternalIVR"}},
    "res_agi": {"applications": {"AGI", "EAGI", "DeadAGI"}},
    "app_mp3": {"applications": {"MP3Player"}},
    "app_jack": {"applications": {"JACK"}},
    "func_env": {"functions": {"ENV", "FILE", "STAT"}},
    "func_curl": {"functions": {"CURL"}},
    "pbx_spool": {},  # call files: an application for every file dropped in the spool
    "res_http_post": {},  # HTTP uploads into Asterisk's directories
}


@cache
def reference() -> dict[str, dict[str, set[str]]]:
    """{"applications": {name: modules}, "functions": {name: modules}} from Asterisk's XML docs; a name
    can come from several modules (VoiceMail: app_voicemail, app_voicemail_odbc, app_voicemail_imap)."""
    table: dict[str, dict[str, set[str]]] = {"applications": {}, "functions": {}}
    for element in ET.parse(REFERENCE).getroot():  # noqa: S314 - our own committed file
        kind = {"application": "applications", "function": "functions"}.get(element.tag)
        if kind and element.get("module"):
            table[kind].setdefault(element.get("name"), set()).add(element.get("module"))
    return table


def noloaded() -> set[str]:
    return {name.removesuffix(".so") for name in load("modules.conf").section("modules").get_all("noload")}


def used_in(dialplan_text: str) -> dict[str, set[str]]:
    """The applications and functions a dialplan text uses (hints are device lists, not calls)."""
    dialplan = parse_dialplan_text(dialplan_text)
    applications = {priority.app for context in dialplan.contexts.values()
                    for extension in context.extensions.values() for priority in extension.priorities.values()}
    known = reference()["functions"]
    functions = {name for name in re.findall(r"\b([A-Z][A-Z0-9_]*)\(", dialplan_text) if name in known}
    return {"applications": applications, "functions": functions}


def problems(used: dict[str, set[str]]) -> list[str]:
    found = []
    known, off = reference(), noloaded()
    for kind, names in used.items():
        # Asterisk looks applications and functions up without regard to case.
        by_lower = {name.lower(): name for name in known[kind]}
        for name in sorted(names):
            canonical = by_lower.get(name.lower())
            if canonical is None:
                found.append(f"{name} is not an Asterisk 22 {kind[:-1]}")
            elif known[kind][canonical] <= off:
                modules = ", ".join(sorted(known[kind][canonical]))
                found.append(f"{canonical} needs {modules}, which modules.conf does not load")
    return found


@pytest.fixture
def demo_dialplan(demo, exempel) -> str:
    generated = render_from_db()
    return (ROOT / "asterisk_conf" / "extensions.conf").read_text() + "\n" + generated["extensions.conf"]


def originated_applications() -> set[str]:
    found = set()
    for path in (ROOT / "pbx").rglob("*.py"):
        text = path.read_text()
        for start in (m.end() for m in re.finditer(r'"Action":\s*"Originate"', text)):
            found |= set(re.findall(r'"Application":\s*"([A-Za-z]+)"', text[start:start + 300]))
    return found


def test_nothing_the_demo_dialplan_uses_is_left_unloaded(demo_dialplan):
    used = used_in(demo_dialplan)
    assert {"Dial", "Queue", "VoiceMail", "ExecIf"} <= used["applications"]
    assert {"DB", "EXTENSION_STATE", "FILTER"} <= used["functions"]
    assert problems(used) == []


def test_nothing_the_project_originates_over_ami_is_left_unloaded(demo_dialplan):
    applications = originated_applications()
    assert problems({"applications": applications, "functions": set()}) == []
    # Listen-in is originated into the generated [pbx-listen] (the licence first, then ChanSpy), so its
    # ChanSpy is the dialplan's, and app_chanspy must be loaded for it.
    used = used_in(demo_dialplan)["applications"]
    assert "ChanSpy" in used and problems({"applications": {"ChanSpy"}, "functions": set()}) == []


def test_the_dialplan_uses_nothing_that_runs_a_program(demo_dialplan):
    used = used_in(demo_dialplan)
    for module, provides in DANGEROUS.items():
        for kind, names in provides.items():
            assert not names & used[kind], f"the dialplan uses {names & used[kind]} of {module}"


def test_every_module_that_runs_a_program_is_not_loaded():
    assert set(DANGEROUS) <= noloaded()
    # The names are Asterisk's: its documentation says these modules provide these.
    for module, provides in DANGEROUS.items():
        for kind, names in provides.items():
            for name in names:
                assert reference()[kind][name] == {module}


def test_the_image_deletes_the_same_modules():
    dockerfile = (ROOT / "docker" / "asterisk.Dockerfile").read_text()
    removed = re.search(r'ARG PBX_REMOVED_MODULES="([^"]+)"', dockerfile).group(1).split()
    assert {name.removesuffix(".so") for name in removed} == set(DANGEROUS)


def test_the_check_catches_a_dialplan_that_calls_a_shell():
    hostile = "[t1-x]\nexten => s,1,System(touch /tmp/x)\n same => n,Set(X=${SHELL(id)})\n same => n,Agi(x)\n"
    assert problems(used_in(hostile)) == [
        "AGI needs res_agi, which modules.conf does not load",
        "System needs app_system, which modules.conf does not load",
        "SHELL needs func_shell, which modules.conf does not load",
    ]

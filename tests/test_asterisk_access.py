"""Least privilege for the orchestrator's AMI and ARI users.

The AMI classes are derived here from what the project really sends and reads: every ``"Action"``
literal in pbx/ must be in ACTION_CLASSES (the privilege Asterisk 22.10.1 registers it with, quoted
from its source), and every event of the bridge's subscription table has its class from Asterisk's
own XML documentation (tests/fixtures/asterisk/reference/core-en_US.xml). The classes in
manager.conf must be exactly what those need, no more.

The access script (docker/asterisk-access.sh) runs for real: the ARI password it writes is a
SHA-512 crypt of the secret, never the secret, and only the stack's networks are permitted.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from functools import cache
from pathlib import Path

import pytest

from .fake_asterisk.privileges import ACTION_PRIVILEGES
from .test_asterisk_base_conf import AMI_READ, AMI_WRITE, LOOPBACK_ONLY, load

ROOT = Path(__file__).resolve().parents[1]
ACCESS_SCRIPT = ROOT / "docker" / "asterisk-access.sh"
REFERENCE = ROOT / "tests" / "fixtures" / "asterisk" / "reference" / "core-en_US.xml"

# ast_manager_register_xml(_core)(name, authority, ...) in Asterisk 22.10.1, by lower-case action name: the
# same table the fake Asterisk enforces.
ACTION_CLASSES = ACTION_PRIVILEGES
# Events the bridge reads that are not in its subscription table: answers to its own actions.
OTHER_EVENTS_READ = {"OriginateResponse"}


def classes(value: str) -> set[str]:
    return {c.strip() for c in value.split(",") if c.strip()}


def actions_sent() -> set[str]:
    found = set()
    for path in (ROOT / "pbx").rglob("*.py"):
        found |= {name.lower() for name in re.findall(r'"Action":\s*"([A-Za-z]+)"', path.read_text())}
    return found


@cache
def event_classes() -> dict[str, set[str]]:
    table: dict[str, set[str]] = {}
    for event in ET.parse(REFERENCE).getroot().iter("managerEvent"):  # noqa: S314 - our own committed file
        for instance in event.iter("managerEventInstance"):
            flag = instance.get("class", "")
            table.setdefault(event.get("name"), set()).add(flag.removeprefix("EVENT_FLAG_").lower())
    return table


def test_every_action_the_project_sends_has_its_asterisk_privilege_here():
    sent = actions_sent()
    assert {"dbput", "queueadd", "originate", "setvar", "mixmonitor", "command"} <= sent
    assert not sent - set(ACTION_CLASSES), "add the action's privilege (Asterisk's source) to fake_asterisk/privileges.py"


def test_the_ami_user_may_send_every_action_it_uses_and_holds_no_class_it_does_not_need():
    write = classes(AMI_WRITE)
    sent = actions_sent()
    for action in sent:
        needed = ACTION_CLASSES[action]
        assert not needed or needed & write, f"{action} needs one of {needed}"
    # Every class granted is the only way to run some action the project sends.
    forced = {next(iter(ACTION_CLASSES[a])) for a in sent if len(ACTION_CLASSES[a]) == 1}
    assert write == forced
    assert "all" not in write and "config" not in write and "user" not in write


def test_the_ami_user_reads_exactly_the_classes_of_the_events_the_bridge_handles():
    from pbx.asterisk.bridge.subscriptions import SUBSCRIPTIONS

    read = classes(AMI_READ)
    needed = set()
    for event in set(SUBSCRIPTIONS) | OTHER_EVENTS_READ:
        assert event in event_classes(), f"{event} is not an Asterisk 22 event"
        assert event_classes()[event] & read, f"{event} ({event_classes()[event]}) would never arrive"
        needed |= event_classes()[event]
    assert read == needed
    # The floods nobody reads stay off the wire.
    for noisy in ("VarSet", "RTCPSent", "ChallengeSent", "Cdr"):
        assert not event_classes()[noisy] & read


# The access script, run for real ------------------------------------------------------------------

AMI_SECRET = "ami-Secret-0123456789"
ARI_SECRET = "ari Secret/with $pecial & chars"


def run_access(tmp_path, **env) -> subprocess.CompletedProcess:
    base = {"PATH": os.environ["PATH"], "ASTERISK_AMI_USER": "orchestrator", "ASTERISK_AMI_SECRET": AMI_SECRET,
            "ASTERISK_ARI_USER": "orchestrator", "ASTERISK_ARI_PASSWORD": ARI_SECRET, "ASTERISK_STACK_NETS": ""}
    return subprocess.run(["bash", str(ACCESS_SCRIPT), str(tmp_path)], env=base | env, capture_output=True,
                          text=True, check=False)


needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")


@needs_openssl
def test_the_ari_password_is_stored_as_a_crypt_that_matches_the_secret(tmp_path):
    result = run_access(tmp_path, ASTERISK_STACK_NETS="172.18.0.0/16")
    assert result.returncode == 0, result.stderr
    written = (tmp_path / "ari_secrets.conf").read_text()
    assert ARI_SECRET not in written
    cfg = load("ari.conf", included={"ari_secrets.conf": written})
    user = cfg.section("orchestrator")
    assert user.get("password_format") == "crypt"
    stored = user.get("password")
    salt = stored.split("$")[2]
    again = subprocess.run(["openssl", "passwd", "-6", "-salt", salt, "-stdin"], input=ARI_SECRET + "\n",
                           capture_output=True, text=True, check=True).stdout.strip()
    assert again == stored
    assert (tmp_path / "ari_secrets.conf").stat().st_mode & 0o777 == 0o640


@needs_openssl
def test_ami_and_ari_permit_loopback_and_only_the_stacks_networks(tmp_path):
    assert run_access(tmp_path, ASTERISK_STACK_NETS="172.18.0.0/16,10.9.8.0/255.255.255.0").returncode == 0
    for name, secrets in (("manager.conf", "manager_secrets.conf"), ("ari.conf", "ari_secrets.conf")):
        cfg = load(name, included={secrets: (tmp_path / secrets).read_text()})
        acl = [(k, v) for k, v in cfg.section("orchestrator").options if k in ("deny", "permit", "acl")]
        assert acl == [*LOOPBACK_ONLY, ("permit", "172.18.0.0/16"), ("permit", "10.9.8.0/255.255.255.0")]
    manager = load("manager.conf", included={"manager_secrets.conf": (tmp_path / "manager_secrets.conf").read_text()})
    assert manager.section("orchestrator").get("secret") == AMI_SECRET


@needs_openssl
def test_with_no_stack_network_only_loopback_may_connect(tmp_path):
    assert run_access(tmp_path).returncode == 0
    cfg = load("manager.conf", included={"manager_secrets.conf": (tmp_path / "manager_secrets.conf").read_text()})
    assert [(k, v) for k, v in cfg.section("orchestrator").options if k in ("deny", "permit")] == LOOPBACK_ONLY


@pytest.mark.parametrize(("env", "complaint"), [
    ({"ASTERISK_STACK_NETS": "0.0.0.0/0"}, "every address"),
    ({"ASTERISK_STACK_NETS": "10.0.0.0/0.0.0.0"}, "every address"),
    ({"ASTERISK_STACK_NETS": "asterisk"}, "bad network"),
    ({"ASTERISK_STACK_NETS": "10.0.0.0/8\npermit=0.0.0.0/0"}, "bad network"),
    ({"ASTERISK_ARI_PASSWORD": "short"}, "at least 16"),
    ({"ASTERISK_AMI_SECRET": "0123456789abcdef;read=all"}, "must not contain"),
    ({"ASTERISK_AMI_USER": "general"}, "must not be"),
])
def test_the_access_script_refuses_what_would_open_asterisk_and_writes_nothing(tmp_path, env, complaint):
    result = run_access(tmp_path, **env)
    assert result.returncode != 0 and complaint in result.stderr
    assert not list(tmp_path.iterdir())


def test_the_entrypoint_uses_the_access_script_and_the_image_ships_it():
    entrypoint = (ROOT / "docker" / "asterisk-entrypoint.sh").read_text()
    dockerfile = (ROOT / "docker" / "asterisk.Dockerfile").read_text()
    assert 'write_access_files "$ETC_DIR"' in entrypoint
    assert "manager_secrets.conf" not in entrypoint.split("write_access_files")[-1].split("pjsip_nat")[0]
    assert "COPY asterisk-access.sh /usr/local/lib/pbx/asterisk-access.sh" in dockerfile
    assert "openssl" in dockerfile

"""The character lists pbx-reachable gives FILTER(), read the way Asterisk 22.10.1 reads them.

``allowed()`` follows funcs/func_strings.c ``filter()``: every character is one allowed character, unless a
"-" follows it, which makes a range to the character after the "-" (a "-" at the end of the list is
swallowed: that is how "_.-" lost its "-" on the real Asterisk and every endpoint name lost its dash).
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pbx.asterisk.confgen import writer as w
from pbx.asterisk.confgen.dialplan_shared import DIAL_SAFE, ENDPOINT_CHARS


def allowed(spec: str) -> set[str]:
    spec = spec.replace("\\;", ";")  # config.c: "\;" in the file is ";" in the dialplan
    chars: set[str] = set()
    i = 0
    while i < len(spec):
        first = spec[i]
        i += 1
        if i < len(spec) and spec[i] == "-":
            last = spec[i + 1] if i + 1 < len(spec) else first
            i += 2
            chars.update(chr(c) for c in range(ord(first), ord(last) + 1))
        else:
            chars.add(first)
    return chars


def kept(spec: str, text: str) -> str:
    ok = allowed(spec)
    return "".join(c for c in text if c in ok)


def test_the_port_reproduces_the_trailing_dash_seen_on_asterisk():
    assert kept("0-9A-Za-z_.-", "t1-2bd64639c9") == "t12bd64639c9"  # Asterisk 22.10.1 printed exactly this


@given(st.from_regex(w.NAME_RE, fullmatch=True))
def test_every_endpoint_name_the_generators_allow_passes_unchanged(name):
    assert kept(ENDPOINT_CHARS, name) == name


@pytest.mark.parametrize("contact", [
    "PJSIP/t1-2bd64639c9/sip:t1-2bd64639c9-0x5630c9afe350@127.0.0.1:35070",  # baresip, on Asterisk 22.10.1
    "PJSIP/t7-a1b2c3d4e5/sip:1001@192.0.2.7:5060;transport=udp;rinstance=8f2a;ob",
    "PJSIP/t7-a1b2c3d4e5/sip:x%20y@host.example:5061;transport=tls&PJSIP/t7-a1b2c3d4e5/sip:z@192.0.2.8",
])
def test_ordinary_contacts_are_dialled_as_they_are(contact):
    assert kept(DIAL_SAFE, contact) == contact


@pytest.mark.parametrize("contact", [
    "PJSIP/t1-c0495f1196/sip:evil15673,,U(t2-internal)@127.0.0.1:35072",  # registered on Asterisk 22.10.1
    "PJSIP/t1-a/sip:a,20,G(t2-internal^s^1)@192.0.2.1",
    "PJSIP/t1-a/sip:${SHELL(id)}@192.0.2.1",
    'PJSIP/t1-a/sip:"x"|y^z@[2001:db8::1]:5060',
])
def test_a_contact_dial_could_parse_is_replaced_by_the_plain_endpoint(contact):
    assert kept(DIAL_SAFE, contact) != contact  # so pbx-reachable's length check sends PJSIP/<endpoint>
    assert not set(",()${}\"|^[]") & allowed(DIAL_SAFE)

"""Any string, through the action, into every field that reaches a generated Asterisk file.

For each such field (pbx/asterisk/confgen/snapshot.py lists what the generators read) the action is
called with an arbitrary string. Either it is refused with a ValidationError that says why, or the
company's configuration renders, passes the checker and the value reads back from the parsed file
exactly (free text a person types, such as a name, reads back as ``display_text`` made it inert).

CI runs a moderate number of examples; ``HYPOTHESIS_PROFILE=thorough`` runs 10,000.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st

from pbx import actions
from pbx.asterisk.checker import check
from pbx.asterisk.confgen import render_from_db
from pbx.asterisk.confgen.parse import expanded, parse_conf, parse_dialplan_text
from pbx.asterisk.confgen.queues import moh_class
from pbx.asterisk.confgen.writer import display_text
from pbx.models import (
    Conference,
    Destination,
    Device,
    IvrMenu,
    IvrOption,
    Number,
    Prompt,
    Queue,
    SipTrunk,
    Tenant,
    VoicemailBox,
)
from pbx.validators import trunk_networks

THOROUGH = os.environ.get("HYPOTHESIS_PROFILE") == "thorough"
EXAMPLES = 10_000 if THOROUGH else 40


# -- reading values back out of the generated files ---------------------------------------------------


def dialplan(files):
    return parse_dialplan_text(files["extensions.conf"]).contexts


def goto_of(files, context: str, exten: str) -> str:
    """The first Goto's target of an extension ("" when it has none)."""
    priorities = dialplan(files)[context].extensions[exten].priorities
    return next((p.data for _n, p in sorted(priorities.items()) if p.app == "Goto"), "")


def extension_leading_to(files, tenant_id: int, target: str) -> str:
    found = [name for name, ext in dialplan(files)[f"t{tenant_id}-extensions"].extensions.items()
             if ext.priorities[1].data == target]
    assert len(found) <= 1
    return found[0] if found else ""  # a person may have no extension


def pjsip(files, name: str, kind: str) -> dict[str, list[str]]:
    return next(v for s, v in expanded(parse_conf(files["pjsip.conf"])) if s.name == name and v.get("type") == [kind])


def mailbox_fields(files, tenant_id: int, number: str) -> list[str]:
    conf = parse_conf(files["voicemail.conf"])
    (line,) = [o for s in conf.sections for o in s.options if s.name == f"t{tenant_id}" and o.op == "=>"
               and o.key == number]
    return line.value.split(",")


def identify_match(files, name: str) -> str:
    found = [v for s, v in expanded(parse_conf(files["pjsip.conf"])) if s.name == name and v.get("type") == ["identify"]]
    return found[0]["match"][0] if found else ""


def option_value(files, file: str, section: str, key: str) -> list[str]:
    return [o.value for s in parse_conf(files[file]).sections if s.name == section for o in s.options if o.key == key]


# -- the cases: one per field ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    field: str
    write: Callable  # (demo, value) -> the saved row; calls the action
    read: Callable  # (files, row, demo) -> what the generated files say
    expect: Callable = staticmethod(lambda value: value)
    valid: st.SearchStrategy = st.text(max_size=30)  # values the form would take, so many are written

    def __repr__(self) -> str:
        return self.field


def _user(demo, **fields):
    person = actions.do_create_user(demo.admin, demo.tenant, email="hostile@demo.example", **fields)
    actions.do_create_device(demo.admin, person)
    return person


def _trunk(demo, **fields):
    values = {"name": "Operatör", "host": "sip.operator.example", "username": "demo", "password": "secret",
              **fields}
    return actions.do_save_object(demo.admin, SipTrunk(tenant=demo.tenant, **values))


def _tenant(demo, field, value):
    tenant = Tenant.objects.get(pk=demo.tenant.pk)
    setattr(tenant, field, value)
    return actions.do_save_object(demo.admin, tenant)


def _endpoint(row) -> str:
    return Device.objects.get(user=row).endpoint


def _menu_option(demo, digit):
    destination = Destination.objects.filter(tenant=demo.tenant, kind="hangup").first() or actions.do_save_object(
        demo.admin, Destination(tenant=demo.tenant, kind="hangup", label="Lägg på"))
    IvrOption.objects.filter(menu=demo.menu).delete()  # (rolled back) so any key is free
    return actions.do_save_object(demo.admin, IvrOption(tenant=demo.tenant, menu=demo.menu, digit=digit,
                                                        destination=destination))


def _menu_prompt(demo, sound_name):
    prompt = actions.do_save_object(demo.admin, Prompt(tenant=demo.tenant, name="Fientlig hälsning", sound_name=sound_name))
    menu = IvrMenu.objects.get(pk=demo.menu.pk)
    menu.prompt = prompt
    return actions.do_save_object(demo.admin, menu).prompt


def _menu_sound(files, demo) -> str:
    play = dialplan(files)[f"t{demo.tenant.pk}-menu-{demo.menu.pk}"].extensions["play"]
    return next((p.data for _n, p in sorted(play.priorities.items()) if p.app == "Background"), "")


FORWARDS = st.one_of(st.from_regex(r"\A(\+|00)[1-9][0-9]{5,12}\Z"), st.from_regex(r"\A0[1-9][0-9]{5,10}\Z"),
                     st.sampled_from(["1001", "1002", "112", "90000", "+46812345678"]))
HOSTS = st.from_regex(r"\A[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?){0,2}\.[a-z]{2,6}\Z")
PUBLIC_MATCHES = st.lists(st.sampled_from(["81.2.3.4", "81.2.3.0/24", "193.44.5.6", "2a00:1450:4001::/48",
                                           "2a00:1450:4001::5"]), min_size=1, max_size=3, unique=True).map(",".join)

CASES = [
    Case("User.extension", lambda d, v: _user(d, extension=v),
         lambda f, row, d: extension_leading_to(f, d.tenant.pk, f"t{d.tenant.pk}-user-{row.pk},s,1"),
         valid=st.from_regex(r"\A[0-9]{2,8}\Z")),
    Case("User.first_name", lambda d, v: _user(d, first_name=v, extension="1199"),
         lambda f, row, d: pjsip(f, _endpoint(row), "endpoint")["callerid"],
         lambda v: [f'"{display_text(v.strip())}" <1199>']),
    Case("Device.secret", lambda d, v: actions.do_create_device(d.admin, d.users[-1], secret=v),
         lambda f, row, d: pjsip(f, row.endpoint, "auth")["password"], lambda v: [v],
         valid=st.from_regex(r"\A[!-~]{1,64}\Z")),
    Case("Device.sip_username", lambda d, v: actions.do_create_device(d.admin, d.users[-1], sip_username=v),
         lambda f, row, d: pjsip(f, f"t{d.tenant.pk}-{row.sip_username}", "auth")["username"][0].split("-", 1)[1],
         valid=st.from_regex(r"\A[a-z0-9][a-z0-9_-]{0,31}\Z")),
    Case("Conference.extension",
         lambda d, v: actions.do_save_object(d.admin, Conference(tenant=d.tenant, name="K", extension=v, pin="1234")),
         lambda f, row, d: extension_leading_to(f, d.tenant.pk, f"t{d.tenant.pk}-conf-{row.pk},s,1"),
         valid=st.from_regex(r"\A[0-9]{2,8}\Z")),
    Case("Conference.pin",
         lambda d, v: actions.do_save_object(d.admin, Conference(tenant=d.tenant, name="K", extension="7100", pin=v)),
         lambda f, row, d: option_value(f, "confbridge.conf", f"t{d.tenant.pk}-conf-{row.pk}-user", "pin"),
         lambda v: [v] if v else [],
         valid=st.from_regex(r"\A[0-9]{4,12}\Z")),
    Case("VoicemailBox.number",
         lambda d, v: actions.do_save_object(d.admin, VoicemailBox(tenant=d.tenant, number=v, name="Delad",
                                                                   kind="shared", pin="1234")),
         lambda f, row, d: row.number if mailbox_fields(f, d.tenant.pk, row.number) else None,
         valid=st.from_regex(r"\A[0-9]{2,8}\Z")),
    Case("VoicemailBox.pin",
         lambda d, v: actions.do_save_object(d.admin, VoicemailBox(tenant=d.tenant, number="850", name="Delad",
                                                                   kind="shared", pin=v)),
         lambda f, row, d: mailbox_fields(f, d.tenant.pk, "850")[0],
         valid=st.from_regex(r"\A[0-9]{4,12}\Z")),
    Case("VoicemailBox.name",
         lambda d, v: actions.do_save_object(d.admin, VoicemailBox(tenant=d.tenant, number="850", name=v,
                                                                   kind="shared", pin="1234")),
         lambda f, row, d: mailbox_fields(f, d.tenant.pk, "850")[1],
         lambda v: display_text(v) or "850"),
    Case("Queue.extension",
         lambda d, v: actions.do_save_object(d.admin, Queue(tenant=d.tenant, name="Ny kö", extension=v)),
         lambda f, row, d: extension_leading_to(f, d.tenant.pk, f"t{d.tenant.pk}-queue-{row.pk},s,1"),
         valid=st.from_regex(r"\A[0-9]{2,8}\Z")),
    Case("Queue.music_on_hold",
         lambda d, v: actions.do_save_object(d.admin, Queue(tenant=d.tenant, name="Ny kö", music_on_hold=v)),
         lambda f, row, d: option_value(f, "queues.conf", f"t{d.tenant.pk}-q{row.pk}", "musicclass")
         == [moh_class(d.tenant.pk, row.music_on_hold)],
         lambda v: True),
    Case("Number.e164",
         lambda d, v: actions.do_save_object(d.admin, Number(tenant=d.tenant, e164=v, kind="main")),
         lambda f, row, d: row.e164 if row.e164 in dialplan(f)[f"t{d.tenant.pk}-inbound"].extensions else None,
         valid=st.from_regex(r"\A\+[1-9][0-9]{6,14}\Z") | st.from_regex(r"\A\+468155[0-9]{4}\Z")),
    Case("Number.forward_to",
         lambda d, v: actions.do_save_object(d.admin, Number(tenant=d.tenant, e164="+4681559777", kind="reserved",
                                                             forward_to=v)),
         lambda f, row, d: goto_of(f, f"t{d.tenant.pk}-inbound", "+4681559777").split(",")[1] if row.forward_to
         else goto_of(f, f"t{d.tenant.pk}-inbound", "+4681559777"),
         valid=FORWARDS),
    Case("Destination.external_number",
         lambda d, v: actions.do_save_object(d.admin, Number(
             tenant=d.tenant, e164="+4681559777", kind="main",
             destination=actions.do_save_object(d.admin, Destination(tenant=d.tenant, kind="external",
                                                                     external_number=v)))),
         lambda f, row, d: goto_of(f, f"t{d.tenant.pk}-inbound", "+4681559777").split(",")[1],
         valid=FORWARDS),
    Case("Prompt.sound_name", lambda d, v: _menu_prompt(d, v), lambda f, row, d: _menu_sound(f, d),
         valid=st.from_regex(r"\A[A-Za-z0-9_-]{1,12}(/[A-Za-z0-9_-]{1,12}){0,2}\Z")),
    Case("IvrOption.digit", lambda d, v: _menu_option(d, v),
         lambda f, row, d: row.digit if row.digit in dialplan(f)[f"t{d.tenant.pk}-menu-{d.menu.pk}"].extensions
         else None,
         valid=st.sampled_from("0123456789*#")),
    Case("SipTrunk.host", lambda d, v: _trunk(d, host=v),
         lambda f, row, d: pjsip(f, f"t{d.tenant.pk}-trunk-{row.pk}", "aor")["contact"], lambda v: [f"sip:{v}"],
         valid=HOSTS),
    Case("SipTrunk.username", lambda d, v: _trunk(d, username=v),
         lambda f, row, d: pjsip(f, f"t{d.tenant.pk}-trunk-{row.pk}", "auth")["username"] if row.username else [],
         lambda v: [v] if v else [],
         valid=st.from_regex(r"\A[!-~]([ -~]{0,30}[!-~])?\Z")),
    Case("SipTrunk.password", lambda d, v: _trunk(d, password=v),
         lambda f, row, d: pjsip(f, f"t{d.tenant.pk}-trunk-{row.pk}", "auth")["password"], lambda v: [v],
         valid=st.from_regex(r"\A[!-~]([ -~]{0,30}[!-~])?\Z")),
    Case("SipTrunk.identify_match", lambda d, v: _trunk(d, identify_match=v),
         lambda f, row, d: trunk_networks(identify_match(f, f"t{d.tenant.pk}-trunk-{row.pk}") or "") if
         identify_match(f, f"t{d.tenant.pk}-trunk-{row.pk}") else [],
         lambda v: trunk_networks(v) if v else [],  # a host name is never a match (see pjsip._trunk)
         valid=PUBLIC_MATCHES),
    Case("Tenant.emergency_numbers", lambda d, v: _tenant(d, "emergency_numbers", v),
         lambda f, row, d: sorted(dialplan(f)[f"t{d.tenant.pk}-emergency"].extensions),
         lambda v: sorted({n.strip() for n in v.split(",")}),
         valid=st.from_regex(r"\A[0-9]{2,10}(,[0-9]{2,10}){0,3}\Z")),
    Case("Tenant.country_code", lambda d, v: _tenant(d, "country_code", v),
         lambda f, row, d: next(p.priorities[1].data for p in dialplan(f)[f"t{d.tenant.pk}-outbound"].patterns
                                if p.name == "_0X.").split("$")[0],
         lambda v: f"PBX_NUM=+{v}",
         valid=st.from_regex(r"\A[1-9][0-9]{0,3}\Z")),
    Case("Tenant.language", lambda d, v: _tenant(d, "language", v),
         lambda f, row, d: pjsip(f, Device.objects.filter(tenant=d.tenant).first().endpoint, "endpoint")["language"],
         lambda v: [v],
         valid=st.sampled_from(["sv", "en"])),
    Case("Tenant.time_zone", lambda d, v: _tenant(d, "time_zone", v),
         lambda f, row, d: option_value(f, "voicemail.conf", "zonemessages", f"t{d.tenant.pk}")[0].split("|")[0],
         valid=st.sampled_from(["Europe/Stockholm", "Europe/Helsinki", "America/New_York", "Asia/Tokyo"])),
]

# Strings of every kind, the values the form would take, and near misses of them (a valid value with
# a line break after it...).
near_miss_tail = st.sampled_from(["\n", "\r", " ", "\t", "\x0b", "\x85", "\u2028", ";", ",", "\\", "$", "a", "\x00", "\ud800"])


def values_for(case: Case) -> st.SearchStrategy:
    return st.one_of(
        st.text(max_size=30),
        case.valid,
        st.tuples(case.valid, near_miss_tail).map("".join),
        st.tuples(near_miss_tail, case.valid).map("".join),
    )


@settings(max_examples=EXAMPLES, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.filter_too_much])
@given(data=st.data())
def test_any_string_through_any_action_is_refused_clearly_or_reads_back_exactly(demo, exempel, data):
    case = data.draw(st.sampled_from(CASES), label="field")
    value = data.draw(values_for(case), label="value")
    with transaction.atomic():
        try:
            with transaction.atomic():
                row = case.write(demo, value)
        except ValidationError as refused:
            note(f"refused: {refused.messages}")  # for the report of a failing example
            event(f"{case.field}: refused")  # --hypothesis-show-statistics counts refused and written values
            assert refused.messages and all(str(m).strip() for m in refused.messages)
            transaction.set_rollback(True)
            return
        files = render_from_db(tenant_ids=[demo.tenant.pk])  # never a ConfigError for a value the action took
        assert check(files) == []
        row.refresh_from_db()
        event(f"{case.field}: written and read back")
        read = case.read(files, row, demo)
        if case.expect is not None:
            assert read == case.expect(value), f"{case.field}: {value!r} was stored, {read!r} was written"
        transaction.set_rollback(True)

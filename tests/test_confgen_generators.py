"""Exact text of every generator for the tiny company of tests/confgen_fixtures.py.

The snapshot is built by hand with fixed ids, so these are the files byte for byte. A change in a
generator shows up here as a readable diff of the Asterisk config it would produce.
"""

import dataclasses

from pbx.asterisk.checker import check
from pbx.asterisk.confgen import confbridge, extensions, features, musiconhold, pjsip, queues, render, voicemail
from pbx.asterisk.confgen.parse import context_blocks
from tests.confgen_fixtures import tiny_snapshot

HEADER = "; Generated from the database by `manage.py render_asterisk`. Do not edit: it is overwritten.\n"


def test_pjsip_devices_have_endpoint_auth_and_aor_with_the_secret_escaped():
    # One name for all three, which is the phone's SIP user name: identify_by=auth_username finds the
    # endpoint by that name, the registrar the aor (a real Asterisk 22 refused the bare user name).
    text = pjsip.generate(tiny_snapshot())
    devices = text[text.index("[t7-a1b2c3d4e5](pbx-endpoint)"):text.index("[t7-trunk-151]")]
    assert devices == """\
[t7-a1b2c3d4e5](pbx-endpoint)
auth = t7-a1b2c3d4e5
aors = t7-a1b2c3d4e5
context = t7-internal
subscribe_context = t7-hints
callerid = "Anna Åberg" <1001>
mailboxes = 1001@t7
language = sv
accountcode = t7
named_call_group = t7
named_pickup_group = t7
set_var = PBX_TENANT=7
set_var = PBX_USER=31
set_var = PBX_COPTS=T
set_var = PBX_MAILBOX=1001@t7
set_var = PBX_ADMIN=1
set_var = DYNAMIC_FEATURES=pbxrec#pbxrecpause

[t7-a1b2c3d4e5](pbx-auth)
username = t7-a1b2c3d4e5
password = secret-anna\\;desk

[t7-a1b2c3d4e5](pbx-aor)

[t7-f6e5d4c3b2](pbx-webrtc)
auth = t7-f6e5d4c3b2
aors = t7-f6e5d4c3b2
context = t7-internal
subscribe_context = t7-hints
callerid = "Anna Åberg" <1001>
mailboxes = 1001@t7
language = sv
accountcode = t7
named_call_group = t7
named_pickup_group = t7
set_var = PBX_TENANT=7
set_var = PBX_USER=31
set_var = PBX_COPTS=T
set_var = PBX_MAILBOX=1001@t7
set_var = PBX_ADMIN=1
set_var = DYNAMIC_FEATURES=pbxrec#pbxrecpause

[t7-f6e5d4c3b2](pbx-auth)
username = t7-f6e5d4c3b2
password = secret-anna-web

[t7-f6e5d4c3b2](pbx-aor)

[t7-0a0b0c0d0e](pbx-endpoint)
auth = t7-0a0b0c0d0e
aors = t7-0a0b0c0d0e
context = t7-internal
subscribe_context = t7-hints
callerid = "Björn BB Berg" <1002>
mailboxes = 1002@t7
language = sv
accountcode = t7
named_call_group = t7
named_pickup_group = t7
set_var = PBX_TENANT=7
set_var = PBX_USER=32
set_var = PBX_COPTS=T
set_var = PBX_MAILBOX=1002@t7
set_var = DYNAMIC_FEATURES=pbxrec#pbxrecpause

[t7-0a0b0c0d0e](pbx-auth)
username = t7-0a0b0c0d0e
password = secret-bjorn

[t7-0a0b0c0d0e](pbx-aor)

"""


def test_pjsip_trunks_register_authenticate_and_identify():
    text = pjsip.generate(tiny_snapshot())
    assert text[text.index("[t7-trunk-151]"):] == """\
[t7-trunk-151]
type = auth
auth_type = userpass
username = t7user\\;x
password = pa\\;ss--word

[t7-trunk-151]
type = registration
outbound_auth = t7-trunk-151
server_uri = sip:sip.operator.example:5060
client_uri = sip:t7user%3Bx@sip.operator.example:5060
contact_user = t7user%3Bx
retry_interval = 60
forbidden_retry_interval = 600
expiration = 3600
endpoint = t7-trunk-151
line = yes

[t7-trunk-151]
type = aor
contact = sip:sip.operator.example:5060
qualify_frequency = 60

[t7-trunk-151](pbx-trunk)
context = t7-from-trunk
aors = t7-trunk-151
outbound_auth = t7-trunk-151
from_user = t7user%3Bx
from_domain = sip.operator.example

[t7-trunk-151]
type = identify
endpoint = t7-trunk-151
match = 81.2.3.10

; ==== shared ====

[trunk-161]
type = aor
contact = sip:trunk.platform.example
qualify_frequency = 60

[trunk-161](pbx-trunk)
context = from-trunk
aors = trunk-161
from_domain = trunk.platform.example
"""
    # A host name is never an identify match: its DNS, not the operator, would decide what it covers.


def test_pjsip_starts_with_the_header_and_the_templates_and_sets_no_transport():
    text = pjsip.generate(tiny_snapshot())
    assert text.startswith(HEADER + "\n[pbx-endpoint](!)\ntype = endpoint\n")
    assert "transport" not in text


def test_queues_conf_has_one_queue_without_members():
    assert queues.generate(tiny_snapshot()) == """\
; Generated from the database by `manage.py render_asterisk`. Do not edit: it is overwritten.

; ==== company 7 ====

[t7-q61]
strategy = ringall
timeout = 20
retry = 3
wrapuptime = 10
servicelevel = 20
maxlen = 0
announce-frequency = 60
announce-position = yes
announce-holdtime = yes
periodic-announce = custom/t7/prompt-92
periodic-announce-frequency = 45
musicclass = t7-jazznight
joinempty = unavailable,invalid
leavewhenempty = unavailable,invalid
ringinuse = no
setinterfacevar = yes
setqueueentryvar = yes
context = t7-qexit-61
"""


def test_voicemail_conf_has_a_context_per_company_and_inert_names_and_never_asks_asterisk_to_mail():
    assert voicemail.generate(tiny_snapshot()) == """\
; Generated from the database by `manage.py render_asterisk`. Do not edit: it is overwritten.

[zonemessages]

; ==== company 7 ====

[zonemessages](+)
t7 = Europe/Stockholm|'vm-received' Q 'digits/at' HM

[t7]
1001 => 1234,Anna Åberg,,,attach=no|tz=t7
1002 => 5678,Björn the boss,,,attach=no|tz=t7
800 => 4242,Växeln,,,attach=no|tz=t7
"""


def test_musiconhold_conf_has_the_classes_queues_name():
    assert musiconhold.generate(tiny_snapshot()) == """\
; Generated from the database by `manage.py render_asterisk`. Do not edit: it is overwritten.

; ==== company 7 ====

[t7-jazznight]
mode = files
directory = sounds/custom/t7/moh-jazznight
sort = alpha
"""


def test_features_conf_maps_the_recording_keys():
    assert features.generate(tiny_snapshot()) == """\
; Generated from the database by `manage.py render_asterisk`. Do not edit: it is overwritten.

[applicationmap]
pbxrec => *9,self,Gosub(pbx-ondemand-rec,toggle,1)
pbxrecpause => *7,self,Gosub(pbx-ondemand-rec,pause,1)
"""


def test_confbridge_conf_has_profiles_per_conference():
    assert confbridge.generate(tiny_snapshot()) == """\
; Generated from the database by `manage.py render_asterisk`. Do not edit: it is overwritten.

; ==== company 7 ====

[t7-conf-121-bridge]
type = bridge
max_members = 10
language = sv

[t7-conf-121-user]
type = user
announce_user_count = yes
music_on_hold_when_empty = yes
pin = 2468
"""


def dialplan_context(name: str) -> str:
    return context_blocks(extensions.generate(tiny_snapshot()))[name]


def test_from_trunk_matches_only_numbers_of_shared_trunks_exactly():
    assert dialplan_context('from-trunk') == """\
[from-trunk]
; Calls from shared trunks: only the companies' own numbers, matched exactly.
exten => +46812340000,1,Goto(t7-inbound,+46812340000,1)
exten => +46812349999,1,Goto(t7-inbound,+46812349999,1)
exten => 0812340000,1,Goto(t7-inbound,+46812340000,1)
exten => 0812349999,1,Goto(t7-inbound,+46812349999,1)
exten => 46812340000,1,Goto(t7-inbound,+46812340000,1)
exten => 46812349999,1,Goto(t7-inbound,+46812349999,1)

; ==== company 7 ====

"""


def test_internal_context_has_the_feature_codes_and_includes():
    assert dialplan_context('t7-internal') == """\
[t7-internal]
include => t7-emergency
include => t7-extensions
include => t7-inbound
include => t7-outbound
; presence: *20<code> sets a status, *21 clears it
exten => _*20X,1,Goto(t7-presence,${EXTEN:3},1)
exten => _*20XX,1,Goto(t7-presence,${EXTEN:3},1)
exten => *21,1,Goto(t7-presence,clear,1)
; queues: *45 log in, *46 log out, *47 pause or resume (optionally followed by the queue's extension)
exten => _*4[567],1,Set(PBX_QEXT=)
 same => n,Goto(t7-agentcode,${EXTEN:1},1)
exten => _*4[567]X.,1,Set(PBX_QEXT=${FILTER(0123456789,${EXTEN:3})})
 same => n,Goto(t7-agentcode,${FILTER(0123456789,${EXTEN:1:2})},1)
; voicemail: *97 own box, *98 any box of the company
exten => *97,1,Answer()
 same => n,VoiceMailMain(${IF($["${PBX_MAILBOX}" = ""]?@t7:${PBX_MAILBOX})})
 same => n,Hangup()
exten => *98,1,Answer()
 same => n,VoiceMailMain(@t7)
 same => n,Hangup()
; pickup: *8 a call ringing in the company, **<extension> a colleague's call
exten => *8,1,Pickup()
 same => n,Hangup()
exten => _**X.,1,Goto(t7-pickup,${FILTER(0123456789,${EXTEN:2})},1)
; record a prompt by phone (company admins): *99<prompt id> (X. needs two digits: X for one)
exten => _*99X,1,Goto(t7-recprompt,${FILTER(0123456789,${EXTEN:3})},1)
exten => _*99X.,1,Goto(t7-recprompt,${FILTER(0123456789,${EXTEN:3})},1)

"""


def test_inbound_runs_welcome_schedule_and_destination_per_number():
    assert dialplan_context('t7-inbound') == """\
[t7-inbound]
exten => +46812340000,1,MSet(__PBX_DDI=+46812340000,CHANNEL(language)=sv)
 same => n,Answer()
 same => n,Playback(custom/t7/prompt-91)
 same => n,Gosub(t7-schedule-101,s,1)
 same => n,GotoIf($["${GOSUB_RETVAL}" = "open"]?t7-menu-81,s,1:t7-voicemail,800,1)
exten => +46701110002,1,MSet(__PBX_DDI=+46701110002,CHANNEL(language)=sv)
 same => n,Goto(t7-user-32,mobile,1)
exten => +46812349999,1,MSet(__PBX_DDI=+46812349999,CHANNEL(language)=sv)
 same => n,Goto(t7-forward,+46812340000,1)

"""


def test_the_companys_own_trunk_enters_by_exact_numbers():
    assert dialplan_context('t7-from-trunk') == """\
[t7-from-trunk]
; the company's own trunks: only its numbers, matched exactly
exten => +46701110002,1,Goto(t7-inbound,+46701110002,1)
exten => +46812340000,1,Goto(t7-inbound,+46812340000,1)
exten => +46812349999,1,Goto(t7-inbound,+46812349999,1)
exten => 0701110002,1,Goto(t7-inbound,+46701110002,1)
exten => 0812340000,1,Goto(t7-inbound,+46812340000,1)
exten => 0812349999,1,Goto(t7-inbound,+46812349999,1)
exten => 46701110002,1,Goto(t7-inbound,+46701110002,1)
exten => 46812340000,1,Goto(t7-inbound,+46812340000,1)
exten => 46812349999,1,Goto(t7-inbound,+46812349999,1)

"""


def test_outbound_normalises_national_numbers_through_filter():
    assert dialplan_context('t7-outbound') == """\
[t7-outbound]
; the dialled number is only ever used through FILTER(), never as typed
exten => _+X.,1,Set(PBX_NUM=+${FILTER(0123456789,${EXTEN:1})})
 same => n,Goto(t7-dialout,s,1)
exten => _00X.,1,Set(PBX_NUM=+${FILTER(0123456789,${EXTEN:2})})
 same => n,Goto(t7-dialout,s,1)
exten => _0X.,1,Set(PBX_NUM=+46${FILTER(0123456789,${EXTEN:1})})
 same => n,Goto(t7-dialout,s,1)

"""


def test_dialout_sets_the_chosen_caller_id_and_uses_the_own_trunk():
    assert dialplan_context('t7-dialout') == """\
[t7-dialout]
; PBX_NUM: +E.164 or an emergency number, digits only
exten => s,1,Set(PBX_CLI=)
 same => n,ExecIf($["${PBX_USER}" != ""]?Set(PBX_CLI=${FILTER(+0123456789,${DB(pbx/t7/u${PBX_USER}/cli)})}))
 same => n,Set(PBX_CID=${FILTER(+0123456789,${CALLERID(num)})})
 same => n,ExecIf($["${PBX_CLI}" = "" & "${PBX_USER}" = "" & "${PBX_CID:0:1}" = "+"]?Set(PBX_CLI=${PBX_CID}))
 same => n,Set(CALLERID(num)=${IF($["${PBX_CLI}" = ""]?+46812340000:${PBX_CLI})})
 same => n,Gosub(pbx-recording-hook,s,1(7,out,${PBX_USER}))
 same => n,Dial(PJSIP/${FILTER(+0123456789,${PBX_NUM})}@t7-trunk-151,,${PBX_COPTS})
 same => n,Hangup()

"""


def test_person_context_carries_out_the_verdict():
    assert dialplan_context('t7-person') == """\
[t7-person]
exten => status,1,Goto(t7-status-fwd,${PBX_ST},1)
exten => forward,1,UserEvent(PbxForward,Tenant: 7,User: ${FILTER(0123456789,${PBX_PERSON})},Reason: ${FILTER(a-z,${PBX_STEP})},To: ${FILTER(+0123456789,${PBX_FWD})})
 same => n,Goto(t7-forward,${PBX_FWD},1)
exten => vmbusy,1,UserEvent(PbxVoicemail,Tenant: 7,User: ${FILTER(0123456789,${PBX_PERSON})},Mailbox: ${PBX_VM})
 same => n,VoiceMail(${PBX_VM},b)
 same => n,Hangup()
exten => vmunavail,1,UserEvent(PbxVoicemail,Tenant: 7,User: ${FILTER(0123456789,${PBX_PERSON})},Mailbox: ${PBX_VM})
 same => n,VoiceMail(${PBX_VM},u)
 same => n,Hangup()
exten => busy,1,Busy(10)
exten => hangup,1,Hangup()
exten => i,1,Hangup()

"""


def test_status_forward_sends_vacation_to_the_shared_mailbox():
    assert dialplan_context('t7-status-fwd') == """\
[t7-status-fwd]
exten => 4,1,UserEvent(PbxForward,Tenant: 7,User: ${FILTER(0123456789,${PBX_PERSON})},Reason: status,To: dest:53)
 same => n,Goto(t7-voicemail,800,1)

"""


def test_presence_codes_call_the_shared_subroutine():
    assert dialplan_context('t7-presence') == """\
[t7-presence]
exten => 1,1,Gosub(pbx-presence,s,1(7,1,Europe/Stockholm))
exten => 4,1,Gosub(pbx-presence,s,1(7,4,Europe/Stockholm))
exten => clear,1,Gosub(pbx-presence,s,1(7,,Europe/Stockholm))
exten => i,1,Playback(invalid)

"""


def test_hints_show_all_devices_and_the_custom_presence():
    assert dialplan_context('t7-hints') == """\
[t7-hints]
exten => 1001,hint,PJSIP/t7-a1b2c3d4e5&PJSIP/t7-f6e5d4c3b2,CustomPresence:t7-u31
exten => 1002,hint,PJSIP/t7-0a0b0c0d0e,CustomPresence:t7-u32

"""


def test_agents_context_rings_only_the_reachable_devices_of_an_agent():
    assert dialplan_context('t7-agents') == """\
[t7-agents]
exten => 31,1,Gosub(pbx-reachable,s,1(t7-a1b2c3d4e5&t7-f6e5d4c3b2))
 same => n,GotoIf($[${LEN(${GOSUB_RETVAL})} = 0]?none,1)
 same => n,Dial(${GOSUB_RETVAL},,t)
exten => none,1,Hangup(20)

"""


def test_a_person_with_a_mobile_number_has_both_lines():
    assert dialplan_context('t7-user-32') == """\
[t7-user-32]
exten => s,1,Gosub(t7-profile,s,1(32))
 same => n,Gosub(pbx-person,s,1(7,32,fixed,t7-0a0b0c0d0e,1002@t7,1002@t7-hints,${GOSUB_RETVAL}))
 same => n,Goto(t7-person,${GOSUB_RETVAL},1)
exten => mobile,1,Gosub(t7-profile,s,1(32))
 same => n,Gosub(pbx-person,s,1(7,32,mobile,t7-0a0b0c0d0e,1002@t7,1002@t7-hints,${GOSUB_RETVAL}))
 same => n,Goto(t7-person,${GOSUB_RETVAL},1)

"""


def test_the_profile_in_force_is_decided_at_call_time_by_the_schedules():
    assert dialplan_context('t7-profile') == """\
[t7-profile]
; Gosub(<user id>): returns "" (the base keys: by hand or defaults) or "sp<N>/" (scheduled, open now)
exten => s,1,Set(LOCAL(db)=pbx/t7/u${FILTER(0123456789,${ARG1})})
 same => n,GotoIf($["${FILTER(0123456789,${DB(${db}/profile)})}" != ""]?base,1)
 same => n,Set(LOCAL(i)=0)
 same => n,Goto(next,1)
exten => next,1,Set(LOCAL(i)=$[${i} + 1])
 same => n,Set(LOCAL(s)=${FILTER(0123456789,${DB(${db}/sp${i}/schedule)})})
 same => n,GotoIf($["${s}" = "" | ${i} > 20]?base,1)
 same => n,GotoIf($[!${DIALPLAN_EXISTS(t7-profsched,${s},1)}]?next,1)
 same => n,Gosub(t7-profsched,${s},1)
 same => n,GotoIf($["${GOSUB_RETVAL}" != "open"]?next,1)
 same => n,Return(sp${i}/)
exten => base,1,Return()

"""
    assert dialplan_context('t7-profsched') == """\
[t7-profsched]
exten => 101,1,Goto(t7-schedule-101,s,1)

"""


def test_a_company_without_schedules_has_no_scheduled_profiles():
    snap = tiny_snapshot()
    snap.tenants[0].schedules.clear()
    snap.tenants[0].numbers[:] = [n for n in snap.tenants[0].numbers if n.schedule_id is None]
    files = render(snap)
    text = files["extensions.conf"]
    start = text.index("[t7-profile]")
    assert text[start:text.index("\n\n", start)] == "[t7-profile]\nexten => s,1,Return()"
    assert "[t7-profsched]" not in text and check(files) == []


def test_pbx_reachable_dials_only_endpoints_with_contacts_and_never_parses_a_contact():
    assert dialplan_context('pbx-reachable') == r"""[pbx-reachable]
; Gosub(pbx-reachable,s,1(<endpoint>&<endpoint>...)) returns the Dial string of the devices that can
; answer now: each endpoint's reachable contacts (PJSIP_DIAL_CONTACTS: registered or static, not found
; unreachable by qualify); empty when none can. Dialling PJSIP/<endpoint> with no contact logs an ERROR
; ("Could not create dialog to invalid URI"), and an empty entry in Dial's & list fails the whole Dial,
; so endpoints without a contact are left out. A contact only ever reaches Set() and Dial(), and an
; expression only as its length (IF()/ExecIf() would cut a URI at ":" or "?"); one holding a character
; Dial() would parse ("," or "(" in a URI's user part) is dialled as plain PJSIP/<endpoint> instead.
exten => s,1,Set(LOCAL(i)=0)
 same => n,Set(LOCAL(dial)=)
 same => n,Goto(next,1)
exten => next,1,Set(LOCAL(i)=$[${i} + 1])
 same => n,Set(LOCAL(ep)=${FILTER(--._+0-9A-Za-z,${CUT(ARG1,&,${i})})})
 same => n,GotoIf($["${ep}" = ""]?done,1)
 same => n,Set(LOCAL(c)=${PJSIP_DIAL_CONTACTS(${ep})})
 same => n,GotoIf($[${LEN(${c})} = 0]?next,1)
 same => n,ExecIf($[${LEN(${c})} != ${LEN(${FILTER(--./:@0-9A-Za-z\;=_+~%&,${c})})}]?Set(LOCAL(c)=PJSIP/${ep}))
 same => n,GotoIf($[${LEN(${dial})} = 0]?first,1)
 same => n,Set(LOCAL(dial)=${dial}&${c})
 same => n,Goto(next,1)
exten => first,1,Set(LOCAL(dial)=${c})
 same => n,Goto(next,1)
exten => done,1,Return(${dial})

"""
    person = dialplan_context('pbx-person')
    assert """\
exten => ring,1,Set(LOCAL(secs)=${FILTER(0123456789,${DB(${db}/${line}/ring_s)})})
 same => n,Gosub(pbx-reachable,s,1(${ARG4}))
 same => n,Set(LOCAL(dial)=${GOSUB_RETVAL})
 same => n,GotoIf($[${LEN(${dial})} = 0]?unreach,1)
 same => n,Gosub(pbx-recording-hook,s,1(${ARG1},in,${ARG2},${CUT(ARG6,@,1)}))
 same => n,Dial(${dial},${IF($[0${secs} > 0]?${secs}:20)},t${PBX_COPTS}${PBX_RECOPT})
""" in person
    assert " same => n,Set(LOCAL(line)=${FILTER(0123456789ps/,${ARG7})}${FILTER(a-z,${ARG3})})" in person


def test_queue_has_overflow_and_no_agents_paths():
    assert dialplan_context('t7-queue-61') == """\
[t7-queue-61]
exten => s,1,Set(__PBX_QUEUE=61)
 same => n,Answer()
 same => n,GotoIf($[${QUEUE_MEMBER(t7-q61,logged)} = 0]?noagents,1)
 same => n,Gosub(pbx-recording-hook,s,1(7,queue,61))
 same => n,Queue(t7-q61,t,,,300)
 same => n,GotoIf($["${QUEUESTATUS}" = "JOINEMPTY" | "${QUEUESTATUS}" = "LEAVEEMPTY"]?noagents,1)
 same => n,GotoIf($["${QUEUESTATUS}" = "JOINUNAVAIL" | "${QUEUESTATUS}" = "LEAVEUNAVAIL"]?noagents,1)
 same => n,Goto(overflow,1)
exten => overflow,1,UserEvent(PbxQueueResult,Tenant: 7,Queue: 61,Result: ${IF($["${QUEUESTATUS}" = "FULL"]?overflow:timeout)})
 same => n,Goto(t7-menu-81,s,1)
exten => noagents,1,UserEvent(PbxQueueResult,Tenant: 7,Queue: 61,Result: noagents)
 same => n,Goto(t7-voicemail,800,1)

"""


def test_a_queue_number_called_while_closed_is_logged_against_the_queue():
    snap = tiny_snapshot()
    (tenant,) = snap.tenants
    main = tenant.numbers[0]
    tenant.numbers[0] = dataclasses.replace(main, destination_id=52)  # Support queue 61, scheduled, closed → 53
    files = render(snap)
    blocks = context_blocks(files["extensions.conf"])
    assert blocks["t7-closed"] == """\
[t7-closed]
exten => n141,1,UserEvent(PbxQueueResult,Tenant: 7,Queue: 61,Result: closed)
 same => n,Goto(t7-voicemail,800,1)

"""
    assert "?t7-queue-61,s,1:t7-closed,n141,1)" in blocks["t7-inbound"]
    assert check(files) == []
    # A number that leads elsewhere (the fixture's menu) needs no such context.
    assert "t7-closed" not in context_blocks(extensions.generate(tiny_snapshot()))


def test_queue_callback_keeps_the_callers_position():
    assert dialplan_context('t7-qexit-61') == """\
[t7-qexit-61]
exten => 1,1,Set(PBX_CBPOS=${FILTER(0123456789,${QUEUEPOSITION})})
 same => n,Gosub(pbx-callback-capture,s,1(46))
 same => n,Set(PBX_CBNUM=${FILTER(+0123456789,${GOSUB_RETVAL})})
 same => n,GotoIf($["${PBX_CBNUM}" = ""]?t7-queue-61,s,1)
 same => n,UserEvent(PbxCallback,Tenant: 7,Queue: 61,Number: ${PBX_CBNUM},Position: ${PBX_CBPOS})
 same => n,Originate(Local/s@t7-qcbwait-61/n,exten,t7-qcbdial,s,1,360,av(PBX_CBNUM=${PBX_CBNUM}^PBX_CBPOS=${PBX_CBPOS}^PBX_CBKIND=queue))
 same => n,Playback(auth-thankyou)
 same => n,Hangup()

"""


def test_callback_local_channel_waits_at_the_old_position():
    assert dialplan_context('t7-qcbwait-61') == """\
[t7-qcbwait-61]
exten => s,1,Set(CALLERID(num)=${FILTER(+0123456789,${PBX_CBNUM})})
 same => n,Queue(t7-q61,,,,300,,,,${FILTER(0123456789,${PBX_CBPOS})})
 same => n,GotoIf($["${PBX_CBKIND}" = ""]?t7-hangup,s,1)
 same => n,UserEvent(PbxCallbackUnserved,Tenant: 7,Queue: 61,Number: ${PBX_CBNUM},Result: ${QUEUESTATUS})
 same => n,Hangup()

"""


def test_menu_callback_request_is_stored_announced_and_queued():
    assert dialplan_context('t7-cbreq-55') == """\
[t7-cbreq-55]
exten => s,1,Answer()
 same => n,Gosub(pbx-callback-capture,s,1(46))
 same => n,Set(PBX_CBNUM=${FILTER(+0123456789,${GOSUB_RETVAL})})
 same => n,GotoIf($["${PBX_CBNUM}" = ""]?t7-hangup,s,1)
 same => n,Set(DB(pbxcb/t7/${UNIQUEID})=55:61:${PBX_CBNUM}:${EPOCH})
 same => n,UserEvent(PbxCallbackRequest,Tenant: 7,Destination: 55,Queue: 61,Number: ${PBX_CBNUM})
 same => n,Set(PBX_CBPOS=)
 same => n,Originate(Local/s@t7-qcbwait-61/n,exten,t7-qcbdial,s,1,360,av(PBX_CBNUM=${PBX_CBNUM}^PBX_CBPOS=))
 same => n,Playback(auth-thankyou)
 same => n,Hangup()

"""


def test_menu_counts_attempts_on_timeout_and_invalid_keys():
    assert dialplan_context('t7-menu-81') == """\
[t7-menu-81]
exten => s,1,Set(PBX_TRIES=0)
 same => n,Answer()
 same => n,Goto(play,1)
exten => play,1,Set(PBX_TRIES=$[${PBX_TRIES} + 1])
 same => n,Background(custom/t7/prompt-91)
 same => n,WaitExten(5)
exten => 0,1,Goto(t7-user-31,s,1)
exten => 1,1,Goto(t7-queue-61,s,1)
exten => 2,1,Goto(t7-cbreq-55,s,1)
exten => t,1,GotoIf($[${PBX_TRIES} < 3]?play,1)
 same => n,Goto(t7-user-31,s,1)
exten => i,1,Playback(invalid)
 same => n,GotoIf($[${PBX_TRIES} < 3]?play,1)
 same => n,Goto(t7-user-31,s,1)

"""


def test_schedule_reads_the_override_then_special_days_then_weekly_hours():
    assert dialplan_context('t7-schedule-101') == """\
[t7-schedule-101]
exten => s,1,Set(LOCAL(ov)=${FILTER(a-z,${DB(pbx/t7/s101/override)})})
 same => n,Set(LOCAL(until)=${FILTER(0123456789,${DB(pbx/t7/s101/until)})})
 same => n,GotoIf($["${ov}" = "" | (0${until} > 0 & ${EPOCH} >= 0${until})]?rules,1)
 same => n,Return(${IF($["${ov}" = "open"]?open:closed)})
exten => rules,1,Set(LOCAL(today)=${STRFTIME(${EPOCH},Europe/Stockholm,%Y%m%d)})
 same => n,GotoIf($[${today} >= 20261224 & ${today} <= 20261226]?closed,1)
 same => n,GotoIf($[${today} >= 20261230 & ${today} <= 20261230]?day112,1)
 same => n,GotoIfTime(08:00-16:59,mon,*,*,Europe/Stockholm?open,1)
 same => n,GotoIfTime(08:30-15:00,fri,*,*,Europe/Stockholm?open,1)
 same => n,Return(closed)
exten => day112,1,GotoIfTime(09:00-11:59,*,*,*,Europe/Stockholm?open,1)
 same => n,Return(closed)
exten => open,1,Return(open)
exten => closed,1,Return(closed)

"""


def test_voicemail_context_plays_the_greeting_of_a_shared_box():
    assert dialplan_context('t7-voicemail') == """\
[t7-voicemail]
exten => 1001,1,Answer()
 same => n,UserEvent(PbxVoicemail,Tenant: 7,Mailbox: 1001)
 same => n,VoiceMail(1001@t7,u)
exten => 1002,1,Answer()
 same => n,UserEvent(PbxVoicemail,Tenant: 7,Mailbox: 1002)
 same => n,VoiceMail(1002@t7,u)
exten => 800,1,Answer()
 same => n,UserEvent(PbxVoicemail,Tenant: 7,Mailbox: 800)
 same => n,Playback(custom/t7/prompt-92)
 same => n,VoiceMail(800@t7,su)

"""


def test_conference_uses_its_profiles():
    assert dialplan_context('t7-conf-121') == """\
[t7-conf-121]
exten => s,1,Answer()
 same => n,ConfBridge(t7-conf-121,t7-conf-121-bridge,t7-conf-121-user)
 same => n,Hangup()
"""

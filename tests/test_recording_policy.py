"""Call recording's policy: the precedence as a table, the AstDB state the dialplan decides from, and the
generated dialplan of each path (queue, direct, outbound, forwarded, internal), checked by the checker."""

import pytest
from django.core.exceptions import ValidationError

from pbx.asterisk.astdb import astdb_keys_for, astdb_state
from pbx.asterisk.checker import check
from pbx.asterisk.confgen import render_from_db
from pbx.asterisk.confgen.parse import parse_dialplan_text
from pbx.models import Number, SipTrunk
from recording.models import (
    ApprovedNumber,
    DepartmentRule,
    ExcludedNumber,
    QueuePolicy,
    RecordedPerson,
    RecordingSettings,
)
from recording.policy import INBOUND_EXTERNAL, INTERNAL, OUTBOUND_EXTERNAL, Call, Setup, decide

CUSTOMER = "+46701234567"

# (call, setup, expected): each row is one rule of the precedence winning over the next.
ON = {"person_enabled": True}
TABLE = [
    # kill switch beats everything, even a queue that always records
    (Call(INBOUND_EXTERNAL, CUSTOMER, "always"), Setup(kill_switch=True, **ON), (False, "kill_switch")),
    (Call(INBOUND_EXTERNAL, CUSTOMER, "always"), Setup(service_on=False, **ON), (False, "kill_switch")),
    # an excluded number beats the queue's "always" and the approved number
    (Call(INBOUND_EXTERNAL, CUSTOMER, "always", approved_number=True), Setup(excluded=frozenset({CUSTOMER}), **ON),
     (False, "excluded_number")),
    # a person not enabled is never recorded automatically
    (Call(INBOUND_EXTERNAL, CUSTOMER, "always"), Setup(person_enabled=False), (False, "person_not_enabled")),
    # the consent menu's "no" queue beats the department rule and the approved number
    (Call(INBOUND_EXTERNAL, CUSTOMER, "never", approved_number=True),
     Setup(department_kinds=frozenset({INBOUND_EXTERNAL}), **ON), (False, "queue_never")),
    # then: queue always, the department rule, an approved number
    (Call(INBOUND_EXTERNAL, CUSTOMER, "always"), Setup(**ON), (True, "queue")),
    (Call(INBOUND_EXTERNAL, CUSTOMER), Setup(department_kinds=frozenset({INBOUND_EXTERNAL}), **ON), (True, "department")),
    (Call(OUTBOUND_EXTERNAL, CUSTOMER), Setup(department_kinds=frozenset({OUTBOUND_EXTERNAL}), **ON),
     (True, "department")),
    (Call(INTERNAL, "1002"), Setup(department_kinds=frozenset({INTERNAL}), **ON), (True, "department")),
    (Call(INTERNAL, "1002"), Setup(department_kinds=frozenset({INBOUND_EXTERNAL}), **ON), (False, "no_rule")),
    (Call(INBOUND_EXTERNAL, CUSTOMER, approved_number=True), Setup(**ON), (True, "approved_number")),
    # nothing says record
    (Call(INBOUND_EXTERNAL, CUSTOMER), Setup(**ON), (False, "no_rule")),
    (Call(INBOUND_EXTERNAL, ""), Setup(excluded=frozenset({CUSTOMER}), department_kinds=frozenset({INBOUND_EXTERNAL}),
                                      **ON), (True, "department")),
]


@pytest.mark.parametrize(("call", "setup", "expected"), TABLE)
def test_the_precedence_table(call, setup, expected):
    decision = decide(call, setup)
    assert (decision.record, decision.reason) == expected


@pytest.fixture
def recorded(demo, bob):
    """Demo records: service on, Bob enabled, his department records inbound external calls, Support always,
    Sales never, one excluded customer and the main number approved."""
    RecordingSettings.objects.create(tenant=demo.tenant, enabled=True)
    RecordedPerson.objects.create(user=bob, tenant=demo.tenant)
    DepartmentRule.objects.create(department=bob.department, tenant=demo.tenant, inbound_external=True, internal=True)
    QueuePolicy.objects.create(queue=demo.queues["Support"], tenant=demo.tenant, policy="always")
    QueuePolicy.objects.create(queue=demo.queues["Sales"], tenant=demo.tenant, policy="never")
    ExcludedNumber.objects.create(tenant=demo.tenant, e164=CUSTOMER)
    ExcludedNumber.objects.create(tenant=demo.tenant, e164="+46812345678")
    ApprovedNumber.objects.create(number=demo.main_number, tenant=demo.tenant)
    return demo


def test_astdb_holds_the_switches_the_excluded_numbers_and_each_persons_rule(recorded, bob, eva, exempel, dave):
    t = recorded.tenant
    t.max_recording_channels = 6
    t.save()
    state = astdb_state(t)
    assert state[("pbx", f"t{t.pk}/rec/auto")] == "1"
    assert state[("pbx", f"t{t.pk}/rec/lic")] == "6"
    assert state[("pbx", f"t{t.pk}/rec/x")] == ":46701234567:46812345678:"
    assert state[("pbx", f"t{t.pk}/u{bob.pk}/rec")] == "ein"
    assert state[("pbx", f"t{t.pk}/u{eva.pk}/rec")] == ""  # not enabled
    # The other company's keys say nothing of Demo's policy.
    other = astdb_state(exempel.tenant)
    assert other[("pbx", f"t{exempel.tenant.pk}/rec/auto")] == "0"
    assert other[("pbx", f"t{exempel.tenant.pk}/rec/x")] == ""
    assert all(key.startswith(f"t{exempel.tenant.pk}/") for _family, key in other)


def test_the_kill_switch_turns_automatic_recording_off_in_one_key(recorded):
    settings = RecordingSettings.objects.get(tenant=recorded.tenant)
    settings.kill_switch = True
    settings.save()
    assert astdb_keys_for("recording", recorded.tenant.pk)[("pbx", f"t{recorded.tenant.pk}/rec/auto")] == "0"


def test_a_persons_key_alone(recorded, bob):
    assert astdb_keys_for("recording_user", bob.pk) == {("pbx", f"t{recorded.tenant.pk}/u{bob.pk}/rec"): "ein"}


def test_an_excluded_number_must_be_international_and_once(recorded):
    with pytest.raises(ValidationError):
        ExcludedNumber(tenant=recorded.tenant, e164="070-123 45 67").full_clean()
    with pytest.raises(ValidationError):
        ExcludedNumber(tenant=recorded.tenant, e164=CUSTOMER).full_clean()


def dialplan(tenant_ids):
    files = render_from_db(tenant_ids=tenant_ids)
    return files, parse_dialplan_text(files["extensions.conf"])


def steps(plan, context, exten="s"):
    priorities = plan.contexts[context].extensions[exten].priorities
    return [f"{p.app}({p.data})" for _n, p in sorted(priorities.items())]


def test_a_queue_passes_its_policy_and_decides_on_the_answering_member(recorded):
    files, plan = dialplan([recorded.tenant.pk])
    t = recorded.tenant.pk
    support, sales = recorded.queues["Support"].pk, recorded.queues["Sales"].pk
    always = steps(plan, f"t{t}-queue-{support}")
    assert f"Gosub(pbx-recording-hook,s,1({t},queue,{support},always))" in always
    assert any(s.startswith(f"Queue(t{t}-q{support},t,,,") and s.endswith(",,pbx-rec-queue)") for s in always)
    assert f"Gosub(pbx-recording-hook,s,1({t},queue,{sales},never))" in steps(plan, f"t{t}-queue-{sales}")
    assert check(files) == []


def test_an_approved_number_is_marked_and_the_callers_number_normalised(recorded):
    SipTrunk.objects.create(tenant=recorded.tenant, name="Operatör", host="sip.example.net")
    _files, plan = dialplan([recorded.tenant.pk])
    t, main = recorded.tenant.pk, recorded.main_number.e164
    inbound = steps(plan, f"t{t}-inbound", main)
    assert inbound[0].endswith(",__PBX_RECN=1)")
    assert inbound[1] == f"Gosub(pbx-e164,s,1(${{FILTER(+0123456789,${{CALLERID(num)}})}},{recorded.tenant.country_code}))"
    assert inbound[2] == "Set(__PBX_RECO=${FILTER(0123456789,${GOSUB_RETVAL})})"
    other = Number.objects.filter(tenant=recorded.tenant).exclude(pk=recorded.main_number.pk).exclude(kind="reserved")
    assert "__PBX_RECN" not in steps(plan, f"t{t}-inbound", other.first().e164)[0]
    dialout = steps(plan, f"t{t}-dialout")
    assert f'ExecIf($["${{CALLERID(num)}}" = "{main}"]?Set(__PBX_RECN=1))' in dialout
    assert dialout[-2].startswith("Dial(") and dialout[-2].endswith(",,${PBX_COPTS}${PBX_RECOPT})")


def test_a_company_without_the_service_gets_no_recording_steps(recorded, exempel, dave):
    SipTrunk.objects.create(tenant=exempel.tenant, name="Operatör", host="sip.example.net")
    _files, plan = dialplan([exempel.tenant.pk])
    t = exempel.tenant.pk
    queue = next(iter(exempel.queues.values())).pk
    assert not any("pbx-rec-queue" in s for s in steps(plan, f"t{t}-queue-{queue}"))
    assert steps(plan, f"t{t}-dialout")[-2].endswith(",,${PBX_COPTS})")
    assert steps(plan, f"t{t}-agents", str(dave.pk))[-1] == "Dial(${GOSUB_RETVAL},,t)"


def test_a_queue_agents_own_phone_decides_and_the_queue_tells_the_agent_it_chose(recorded, bob):
    """The recording is the agent's phone's (it ends when the agent transfers the call on); only for a call of
    this company (PBX_RECT), and the queue's gosub plays the announcement to the agent it chose."""
    files, plan = dialplan([recorded.tenant.pk])
    t = recorded.tenant.pk
    dial = steps(plan, f"t{t}-agents", str(bob.pk))[-1]
    assert dial == f'Dial(${{GOSUB_RETVAL}},,t${{IF($["${{PBX_RECT}}" = "{t}"]?U(pbx-rec-answer^r^{bob.pk}^^^q))}})'
    told = steps(plan, "pbx-rec-queue")
    assert any("MASTER_CHANNEL(PBX_RECU${member})" in s for s in told) and any("Playback(" in s for s in told)
    assert steps(plan, "pbx-rec-answer", "q") == ["Set(MASTER_CHANNEL(PBX_RECU${u})=1)", "Return()"]
    assert check(files) == []


def test_a_forward_by_the_persons_profile_or_status_is_recorded_for_them(recorded):
    _files, plan = dialplan([recorded.tenant.pk])
    assert "Set(PBX_RECFWD=${PBX_PERSON})" in steps(plan, "pbx-person", "fwd")
    assert steps(plan, "pbx-person", "status")[0] == "Set(PBX_RECFWD=${PBX_PERSON})"
    assert "MSet(PBX_STEP=,PBX_RECFWD=)" in steps(plan, "pbx-person")  # a person further on starts afresh
    out = steps(plan, "pbx-recording-hook", "out")
    # the forward is looked at before the calling phone's person: Bob calling Eva, who forwards, is Eva's call
    assert out.index("GotoIf($[\"${u}\" != \"\"]?fwd,1)") < next(i for i, s in enumerate(out) if "PBX_USER" in s)
    fwd = steps(plan, "pbx-recording-hook", "fwd")
    assert fwd[0].startswith('ExecIf($["${PBX_RECK}" = ""]?Set(__PBX_RECK=')  # a forward at once has no kind yet
    assert "Set(PBX_RECFWD=)" in steps(plan, "pbx-recording-hook", "queue")


def test_the_direct_caller_is_told_through_dials_announcement_once_per_call(recorded):
    files, plan = dialplan([recorded.tenant.pk])
    tell = steps(plan, "pbx-recording-hook", "tell")
    assert tell[0] == "Set(PBX_RECOPT=U(${opt}))"  # without an announcement: the decision at answer only
    assert 'MASTER_CHANNEL(PBX_RECHEARD)}" = "1"]?off,1)' in tell[2]  # heard already in this call
    assert tell[3] == "Gosub(pbx-rec-decide,s,1(${t},${u}))"  # would the person be recorded as things stand?
    assert steps(plan, "pbx-recording-hook", "announce")[1] == "Set(PBX_RECOPT=aA(${p}:${p})U(${opt}^a))"
    answer = steps(plan, "pbx-rec-answer")
    assert 'ExecIf($["${how}" = "a"]?Set(MASTER_CHANNEL(PBX_RECHEARD)=1))' in answer
    go = steps(plan, "pbx-rec-answer", "go")
    told = go.index('GotoIf($["${how}" = "a"]?done,1)')
    assert told < next(i for i, s in enumerate(go) if s.startswith("ExecIf(") and "Playback(" in s)
    assert check(files) == []


def test_the_queue_that_always_records_tells_its_caller_once(recorded, alice):
    from pbx.models import Prompt

    prompt = Prompt.objects.create(tenant=recorded.tenant, name="Samtalet spelas in",
                                   sound_name=f"custom/t{recorded.tenant.pk}/prompt-9")
    RecordingSettings.objects.filter(tenant=recorded.tenant).update(announcement=prompt)
    _files, plan = dialplan([recorded.tenant.pk])
    t, support = recorded.tenant.pk, recorded.queues["Support"].pk
    queue = steps(plan, f"t{t}-queue-{support}")
    heard = queue.index('ExecIf($["${PBX_RECT}" != ""]?Set(MASTER_CHANNEL(PBX_RECHEARD)=1))')
    assert queue[heard + 1] == f'ExecIf($["${{PBX_RECT}}" != ""]?Playback({prompt.sound_name}))'


def test_the_shared_decision_follows_the_precedence_and_counts_licences(recorded):
    _files, plan = dialplan([recorded.tenant.pk])
    decide_steps = "\n".join(steps(plan, "pbx-rec-decide") + steps(plan, "pbx-rec-decide", "person"))
    # the order of the checks is the precedence's
    order = ["rec/auto", "rec/x", "/rec)}", '"never"', '"always"', "PBX_RECK", "PBX_RECN"]
    positions = [decide_steps.index(marker) for marker in order]
    assert positions == sorted(positions)
    go = steps(plan, "pbx-rec-answer", "go")
    lock, join, count = (next(i for i, s in enumerate(go) if marker in s)
                         for marker in ("LOCK(pbxrec-", "GROUP(pbxrec)=t", "GROUP_COUNT("))
    assert lock < join < count  # join, then count: never two on the last licence
    assert any(s.startswith("MixMonitor(,b${side}(${f}-person.wav)${other}(${f}-other.wav)") for s in go)
    assert steps(plan, "pbx-person", "ring")[-5].endswith("t${PBX_COPTS}${PBX_RECOPT})")


def test_the_checker_refuses_a_queue_gosub_that_leads_nowhere(recorded):
    files, _plan = dialplan([recorded.tenant.pk])
    broken = dict(files, **{"extensions.conf": files["extensions.conf"].replace(",,pbx-rec-queue)", ",,pbx-rec-nowhere)")})
    assert any("pbx-rec-nowhere" in str(f) for f in check(broken))

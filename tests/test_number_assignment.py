"""Issue #11, finding 4: numbers belong to companies by assignment, not first come, first served.

The platform's operator (a superuser) assigns single numbers and ranges; a company admin adds,
routes and presents only numbers inside its assignments (and verified mobile numbers of its
people). Whatever rows a company holds, the generator leaves an unassigned number out of the
dialplan and the caller ID (AstDB ``cli``).
"""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
from django.apps import apps
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.urls import reverse

from pbx import actions
from pbx.actions.selfservice import caller_id_choices
from pbx.asterisk.apply import apply_node
from pbx.asterisk.astdb import astdb_keys_for
from pbx.asterisk.checker import check
from pbx.asterisk.confgen import render_from_db
from pbx.models import AuditLog, Destination, Number, NumberAssignment
from pbx.numbering import NumberPolicy, usable_number_ids
from pbx.signals import state_changed
from tests.fake_asterisk.pbx_fixtures import *  # noqa: F403 - fake, node, applied
from tests.test_admin_forms import form_data

ARBITRARY = "+46812345678"  # nobody's: the kind of number finding 4 added and presented
EXEMPEL_FREE = "+4682551111"  # inside Exempel AB's block, not in use yet


def client_of(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def cli_of(user) -> str:
    keys = astdb_keys_for("caller_id", user.pk)
    (value,) = keys.values()
    return value


def dialplan() -> str:
    return render_from_db()["extensions.conf"]


# -- adding a number ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("e164", [EXEMPEL_FREE, ARBITRARY])
def test_demo_ab_cannot_add_exempel_abs_or_an_arbitrary_number(alice, demo, exempel, e164):
    form = client_of(alice).post(reverse("admin:pbx_number_add"), {"e164": e164, "kind": "main", "label": "Min"})
    assert form.status_code == 200
    errors = " ".join(form.context["adminform"].form.errors.get("e164", []))
    assert ("belongs to another company" if e164 == EXEMPEL_FREE else "not assigned to your company") in errors
    assert "Exempel" not in errors
    with pytest.raises(ValidationError) as refused:
        actions.do_save_object(alice, Number(tenant=demo.tenant, e164=e164, kind="main"))
    assert "e164" in refused.value.message_dict
    assert not Number.objects.filter(e164=e164).exists()


def test_demo_ab_cannot_take_exempel_abs_number_as_a_mobile_either(alice, demo, exempel, eva):
    with pytest.raises(ValidationError, match="belongs to another company"):
        actions.do_save_object(alice, Number(tenant=demo.tenant, e164=EXEMPEL_FREE, kind="mobile", user=eva))


def test_demo_ab_adds_and_routes_a_number_of_its_own_block(alice, demo):
    number = actions.do_save_object(alice, Number(tenant=demo.tenant, e164="+4681557777", kind="main",
                                                  destination=Destination.objects.filter(tenant=demo.tenant).first()))
    assert number.pk in usable_number_ids([demo.tenant.pk])
    assert "exten => +4681557777,1," in dialplan()


# -- presenting a number --------------------------------------------------------------------------------------


def test_demo_ab_cannot_present_exempel_abs_number(eva, demo, exempel):
    theirs = exempel.main_number
    assert theirs not in caller_id_choices(eva)
    with pytest.raises(PermissionDenied):
        actions.do_set_caller_id(eva, eva, theirs)
    response = client_of(eva).post("/me/caller-id/", {"number": theirs.pk})
    assert response.status_code == 400


def test_a_number_forced_into_the_database_is_never_routed_or_presented(alice, eva, demo):
    """Finding 4's row, written past the form and the action: a number nobody assigned Demo AB."""
    destination = Destination.objects.filter(tenant=demo.tenant).first()
    forced = Number.objects.create(tenant=demo.tenant, e164=ARBITRARY, kind="main", usable_as_caller_id=True,
                                   destination=destination)
    assert forced not in caller_id_choices(eva)
    with pytest.raises(ValidationError):
        actions.do_set_caller_id(eva, eva, forced)
    assert client_of(eva).post("/me/caller-id/", {"number": forced.pk}).status_code == 400
    type(eva).objects.filter(pk=eva.pk).update(caller_id_number=forced)  # forced as well
    assert cli_of(eva) == ""
    text = dialplan()
    assert ARBITRARY not in text
    assert ARBITRARY[3:] not in text  # nor its national forms in from-trunk


def test_the_main_number_presented_by_default_must_be_assigned(demo, superuser):
    main = demo.main_number
    block = NumberAssignment.objects.get(tenant=demo.tenant)
    actions.do_unassign_numbers(superuser, block)
    text = dialplan()
    company = text.split(f"[t{demo.tenant.pk}-dialout]")[1].split("\n[")[0]
    assert main.e164 not in company
    assert f"exten => {main.e164}," not in text


# -- assigning ------------------------------------------------------------------------------------------------


def test_the_superuser_assigns_a_range_and_the_company_can_use_it(superuser, alice, demo, eva):
    assignment = actions.do_assign_numbers(superuser, demo.tenant, "+46812345600", "+46812345699", note="Kampanj")
    assert AuditLog.objects.filter(object_type="pbx.numberassignment", object_id=str(assignment.pk),
                                   actor=superuser, action="created").exists()
    number = actions.do_save_object(alice, Number(tenant=demo.tenant, e164="+46812345678", kind="main",
                                                  usable_as_caller_id=True))
    assert number in caller_id_choices(eva)
    actions.do_set_caller_id(eva, eva, number)
    assert cli_of(eva) == "+46812345678"


def test_the_superuser_assigns_through_the_admin(superuser, demo):
    response = client_of(superuser).post(reverse("admin:pbx_numberassignment_add"), {
        "tenant": demo.tenant.pk, "first": "08-123 456 00", "last": "08-123 456 99", "note": "Ny serie"})
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert NumberAssignment.objects.filter(tenant=demo.tenant, first="+46812345600", last="+46812345699").exists()


def test_a_company_admin_cannot_assign_numbers(alice, carol, demo, exempel):
    with pytest.raises(PermissionDenied):
        actions.do_assign_numbers(alice, demo.tenant, ARBITRARY)
    with pytest.raises(PermissionDenied):
        actions.do_save_object(alice, NumberAssignment(tenant=demo.tenant, first=ARBITRARY))
    block = NumberAssignment.objects.get(tenant=demo.tenant)
    with pytest.raises(PermissionDenied):
        actions.do_unassign_numbers(alice, block)
    block.last = "+4681569999"
    with pytest.raises(PermissionDenied):
        actions.do_save_object(alice, block)
    assert client_of(alice).post(reverse("admin:pbx_numberassignment_add"),
                                 {"first": ARBITRARY}).status_code == 403
    assert not NumberAssignment.objects.filter(first=ARBITRARY).exists()


def test_a_company_admin_sees_only_its_own_assignments(alice, demo, exempel):
    client = client_of(alice)
    listing = client.get(reverse("admin:pbx_numberassignment_changelist"))
    assert listing.status_code == 200
    shown = {str(a) for a in listing.context["cl"].result_list}
    assert shown == {str(NumberAssignment.objects.get(tenant=demo.tenant))}
    theirs = NumberAssignment.objects.get(tenant=exempel.tenant)
    assert client.get(reverse("admin:pbx_numberassignment_change", args=[theirs.pk])).status_code == 302  # "doesn't exist"
    mine = NumberAssignment.objects.get(tenant=demo.tenant)
    response = client.post(reverse("admin:pbx_numberassignment_change", args=[mine.pk]), {"first": ARBITRARY})
    assert response.status_code == 403


def test_two_companies_never_hold_overlapping_numbers(superuser, demo, exempel):
    with pytest.raises(ValidationError, match="assigned to Exempel AB"):
        actions.do_assign_numbers(superuser, demo.tenant, "+4682550500", "+4682560000")
    with pytest.raises(ValidationError, match="as long as the first"):
        actions.do_assign_numbers(superuser, demo.tenant, "+46812345600", "+4681234569")


def test_taking_numbers_back_stops_their_routing_and_caller_id(superuser, eva, demo):
    direct = Number.objects.get(user=eva, kind="direct")
    actions.do_set_caller_id(eva, eva, direct)
    assert cli_of(eva) == direct.e164
    sent = []

    def receiver(sender, tenant_id, kind, object_id, **kwargs):
        sent.append((tenant_id, kind, object_id))

    state_changed.connect(receiver, weak=False)
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr("django.db.transaction.on_commit", lambda fn, *a, **k: fn())
            actions.do_unassign_numbers(superuser, NumberAssignment.objects.get(tenant=demo.tenant))
    finally:
        state_changed.disconnect(receiver)
    assert (demo.tenant.pk, "caller_id", eva.pk) in sent  # the bridge rewrites her AstDB cli now
    assert cli_of(eva) == ""
    assert f"exten => {direct.e164}," not in dialplan()


# -- mobile numbers -------------------------------------------------------------------------------------------


def test_a_mobile_number_is_used_only_once_the_operator_verified_it(alice, eva, demo, superuser):
    mobile = actions.do_save_object(alice, Number(tenant=demo.tenant, e164="+46709998877", kind="mobile", user=eva))
    assert mobile.is_verified is False
    assert mobile not in caller_id_choices(eva)
    assert "+46709998877" not in dialplan()
    mobile.is_verified = True
    with pytest.raises(PermissionDenied):
        actions.do_save_object(alice, mobile)
    with pytest.raises(PermissionDenied):
        actions.do_verify_mobile_number(alice, mobile)
    actions.do_verify_mobile_number(superuser, Number.objects.get(pk=mobile.pk))
    assert Number.objects.get(pk=mobile.pk) in caller_id_choices(eva)
    assert "+46709998877" in dialplan()


def test_a_changed_mobile_number_needs_verifying_again(alice, eva, demo, superuser):
    mobile = actions.do_save_object(alice, Number(tenant=demo.tenant, e164="+46709998877", kind="mobile", user=eva))
    actions.do_verify_mobile_number(superuser, mobile)
    mobile.e164 = "+46709990000"
    actions.do_save_object(alice, mobile)
    assert Number.objects.get(pk=mobile.pk).is_verified is False


def test_a_company_admin_sees_the_verified_flag_but_cannot_set_it(alice, eva, demo):
    mobile = actions.do_save_object(alice, Number(tenant=demo.tenant, e164="+46709998877", kind="mobile", user=eva))
    client = client_of(alice)
    page = client.get(reverse("admin:pbx_number_change", args=[mobile.pk]))
    assert "is_verified" not in page.context["adminform"].form.fields


# -- existing data --------------------------------------------------------------------------------------------


def test_every_demo_number_is_assigned(demo, exempel):
    for company in (demo, exempel):
        numbers = set(Number.objects.filter(tenant=company.tenant).values_list("pk", flat=True))
        assert numbers and numbers == usable_number_ids([company.tenant.pk])


def test_the_migration_assigns_what_each_company_already_has(demo, exempel):
    migration = importlib.import_module("pbx.migrations.0006_trunk_policy_number_assignment")
    mobile = Number.objects.create(tenant=demo.tenant, e164="+46709998877", kind="mobile", user=demo.users[0])
    NumberAssignment.objects.all().delete()
    assert usable_number_ids([demo.tenant.pk, exempel.tenant.pk]) == set()
    migration.assign_existing(apps, None)
    everything = set(Number.objects.values_list("pk", flat=True))
    assert usable_number_ids([demo.tenant.pk, exempel.tenant.pk]) == everything
    assert Number.objects.get(pk=mobile.pk).is_verified is True
    assert not NumberAssignment.objects.filter(first=mobile.e164).exists()


# -- the checker, independently of the generator ---------------------------------------------------------------


def forced_files(demo) -> dict[str, str]:
    """Demo AB's generated files with ARBITRARY forced in by hand: routed, sent from from-trunk, shown."""
    files = render_from_db()
    t, main = demo.tenant.pk, demo.main_number.e164
    text = files["extensions.conf"]
    text = text.replace(f"[t{t}-inbound]\n", f"[t{t}-inbound]\nexten => {ARBITRARY},1,Goto(t{t}-hangup,s,1)\n", 1)
    text = text.replace("[from-trunk]\n", f"[from-trunk]\nexten => {ARBITRARY},1,Goto(t{t}-inbound,{ARBITRARY},1)\n", 1)
    dialout = text.index(f"[t{t}-dialout]")
    text = text[:dialout] + text[dialout:].replace(f"?{main}:", f"?{ARBITRARY}:", 1)
    files["extensions.conf"] = text
    return files


def test_the_checker_refuses_a_number_forced_into_the_dialplan(demo, exempel):
    policy = NumberPolicy.from_db()
    assert [f for f in check(render_from_db(), numbers=policy) if f.code == "unassigned-number"] == []
    findings = [str(f) for f in check(forced_files(demo), numbers=policy) if f.code == "unassigned-number"]
    t = demo.tenant.pk
    assert len(findings) == 3, findings
    assert any(f"{ARBITRARY} is routed by company {t}" in f for f in findings)
    assert sum(f"{ARBITRARY} reaches company {t}" in f for f in findings) == 2  # from-trunk and caller ID


def test_the_checker_refuses_exempel_abs_number_routed_by_demo_ab(demo, exempel):
    files = render_from_db()
    t, theirs = demo.tenant.pk, exempel.main_number.e164
    files["extensions.conf"] = files["extensions.conf"].replace(
        f"[t{t}-inbound]\n", f"[t{t}-inbound]\nexten => {theirs},1,Goto(t{t}-hangup,s,1)\n", 1)
    findings = [str(f) for f in check(files, numbers=NumberPolicy.from_db()) if f.code == "unassigned-number"]
    assert findings and theirs in findings[0]


# -- to the fake Asterisk -------------------------------------------------------------------------------------


def test_an_assigned_number_reaches_asterisk_and_leaves_it_when_taken_back(applied, fake, superuser, alice, demo):
    block = actions.do_assign_numbers(superuser, demo.tenant, "+46812345600", "+46812345699")
    destination = Destination.objects.filter(tenant=demo.tenant, kind="user").first()
    actions.do_save_object(alice, Number(tenant=demo.tenant, e164="+46812345678", kind="main", destination=destination))
    assert apply_node(applied, tenant_ids=[demo.tenant.pk]).ok
    added = {(r.get("Context"), r.get("Extension")) for r in fake.ami.actions("DialplanExtensionAdd")}
    assert (f"t{demo.tenant.pk}-inbound", "+46812345678") in added
    fake.ami.received.clear()
    actions.do_unassign_numbers(superuser, block)
    result = apply_node(applied, tenant_ids=[demo.tenant.pk])
    assert result.ok, result.message
    removed = {(r.get("Context"), r.get("Extension")) for r in fake.ami.actions("DialplanExtensionRemove")}
    assert (f"t{demo.tenant.pk}-inbound", "+46812345678") in removed
    assert "+46812345678" not in (Path(applied.generated_dir) / "extensions.conf").read_text()


def test_a_company_admin_cannot_give_a_person_an_unassigned_caller_id_in_the_admin(alice, eva, demo):
    forced = Number.objects.create(tenant=demo.tenant, e164=ARBITRARY, kind="main", usable_as_caller_id=True)
    client = client_of(alice)
    url = reverse("admin:pbx_user_change", args=[eva.pk])
    response = client.post(url, form_data(client.get(url), caller_id_number=str(forced.pk)))
    assert response.status_code == 200
    assert "cannot be this person's caller ID" in " ".join(response.context["adminform"].form.errors["caller_id_number"])
    eva.refresh_from_db()
    assert eva.caller_id_number is None
    main = demo.main_number
    response = client.post(url, form_data(client.get(url), caller_id_number=str(main.pk)))
    assert response.status_code == 302
    eva.refresh_from_db()
    assert eva.caller_id_number == main

"""One set of strict validators at the edge (issue #11, findings 2 and 5), told as sentences.

The forms, the actions and the generators refuse the same values with the same patterns and limits
(pbx/validators.py); what the forms cannot know (a forward to a number that is nobody, an e-mail
Asterisk cannot carry) is said on the form, not found at apply time.
"""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from pbx import actions
from pbx.asterisk.checker import check, check_changes
from pbx.asterisk.confgen import render_from_db
from pbx.asterisk.confgen import writer as w
from pbx.asterisk.confgen.parse import expanded, parse_conf
from pbx.models import Conference, Destination, ForwardingProfile, Number, SipTrunk, Tenant, User, VoicemailBox
from pbx.validators import TRUNK_HOST_MAX_LENGTH, validate_e164, validate_extension, validate_pin


def admin_url(model, view: str, *args) -> str:
    return reverse(f"admin:pbx_{model._meta.model_name}_{view}", args=args)


def form_errors(response) -> str:
    assert response.status_code == 200, "expected the form again, with errors"
    return " ".join(str(e) for errors in response.context["adminform"].form.errors.values() for e in errors)


@pytest.fixture
def as_alice(client, alice):
    client.force_login(alice)
    return client


# -- \Z, not $: a trailing newline is refused everywhere ---------------------------------------------


def test_an_extension_with_a_trailing_newline_is_refused_by_the_action(alice, demo):
    with pytest.raises(ValidationError) as refused:
        actions.do_create_user(alice, demo.tenant, email="nils@demo.example", extension="1088\n")
    assert "extension" in refused.value.message_dict
    assert not User.objects.filter(email="nils@demo.example").exists()


def test_a_conference_pin_with_a_trailing_newline_is_refused_by_the_action(alice, demo):
    with pytest.raises(ValidationError) as refused:
        actions.do_save_object(alice, Conference(tenant=demo.tenant, name="Styrelsen", extension="7100",
                                                 pin="1099\n"))
    assert refused.value.message_dict["pin"] == ["A PIN is 4–12 digits."]
    assert not Conference.objects.filter(extension="7100").exists()


def test_a_device_secret_with_a_line_break_is_refused_by_the_action(alice, eva):
    with pytest.raises(ValidationError) as refused:
        actions.do_create_device(alice, eva, secret="s3cret\n[general]")
    assert "secret" in refused.value.message_dict


@pytest.mark.parametrize("validator, write, good, bad", [
    (validate_extension, w.extension, ["10", "12345678"], ["1", "123456789", "1088\n", "10 8", "١٠٨٨"]),
    (validate_pin, w.pin, ["1099", "123456789012"], ["123", "1234567890123", "1099\n", "1099 "]),
    (validate_e164, w.e164, ["+46812345678"], ["+46812345678\n", "46812345678", "+0812345678"]),
])
def test_the_generator_writes_exactly_what_the_form_takes(validator, write, good, bad):
    for value in good:
        validator(value)
        assert write(value, "test") == value
    for value in bad:
        with pytest.raises(ValidationError):
            validator(value)
        with pytest.raises(w.ConfigError):
            write(value, "test")


def test_a_trunk_host_of_the_longest_valid_length_is_rendered_and_checked(alice, demo):
    host = ".".join(["a" * 63, "b" * 33, "se"])
    assert len(host) == TRUNK_HOST_MAX_LENGTH
    trunk = actions.do_save_object(alice, SipTrunk(tenant=demo.tenant, name="Lång", host=host))
    files = render_from_db(tenant_ids=[demo.tenant.pk])
    assert check(files) == []
    aor = next(v for s, v in expanded(parse_conf(files["pjsip.conf"]))
               if s.name == f"t{demo.tenant.pk}-trunk-{trunk.pk}" and v.get("type") == ["aor"])
    assert aor["contact"] == [f"sip:{host}"]


def test_a_trunk_host_one_longer_is_refused_on_the_form_and_by_the_generator(as_alice, alice, demo):
    host = ".".join(["a" * 63, "b" * 34, "se"])
    response = as_alice.post(admin_url(SipTrunk, "add"), {"name": "Lång", "host": host})
    assert f"A host name has at most {TRUNK_HOST_MAX_LENGTH} characters." in form_errors(response)
    trunk = actions.do_save_object(alice, SipTrunk(tenant=demo.tenant, name="Lång", host="sip.operator.se"))
    SipTrunk.objects.filter(pk=trunk.pk).update(host=host)  # past the form, as an old row could be
    with pytest.raises(w.ConfigError, match="at most 100 characters"):
        render_from_db(tenant_ids=[demo.tenant.pk])


# -- the checker: no control character in any generated value -----------------------------------------


@pytest.mark.parametrize("char", ["\r", "\x0b", "\x0c", "\x1b", "\x00", "\x85", "\u2028"])
def test_the_checker_refuses_a_control_character_in_any_generated_value(demo, char):
    files = render_from_db(tenant_ids=[demo.tenant.pk])
    assert check(files) == []
    broken = dict(files, **{"confbridge.conf": files["confbridge.conf"] + f"\n[x-bridge]\ntype = bridge\nlanguage = sv{char}\n"})
    broken["voicemail.conf"] = broken["voicemail.conf"].replace(",attach=", f",{char}attach=", 1)
    codes = {(f.file, f.code) for f in check(broken)}
    assert ("confbridge.conf", "control-character") in codes and ("voicemail.conf", "control-character") in codes
    assert {(f.file, f.code) for f in check_changes(files, broken)} >= {("confbridge.conf", "control-character")}


# -- clear errors on the form (finding 5) ---------------------------------------------------------------


def test_a_forward_to_a_number_that_is_nobody_is_refused_on_the_number_form(as_alice, demo):
    response = as_alice.post(admin_url(Number, "add"), {"e164": "+4681559770", "kind": "reserved",
                                                        "forward_to": "1099"})
    assert "1099 is nobody in this company and not an outside number" in form_errors(response)
    assert not Number.objects.filter(e164="+4681559770").exists()


@pytest.mark.parametrize("target", ["1002", "070-123 45 67", "+4670 123 45 67", "112"])
def test_a_forward_to_a_colleague_an_outside_number_or_an_emergency_number_is_taken(as_alice, demo, target):
    response = as_alice.post(admin_url(Number, "add"), {"e164": "+4681559770", "kind": "reserved",
                                                        "forward_to": target})
    assert response.status_code == 302
    assert check(render_from_db(tenant_ids=[demo.tenant.pk])) == []


def test_a_forward_to_another_companys_extension_is_refused(as_alice, demo, exempel, carol):
    User.objects.filter(pk=carol.pk).update(extension="1099")  # 1099 is somebody, but not in Demo AB
    response = as_alice.post(admin_url(Number, "add"), {"e164": "+4681559770", "kind": "reserved",
                                                        "forward_to": "1099"})
    assert "1099 is nobody in this company" in form_errors(response)


def test_an_external_destination_that_is_nobody_is_refused_on_the_destination_form(as_alice, demo):
    response = as_alice.post(admin_url(Destination, "add"), {"kind": "external", "external_number": "1099",
                                                             "label": "Fel"})
    assert "1099 is nobody in this company" in form_errors(response)
    assert not Destination.objects.filter(label="Fel").exists()


def test_a_personal_forward_to_a_number_that_is_nobody_is_refused_in_the_user_web(client, eva):
    client.force_login(eva)
    profile = ForwardingProfile.objects.filter(user=eva).first()
    rule = {"action": "forward", "forward_number": "1099", "no_answer_seconds": "20", "on_no_answer": "voicemail",
            "no_answer_number": "", "on_busy": "voicemail", "busy_number": "", "on_unreachable": "voicemail",
            "unreachable_number": ""}
    other = dict(rule, action="ring", forward_number="")
    data = {"name": profile.name, "activation": "manual", "schedule": "",
            **{f"fixed-{k}": v for k, v in rule.items()}, **{f"mobile-{k}": v for k, v in other.items()}}
    response = client.post(f"/me/profiles/{profile.pk}/", data)
    assert response.status_code == 400
    assert "1099 is nobody in this company" in response.content.decode()
    assert not profile.rules.filter(forward_number="1099").exists()


def test_a_voicemail_email_asterisk_cannot_carry_is_refused_on_the_form(as_alice, demo):
    response = as_alice.post(admin_url(VoicemailBox, "add"), {"number": "850", "name": "Kundtjänst", "kind": "shared",
                                                              "pin": "8501", "email": '"x"@demo.example'})
    assert 'Voicemail cannot be sent to "x"@demo.example' in form_errors(response)
    assert not VoicemailBox.objects.filter(number="850").exists()


def test_a_plain_voicemail_email_is_kept_as_typed(alice, demo):
    box = actions.do_save_object(alice, VoicemailBox(tenant=demo.tenant, number="850", name="Kundtjänst",
                                                     kind="shared", pin="8501", email="kund.tjanst+vm@demo.example"))
    box.refresh_from_db()
    assert box.email == "kund.tjanst+vm@demo.example"


@pytest.mark.parametrize("field, value, words", [
    ("emergency_numbers", "112,9 0000", "9 0000 is not an emergency number"),
    ("emergency_numbers", "112\n", "Line breaks and control characters are not allowed"),
    ("country_code", "+46", "A country calling code is 1–4 digits"),
])
def test_a_superuser_is_told_about_a_wrong_emergency_number_or_country_code(client, superuser, demo, field, value,
                                                                            words):
    tenant = Tenant.objects.get(pk=demo.tenant.pk)
    setattr(tenant, field, value)
    with pytest.raises(ValidationError) as refused:
        actions.do_save_object(superuser, tenant)
    assert words in " ".join(refused.value.message_dict[field])

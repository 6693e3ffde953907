"""Admin forms explain bad input in plain words, save through the actions, and never escalate."""

from __future__ import annotations

import time
import wave

import pytest
from django import forms
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from pbx.demo import tone_wav
from pbx.models import (
    AuditLog,
    Department,
    Destination,
    Device,
    ForwardingRule,
    IvrOption,
    Number,
    Prompt,
    Queue,
    SipTrunk,
    Tenant,
    User,
    UserPresence,
    VoicemailBox,
)


def url(model, view: str, *args) -> str:
    return reverse(f"admin:pbx_{model._meta.model_name}_{view}", args=args)


def form_data(response, **changes) -> dict:
    """What a browser would post back for the form on ``response``, with ``changes`` applied."""
    data = {}
    forms_ = [response.context["adminform"].form]
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        data |= {f"{formset.prefix}-{k}": v for k, v in formset.management_form.initial.items()}
        forms_ += formset.forms
    for form in forms_:
        for name, field in form.fields.items():
            value = form[name].value()
            key = form.add_prefix(name)
            if isinstance(field, forms.BooleanField):
                if value:
                    data[key] = "on"
            elif isinstance(value, list | tuple):
                data[key] = [str(v) for v in value]
            elif value is not None:
                data[key] = str(value)
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return data


def errors_of(response) -> str:
    assert response.status_code == 200, "expected the form again, with errors"
    form = response.context["adminform"].form
    texts = [str(e) for errors in form.errors.values() for e in errors]
    for inline in response.context["inline_admin_formsets"]:
        texts += [str(e) for row in inline.formset.errors for errors in row.values() for e in errors]
        texts += [str(e) for e in inline.formset.non_form_errors()]
    return " ".join(texts)


@pytest.fixture
def as_alice(client, alice):
    client.force_login(alice)
    return client


# Numbers ------------------------------------------------------------------------------------

def test_it_saves_a_number_typed_the_swedish_way_in_international_form(as_alice, alice, demo):
    response = as_alice.post(url(Number, "add"), {"e164": "08-155 12 34", "kind": "reserved", "label": "Kampanj",
                                                  "forward_to": "070-123 45 67"})
    assert response.status_code == 302
    number = Number.objects.get(e164="+4681551234")
    assert number.tenant == demo.tenant
    assert number.forward_to == "+46701234567"
    entry = AuditLog.objects.get(object_type="pbx.number", object_id=str(number.pk))
    assert entry.actor == alice and entry.action == "created" and entry.after["e164"] == "+4681551234"


@pytest.mark.parametrize("typed", ["08-CALL-NOW", "+46 8 12x 456", "070–123 45 67"])
def test_it_refuses_a_number_with_letters_in_plain_words(as_alice, typed):
    response = as_alice.post(url(Number, "add"), {"e164": typed, "kind": "main"})
    assert "digits only" in errors_of(response)
    assert not Number.objects.filter(label="", e164__contains="CALL").exists()


def test_it_refuses_a_destination_of_another_company(as_alice, exempel):
    theirs = Destination.objects.filter(tenant=exempel.tenant).first()
    response = as_alice.post(url(Number, "add"), {"e164": "+46812345679", "kind": "main", "destination": theirs.pk})
    assert "Select a valid choice" in errors_of(response)
    assert not Number.objects.filter(e164="+46812345679").exists()


def test_it_tells_a_superuser_that_a_destination_belongs_to_another_company(client, superuser, demo, exempel):
    client.force_login(superuser)
    theirs = Destination.objects.filter(tenant=exempel.tenant).first()
    response = client.post(url(Number, "add"), {"tenant": demo.tenant.pk, "e164": "+46812345679", "kind": "main",
                                                "destination": theirs.pk})
    assert "belongs to another company" in errors_of(response)
    assert not Number.objects.filter(e164="+46812345679").exists()


# Uniqueness inside the company ----------------------------------------------------------------

def test_it_refuses_a_duplicate_extension_in_plain_words(as_alice, eva, bob):
    page = as_alice.get(url(User, "change", eva.pk))
    response = as_alice.post(url(User, "change", eva.pk), form_data(page, extension=bob.extension))
    assert response.context["adminform"].form.errors["extension"] == ["This extension is already taken in the company."]
    eva.refresh_from_db()
    assert eva.extension != bob.extension


def test_it_refuses_a_duplicate_queue_extension_and_a_duplicate_name(as_alice, demo):
    response = as_alice.post(url(Queue, "add"), form_data(as_alice.get(url(Queue, "add")), name="support",
                                                           extension=demo.queues["Support"].extension))
    errors = response.context["adminform"].form.errors
    assert errors["extension"] == ["This extension is already taken in the company."]
    assert errors["name"] == ["Another queue in the company already has this name."]


def test_another_company_may_use_the_same_extension_and_name(client, carol, exempel, demo):
    client.force_login(carol)
    response = client.post(url(Department, "add"), {"name": "Ekonomi"})
    assert response.status_code == 302
    response = client.post(url(Department, "add"), {"name": "Ekonomi"})
    assert "Another department in the company already has this name." in errors_of(response)
    assert Department.objects.filter(name="Ekonomi", tenant=exempel.tenant).count() == 1


# References and many-to-many choices ----------------------------------------------------------

def test_it_refuses_a_voicemail_member_of_another_company(as_alice, demo, dave):
    box = VoicemailBox.objects.get(tenant=demo.tenant, kind="shared")
    page = as_alice.get(url(VoicemailBox, "change", box.pk))
    members = [str(pk) for pk in box.members.values_list("pk", flat=True)]
    response = as_alice.post(url(VoicemailBox, "change", box.pk), form_data(page, members=[*members, str(dave.pk)]))
    assert "Select a valid choice" in errors_of(response)
    assert not box.members.filter(pk=dave.pk).exists()


def test_it_tells_a_superuser_that_a_member_belongs_to_another_company(client, superuser, demo, dave):
    client.force_login(superuser)
    box = VoicemailBox.objects.get(tenant=demo.tenant, kind="shared")
    page = client.get(url(VoicemailBox, "change", box.pk))
    response = client.post(url(VoicemailBox, "change", box.pk), form_data(page, members=[str(dave.pk)]))
    assert f"{dave} belongs to another company" in errors_of(response)
    assert not box.members.filter(pk=dave.pk).exists()


def test_it_refuses_recording_departments_of_another_company(as_alice, eva, exempel):
    theirs = Department.objects.filter(tenant=exempel.tenant).first()
    page = as_alice.get(url(User, "change", eva.pk))
    response = as_alice.post(url(User, "change", eva.pk), form_data(page, recording_departments=[str(theirs.pk)]))
    assert "Select a valid choice" in errors_of(response)
    assert not eva.recording_departments.exists()


# Names that would break generated files ---------------------------------------------------------

@pytest.mark.parametrize("model", [Department, Queue])
def test_it_refuses_a_name_with_a_line_break(as_alice, model):
    data = form_data(as_alice.get(url(model, "add")), name="Sälj\n[t2-inbound]", extension="299")
    response = as_alice.post(url(model, "add"), data)
    assert "Line breaks and control characters are not allowed here." in errors_of(response)
    assert not model.objects.filter(name__startswith="Sälj").exists()


# Prompts --------------------------------------------------------------------------------------

@pytest.mark.parametrize(("filename", "content"), [
    ("hej.wav", "Hej! Det här är ingen ljudfil.\n".encode() * 20),
    ("brus.mp3", bytes(range(256)) * 16),
    ("tom.wav", b""),
])
def test_it_refuses_an_upload_that_is_not_audio_in_plain_words(as_alice, demo, filename, content):
    prompts = Prompt.objects.count()
    response = as_alice.post(url(Prompt, "add"), {"name": "Hälsning",
                                                  "audio_file": SimpleUploadedFile(filename, content)})
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["audio_file"][0]
    assert "not an audio file" in errors or "empty" in errors
    assert Prompt.objects.count() == prompts


def test_it_converts_an_uploaded_prompt_and_shows_its_duration(as_alice, demo, django_capture_on_commit_callbacks):
    start = time.time()
    with django_capture_on_commit_callbacks(execute=True):
        response = as_alice.post(url(Prompt, "add"), {
            "name": "Stängt", "audio_file": SimpleUploadedFile("stangt.wav", tone_wav(0.5), "audio/wav")})
    assert response.status_code == 302
    prompt = Prompt.objects.get(tenant=demo.tenant, name="Stängt")
    assert 450 <= prompt.duration_ms <= 550
    sound_file = settings.ASTERISK_SOUNDS_DIR / f"t{demo.tenant.pk}" / f"prompt-{prompt.pk}.wav"
    assert sound_file.stat().st_mtime >= start
    with wave.open(str(sound_file)) as sound:
        assert sound.getframerate() == 8000
    page = as_alice.get(url(Prompt, "change", prompt.pk))
    assert b"0.5 s" in page.content


# Audit --------------------------------------------------------------------------------------

def test_an_admin_change_writes_an_audit_row_with_before_and_after(as_alice, alice, demo):
    queue = demo.queues["Sales"]
    page = as_alice.get(url(Queue, "change", queue.pk))
    response = as_alice.post(url(Queue, "change", queue.pk), form_data(page, name="Försäljning"))
    assert response.status_code == 302
    entry = AuditLog.objects.filter(object_type="pbx.queue", object_id=str(queue.pk)).latest("id")
    assert (entry.actor, entry.action, entry.tenant_id) == (alice, "changed", demo.tenant.pk)
    assert entry.before["name"] == "Sales" and entry.after["name"] == "Försäljning"


def test_inline_rows_are_saved_and_audited_with_their_parent(as_alice, alice, demo):
    menu = demo.menu
    page = as_alice.get(url(type(menu), "change", menu.pk))
    destination = menu.options.first().destination
    data = form_data(page)
    n = int(data["options-TOTAL_FORMS"])
    data |= {"options-TOTAL_FORMS": str(n + 1), f"options-{n}-digit": "5",
             f"options-{n}-destination": str(destination.pk)}
    response = as_alice.post(url(type(menu), "change", menu.pk), data)
    assert response.status_code == 302
    option = IvrOption.objects.get(menu=menu, digit="5")
    assert option.tenant_id == demo.tenant.pk
    assert AuditLog.objects.filter(object_type="pbx.ivroption", object_id=str(option.pk), actor=alice,
                                   action="created").exists()


def test_deleting_in_the_admin_is_audited(as_alice, alice, demo):
    department = Department.objects.create(tenant=demo.tenant, name="Tillfällig")
    other = Department.objects.create(tenant=demo.tenant, name="Också tillfällig")
    response = as_alice.post(url(Department, "delete", department.pk), {"post": "yes"})
    assert response.status_code == 302
    response = as_alice.post(url(Department, "changelist"),
                             {"action": "delete_selected", "_selected_action": [other.pk], "post": "yes"})
    assert response.status_code == 302
    assert not Department.objects.filter(pk__in=[department.pk, other.pk]).exists()
    deleted = AuditLog.objects.filter(object_type="pbx.department", action="deleted", actor=alice)
    assert set(deleted.values_list("object_id", flat=True)) == {str(department.pk), str(other.pk)}


def test_the_audit_log_is_read_only_even_for_a_superuser(client, as_alice, superuser, demo):
    entry = AuditLog.objects.filter(tenant=demo.tenant).first()
    assert as_alice.get(url(AuditLog, "change", entry.pk)).status_code == 200
    assert as_alice.post(url(AuditLog, "change", entry.pk), {"action": "forged"}).status_code == 403
    assert as_alice.get(url(AuditLog, "add")).status_code == 403
    client.force_login(superuser)
    assert client.get(url(AuditLog, "add")).status_code == 403
    assert client.post(url(AuditLog, "delete", entry.pk), {"post": "yes"}).status_code == 403
    entry.refresh_from_db()
    assert entry.action != "forged"


# People and privileges --------------------------------------------------------------------

def test_a_company_admin_cannot_make_anyone_superuser_or_move_them(as_alice, alice, eva, exempel):
    page = as_alice.get(url(User, "change", eva.pk))
    form = page.context["adminform"].form
    assert not {"is_superuser", "is_staff", "groups", "user_permissions", "tenant", "password"} & set(form.fields)
    data = form_data(page, is_superuser="on", is_staff="on", tenant=str(exempel.tenant.pk))
    assert as_alice.post(url(User, "change", eva.pk), data).status_code == 302
    page = as_alice.get(url(User, "change", alice.pk))
    assert as_alice.post(url(User, "change", alice.pk), form_data(page, is_superuser="on")).status_code == 302
    for person in (eva, alice):
        person.refresh_from_db()
        assert not person.is_superuser
    assert eva.tenant_id == alice.tenant_id and not eva.is_staff


def test_staff_access_follows_the_company_admin_role(as_alice, eva):
    page = as_alice.get(url(User, "change", eva.pk))
    as_alice.post(url(User, "change", eva.pk), form_data(page, is_company_admin="on"))
    eva.refresh_from_db()
    assert eva.is_company_admin and eva.is_staff


def test_a_company_admin_sees_no_password_hash_but_a_link_to_change_it(as_alice, alice, eva):
    page = as_alice.get(url(User, "change", eva.pk))
    assert eva.password.encode() not in page.content
    assert b"md5$" not in page.content and b"pbkdf2" not in page.content
    password_page = reverse("admin:auth_user_password_change", args=[eva.pk])
    assert password_page.encode() in page.content
    response = as_alice.post(password_page, {"password1": "Nytt-Lösen-2026!", "password2": "Nytt-Lösen-2026!",
                                             "usable_password": "true"})
    assert response.status_code == 302
    eva.refresh_from_db()
    assert eva.check_password("Nytt-Lösen-2026!")
    entry = AuditLog.objects.filter(object_type="pbx.user", object_id=str(eva.pk)).latest("id")
    assert entry.actor == alice and entry.after["password"] == "***"


def test_a_new_user_is_created_through_do_create_user(as_alice, alice, demo):
    response = as_alice.post(url(User, "add"), {
        "email": "Nora@Demo.example", "first_name": "Nora", "last_name": "Nilsson", "extension": "1050",
        "direct_number": "08-155 10 50", "is_company_admin": "on",
        "usable_password": "true", "password1": "Nora-Lösen-2026!", "password2": "Nora-Lösen-2026!",
    })
    assert response.status_code == 302
    nora = User.objects.get(email="nora@demo.example")
    assert nora.tenant == demo.tenant and nora.is_staff and not nora.is_superuser
    assert nora.direct_number == "+4681551050"
    assert UserPresence.objects.filter(user=nora).exists()  # only do_create_user makes it
    assert AuditLog.objects.filter(object_type="pbx.user", object_id=str(nora.pk), action="created",
                                   actor=alice).exists()


def test_it_explains_that_the_user_licences_are_used_up(as_alice, demo):
    demo.tenant.max_users = User.objects.filter(tenant=demo.tenant).count()
    demo.tenant.save(update_fields=["max_users"])
    response = as_alice.post(url(User, "add"), {"email": "extra@demo.example", "usable_password": "false"})
    assert f"used all its user licences ({demo.tenant.max_users})" in errors_of(response)
    assert not User.objects.filter(email="extra@demo.example").exists()


def test_a_company_admin_changes_only_name_time_zone_language_and_two_factor_rules_of_the_company(as_alice, demo):
    tenant = demo.tenant
    page = as_alice.get(url(type(tenant), "change", tenant.pk))
    assert set(page.context["adminform"].form.fields) == {
        "name", "time_zone", "language", "mfa_required_admins", "mfa_required_operators", "mfa_required_recording"}
    response = as_alice.post(url(type(tenant), "change", tenant.pk), {
        "name": "Demo Aktiebolag", "time_zone": "Europe/Helsinki", "language": "en", "mfa_required_operators": "on",
        "max_users": 9999, "slug": "kapad", "max_recording_channels": 99,
    })
    assert response.status_code == 302
    tenant.refresh_from_db()
    assert (tenant.name, tenant.time_zone, tenant.language) == ("Demo Aktiebolag", "Europe/Helsinki", "en")
    assert tenant.mfa_required_operators and not tenant.mfa_required_admins
    assert (tenant.slug, tenant.max_users, tenant.max_recording_channels) == ("demo", 50, 4)


def test_only_a_superuser_creates_companies_and_asterisk_nodes(client, as_alice, superuser):
    assert as_alice.get(reverse("admin:pbx_tenant_add")).status_code == 403
    assert as_alice.get(reverse("admin:pbx_asterisknode_add")).status_code == 403
    client.force_login(superuser)
    response = client.post(reverse("admin:pbx_tenant_add"), {
        "name": "Tredje AB", "slug": "tredje", "time_zone": "Europe/Stockholm", "language": "sv",
        "country_code": "46", "is_active": "on", "max_users": 10, "max_recording_channels": 0,
        "recording_retention_days": 92, "emergency_numbers": "112,90000",
    })
    assert response.status_code == 302
    tenant = Tenant.objects.get(slug="tredje")
    assert AuditLog.objects.filter(tenant=tenant, action="created", actor=superuser).exists()


def test_only_a_superuser_shares_a_trunk_with_every_company(as_alice, demo):
    response = as_alice.post(url(SipTrunk, "add"), {"name": "Egen", "host": "sip.example.net", "register": "on",
                                                    "is_enabled": "on", "is_shared": "on"})
    assert response.status_code == 302
    assert SipTrunk.objects.get(tenant=demo.tenant, name="Egen").is_shared is False


# Devices --------------------------------------------------------------------------------------

def test_the_sip_password_is_shown_on_the_device_page_and_masked_in_the_list(as_alice, bob):
    device = Device.objects.filter(user=bob).first()
    page = as_alice.get(url(Device, "change", device.pk))
    assert device.secret.encode() in page.content
    assert device.endpoint.encode() in page.content
    listing = as_alice.get(url(Device, "changelist"))
    assert device.secret.encode() not in listing.content
    assert device.endpoint.encode() in listing.content  # the SIP user name a phone is set up with


def test_it_regenerates_the_sip_password_with_an_admin_action(as_alice, alice, bob):
    device = Device.objects.filter(user=bob).first()
    old = device.secret
    response = as_alice.post(url(Device, "changelist"), {"action": "regenerate_secret", "_selected_action": [device.pk]})
    assert response.status_code == 302
    device.refresh_from_db()
    assert device.secret != old and len(device.secret) >= 32
    entry = AuditLog.objects.get(object_type="pbx.device", object_id=str(device.pk), action="secret_regenerated")
    assert entry.actor == alice and old not in str(entry.before) + str(entry.after)


def test_a_new_device_is_created_through_do_create_device(as_alice, alice, eva):
    response = as_alice.post(url(Device, "add"), {"user": eva.pk, "kind": "soft", "label": "Mobilapp",
                                                  "is_enabled": "on"})
    assert response.status_code == 302
    device = Device.objects.get(user=eva, label="Mobilapp")
    assert device.tenant_id == eva.tenant_id
    assert AuditLog.objects.filter(object_type="pbx.device", object_id=str(device.pk), action="created",
                                   actor=alice).exists()


def test_the_site_is_called_vaxel_admin(as_alice):
    page = as_alice.get(reverse("admin:index"))
    assert page.context["site_header"] == "Växel admin"
    assert "| Växel admin</title>" in page.content.decode()


def test_a_prompt_file_is_read_from_the_bytes_not_the_name(as_alice):
    # An mp3 name on wav bytes is fine: ffmpeg looks at the content.
    response = as_alice.post(url(Prompt, "add"), {"name": "Kö", "audio_file": SimpleUploadedFile(
        "ko.mp3", tone_wav(0.3))})
    assert response.status_code == 302
    assert Prompt.objects.filter(name="Kö").exists()


def test_a_number_box_shows_the_number_the_swedish_way_and_saving_it_back_changes_nothing(as_alice, bob):
    from django.contrib.admin.models import LogEntry

    from pbx.phone_format import format_number

    direct, mobile = bob.direct_number, bob.mobile_number
    page = as_alice.get(url(User, "change", bob.pk))
    html = page.content.decode()
    for name, number in (("direct_number", direct), ("mobile_number", mobile)):
        shown = format_number(number)
        assert shown.startswith("0") and f'name="{name}" value="{shown}"' in html

    # What the browser sends back: the boxes as shown.
    response = as_alice.post(url(User, "change", bob.pk), form_data(
        page, direct_number=format_number(direct), mobile_number=format_number(mobile)))
    assert response.status_code == 302
    bob.refresh_from_db()
    assert (bob.direct_number, bob.mobile_number) == (direct, mobile)
    assert LogEntry.objects.filter(object_id=str(bob.pk)).latest("pk").get_change_message() == "No fields changed."

    # A new number typed the Swedish way is a change, stored as E.164.
    response = as_alice.post(url(User, "change", bob.pk), form_data(page, mobile_number="070-765 43 21"))
    assert response.status_code == 302
    bob.refresh_from_db()
    assert bob.mobile_number == "+46707654321"
    assert "Mobile number" in LogEntry.objects.filter(object_id=str(bob.pk)).latest("pk").get_change_message()


def test_a_forwarding_rule_on_my_pages_shows_its_number_the_swedish_way(client, eva):
    from pbx.phone_format import format_number

    rule = ForwardingRule.objects.filter(profile__user=eva).exclude(forward_number="").first()
    assert rule is not None
    client.force_login(eva)
    html = client.get(f"/me/profiles/{rule.profile_id}/").content.decode()
    assert f'value="{format_number(rule.forward_number)}"' in html
    assert f'value="{rule.forward_number}"' not in html

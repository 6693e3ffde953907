"""Rendering the two-company world from the database: determinism, scope, few queries, commands."""

from __future__ import annotations

import datetime

import pytest
from django.core.management import call_command
from django.db import transaction

from pbx import models as m
from pbx.asterisk.confgen import GENERATORS, load_snapshot, render, render_from_db
from pbx.asterisk.confgen.parse import context_blocks


def test_the_same_database_renders_byte_identical_files(demo, exempel):
    assert render_from_db() == render_from_db()


def test_it_renders_every_file_the_base_config_includes(demo):
    assert set(render_from_db()) == {
        "confbridge.conf", "extensions.conf", "features.conf", "musiconhold.conf", "pjsip.conf", "queues.conf",
        "voicemail.conf",
    }


def test_it_loads_the_snapshot_in_a_few_queries_whatever_the_size(demo, exempel, django_assert_max_num_queries):
    # 19, plus the recording policy's three (recording.models) when a company records.
    with django_assert_max_num_queries(22):
        snapshot = load_snapshot()
    assert [t.id for t in snapshot.tenants] == sorted([demo.tenant.pk, exempel.tenant.pk])


def test_every_context_of_a_company_is_named_from_its_id_not_its_name(demo):
    text = render_from_db(tenant_ids=[demo.tenant.pk])["extensions.conf"]
    contexts = [name for name in context_blocks(text) if name]
    prefix = f"t{demo.tenant.pk}-"
    assert all(name.startswith(prefix) or name.startswith("pbx-") or name == "from-trunk" for name in contexts)
    assert "Demo" not in text and "demo" not in text


def test_tenant_option_renders_only_that_company(demo, exempel):
    files = render_from_db(tenant_ids=[exempel.tenant.pk])
    assert f"[t{exempel.tenant.pk}-internal]" in files["extensions.conf"]
    assert f"[t{demo.tenant.pk}-internal]" not in files["extensions.conf"]
    assert f"t{demo.tenant.pk}-" not in files["pjsip.conf"]


def test_an_inactive_company_disappears_with_its_numbers(demo, exempel):
    m.Tenant.objects.filter(pk=exempel.tenant.pk).update(is_active=False)
    text = render_from_db()["extensions.conf"]
    assert f"t{exempel.tenant.pk}-" not in text
    assert exempel.main_number.e164 not in text


def test_a_disabled_device_is_neither_an_endpoint_nor_in_a_hint(demo, bob):
    device = m.Device.objects.filter(user=bob).first()
    m.Device.objects.filter(pk=device.pk).update(is_enabled=False)
    files = render_from_db()
    assert device.endpoint not in files["pjsip.conf"]
    assert device.endpoint not in files["extensions.conf"]


def _company(order: str) -> dict[str, str]:
    """The same small company created in two orders, with the same primary keys."""
    tenant = m.Tenant.objects.create(pk=9001, name="Order AB", slug="order-ab", country_code="46")
    people = [
        {"pk": 9101, "email": "first@order.example", "extension": "2001", "first_name": "First"},
        {"pk": 9102, "email": "second@order.example", "extension": "2002", "first_name": "Second"},
    ]
    devices = [
        {"pk": 9301, "user_id": 9101, "sip_username": "ordera0001", "secret": "s1"},
        {"pk": 9302, "user_id": 9102, "sip_username": "orderb0002", "secret": "s2"},
        {"pk": 9303, "user_id": 9101, "sip_username": "orderc0003", "secret": "s3", "kind": "webrtc"},
    ]
    if order == "reversed":
        people.reverse()
        devices.reverse()
    for fields in people:
        m.User.objects.create(tenant=tenant, password="!", **fields)
    for fields in devices:
        m.Device.objects.create(tenant=tenant, **fields)
    queue = m.Queue.objects.create(pk=9401, tenant=tenant, name="Q", extension="300")
    agents = [(9501, 9101), (9502, 9102)]
    if order == "reversed":
        agents.reverse()
    for pk, uid in agents:
        m.QueueAgent.objects.create(pk=pk, tenant=tenant, queue=queue, user_id=uid)
    destinations = [(9601, "queue", {"queue": queue}), (9602, "user", {"user_id": 9101})]
    if order == "reversed":
        destinations.reverse()
    for pk, kind, target in destinations:
        m.Destination.objects.create(pk=pk, tenant=tenant, kind=kind, **target)
    schedule = m.Schedule.objects.create(pk=9701, tenant=tenant, name="Hours")
    hours = [(9801, 0), (9802, 3)]
    if order == "reversed":
        hours.reverse()
    for pk, weekday in hours:
        m.WeeklyHours.objects.create(pk=pk, tenant=tenant, schedule=schedule, weekday=weekday,
                                     open_time=datetime.time(8), close_time=datetime.time(16))
    numbers = [(9901, "+46855501000", "main", 9601), (9902, "+46855501001", "direct", 9602)]
    if order == "reversed":
        numbers.reverse()
    for pk, e164, kind, dest in numbers:
        m.Number.objects.create(pk=pk, tenant=tenant, e164=e164, kind=kind, destination_id=dest,
                                user_id=9101 if kind == "direct" else None, schedule=schedule if kind == "main" else None)
    return render_from_db(tenant_ids=[tenant.pk])


@pytest.mark.django_db
def test_two_orders_of_creation_render_the_same_files():
    with transaction.atomic():
        forwards = _company("forwards")
        transaction.set_rollback(True)
    with transaction.atomic():
        backwards = _company("reversed")
        transaction.set_rollback(True)
    assert forwards == backwards
    assert "[t9001-user-9101]" in forwards["extensions.conf"]


def test_generators_are_pure_functions_of_the_snapshot(demo):
    snapshot = load_snapshot()
    assert render(snapshot) == render(snapshot)
    assert set(GENERATORS) == set(render(snapshot))


def test_render_asterisk_writes_the_files(demo, tmp_path, capsys):
    call_command("render_asterisk", out=str(tmp_path / "generated"))
    written = {p.name for p in (tmp_path / "generated").iterdir()}
    assert written == set(GENERATORS)
    assert (tmp_path / "generated" / "extensions.conf").read_text() == render_from_db()["extensions.conf"]


def test_check_asterisk_passes_on_the_demo_world(demo, exempel, capsys):
    call_command("check_asterisk")
    assert "check clean" in capsys.readouterr().out


def test_check_asterisk_exits_1_on_a_broken_file(demo, tmp_path, capsys):
    files = render_from_db()
    files["extensions.conf"] += "\n[t999-broken]\nexten => s,1,Goto(t999-nowhere,s,1)\n"
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(SystemExit) as exit_info:
        call_command("check_asterisk", dir=str(tmp_path))
    assert exit_info.value.code == 1
    assert "t999-nowhere does not exist" in capsys.readouterr().out


# -- render_update: one company's part, byte-identical to a full render --------------------------


def test_a_company_part_is_replaced_exactly_as_a_full_render_would_write_it(demo, exempel):
    from pbx import actions
    from pbx.asterisk.confgen import render_update

    old = render_from_db()
    user = actions.do_create_user(None, demo.tenant, email="part@demo.example", extension="1097")
    actions.do_create_device(None, user)
    m.IvrOption.objects.filter(menu=demo.menu, digit="2").delete()
    assert render_update(old, demo.tenant.pk) == render_from_db()


def test_a_new_number_updates_from_trunk_for_every_company(demo, exempel):
    from pbx.asterisk.confgen import render_update

    old = render_from_db()
    dest = m.Destination.objects.filter(tenant=exempel.tenant, kind="user").first()
    m.Number.objects.create(tenant=exempel.tenant, e164="+4682557777", kind="main", destination=dest)
    new = render_update(old, exempel.tenant.pk)
    assert new == render_from_db()
    assert "exten => +4682557777,1,Goto" in new["extensions.conf"]


def test_from_trunk_lists_numbers_on_shared_trunks_and_none_on_a_company_s_own(demo, exempel):
    from pbx.asterisk.confgen import render_update

    old = render_from_db()
    dest = m.Destination.objects.filter(tenant=exempel.tenant, kind="user").first()
    own = m.SipTrunk.objects.create(tenant=exempel.tenant, name="Own", host="sip.exempel.example")
    shared = m.SipTrunk.objects.create(tenant=exempel.tenant, name="Platform", host="sip.platform.example",
                                       is_shared=True)
    m.Number.objects.create(tenant=exempel.tenant, e164="+4682557778", kind="main", destination=dest, trunk=own)
    m.Number.objects.create(tenant=exempel.tenant, e164="+4682557779", kind="main", destination=dest, trunk=shared)
    middle = render_from_db()
    # Demo's apply renders the head from every company's numbers (the all_inbound query), as a full render
    # does (from the first files: the new shared trunk makes it one).
    for files in (render_update(old, demo.tenant.pk), render_update(middle, demo.tenant.pk)):
        assert files == middle
        from_trunk = context_blocks(files["extensions.conf"])["from-trunk"]
        assert "exten => +4682557779,1,Goto" in from_trunk
        assert "4682557778" not in from_trunk


def test_a_new_company_is_inserted_and_an_inactive_one_dropped_in_id_order(demo, exempel):
    from pbx.asterisk.confgen import render_update

    old = render_from_db()
    newcomer = m.Tenant.objects.create(name="Ny AB", slug="ny-ab")
    m.User.objects.create(tenant=newcomer, email="a@ny.example", password="!", extension="1001")
    assert render_update(old, newcomer.pk) == render_from_db()
    middle = render_from_db()
    m.Tenant.objects.filter(pk=demo.tenant.pk).update(is_active=False)
    assert render_update(middle, demo.tenant.pk) == render_from_db()


def test_a_shared_trunk_change_renders_everything(demo, exempel):
    from pbx.asterisk.confgen import render_update

    old = render_from_db()
    m.SipTrunk.objects.create(tenant=demo.tenant, name="Platform", host="sip.platform.example", is_shared=True)
    new = render_update(old, demo.tenant.pk)
    assert new == render_from_db()
    # Exempel has no trunk of its own: it now calls out through the shared one.
    assert "@trunk-" in new["extensions.conf"].split(f"; ==== company {exempel.tenant.pk} ====")[1]


def test_split_parts_is_the_inverse_of_compose():
    from pbx.asterisk.confgen.writer import compose, split_parts

    head, parts, tail = "; head\n", {3: "\n[a]\nx = 1\n", 12: "", 40: "\n[b]\n"}, "\n; ==== shared ====\n\n[c]\n"
    text = compose(head, sorted(parts.items()), tail)
    assert split_parts(text) == (head, parts, tail)
    assert split_parts("; only a head\n") == ("; only a head\n", {}, "")

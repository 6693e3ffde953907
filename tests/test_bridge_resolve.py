"""From Asterisk's names to companies, people and queues (the names pbx/asterisk/confgen writes)."""

from __future__ import annotations

from pbx.asterisk.resolve import DEVICE, LOCAL, OTHER, SNOOP, TRUNK, DatabaseLoader, Resolver, split_channel
from pbx.models import Device


def test_it_splits_channel_names_into_technology_and_endpoint():
    assert split_channel("PJSIP/t12-ab12cd34ef-0000001a") == ("PJSIP", "t12-ab12cd34ef")
    assert split_channel("Local/1001@t12-internal-00000003;2") == ("Local", "1001@t12-internal")
    assert split_channel("PJSIP/1003") == ("PJSIP", "1003")  # an OriginateResponse for no channel at all


def test_it_reads_the_company_from_our_names_without_the_database():
    r = Resolver()
    assert r.channel("PJSIP/t12-ab12cd34ef-0000001a") == r.endpoint("t12-ab12cd34ef")
    assert (r.endpoint("t12-ab12cd34ef").kind, r.endpoint("t12-ab12cd34ef").tenant_id) == (DEVICE, 12)
    assert r.context("t7-internal") == 7 and r.context("internal") is None
    assert (r.queue("t3-q9").tenant_id, r.queue("t3-q9").queue_id) == (3, 9)
    assert r.queue("support").tenant_id is None


def test_local_and_snoop_channels_are_never_parties_but_local_ones_know_their_company():
    r = Resolver()
    local = r.channel("Local/5@t4-agents-0000000a;1")
    assert (local.kind, local.tenant_id) == (LOCAL, 4)
    assert r.channel("Snoop/1795406741.57-00000000").kind == SNOOP
    assert r.channel("IAX2/somewhere-00000001").kind == OTHER


def test_a_company_trunk_tells_its_company_and_a_shared_trunk_none():
    r = Resolver()
    own = r.channel("PJSIP/t2-trunk-5-0000000b")
    shared = r.channel("PJSIP/trunk-6-0000000c")
    assert (own.kind, own.tenant_id, own.trunk_id) == (TRUNK, 2, 5)
    assert (shared.kind, shared.tenant_id, shared.trunk_id) == (TRUNK, None, 6)


def test_queue_members_are_found_by_user_id_or_by_their_hint():
    r = Resolver()
    r.alias_extension(3, "1004", 77)
    assert r.member("Local/42@t3-agents/n").user_id == 42
    assert r.member("", "hint:1004@t3-hints").user_id == 77
    assert r.member("Local/42@t3-agents/n").tenant_id == 3


def test_presence_and_custom_device_keys_name_the_person():
    r = Resolver()
    r.alias_extension(3, "1004", 77)
    assert (r.presentity("CustomPresence:t3-u55").tenant_id, r.presentity("CustomPresence:t3-u55").user_id) == (3, 55)
    assert r.presentity("CustomPresence:t3-1004").user_id == 77
    assert r.device("Custom:t3-u55").user_id == 55
    assert r.device("Queue:t3-q1_avail") is None and r.device("MWI:1001@default") is None


def test_aliases_map_the_captures_plain_names():
    r = Resolver()
    r.alias_endpoint("1001", 1, 10)
    r.alias_endpoint("sipp", 1, kind=TRUNK)
    r.alias_queue("support", 1, 4)
    r.alias_context("internal", 1)
    assert (r.channel("PJSIP/1001-00000006").user_id, r.channel("PJSIP/sipp-00000010").kind) == (10, TRUNK)
    assert r.queue("support").queue_id == 4 and r.context("internal") == 1
    assert r.presentity("CustomPresence:1001").user_id == 10


def test_it_finds_devices_people_and_queues_in_the_database_once(demo, django_assert_num_queries):
    r = Resolver(DatabaseLoader())
    device = Device.objects.filter(user=demo.operator).first()
    tenant, support = demo.tenant.pk, demo.queues["Support"]
    with django_assert_num_queries(3):
        for _ in range(3):
            assert r.channel(f"PJSIP/{device.endpoint}-0000001a").user_id == demo.operator.pk
            assert r.extension(tenant, demo.admin.extension) == demo.admin.pk
            assert r.queue(f"t{tenant}-q{support.pk}").queue_id == support.pk
    r.forget()
    with django_assert_num_queries(1):
        r.endpoint(device.endpoint)


def test_a_queue_name_of_another_company_s_queue_resolves_to_no_queue(demo, exempel):
    r = Resolver(DatabaseLoader())
    theirs = exempel.queues["Support"].pk
    ref = r.queue(f"t{demo.tenant.pk}-q{theirs}")
    assert ref.tenant_id == demo.tenant.pk and ref.queue_id is None

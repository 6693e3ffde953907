"""Issue #11, finding 1: a company's trunk can never claim the node's SIP traffic.

PJSIP identifies a request by its source address (``type = identify``) before any password is asked.
So a trunk's "match IP addresses" and host are refused, with the same validator, by the admin form,
the action, the generator and the checker when they are not narrow public addresses, name the
stack itself or overlap another company's trunk; and the base pjsip.conf asks for a phone's
authentication before its address.
"""

from __future__ import annotations

import dataclasses
import importlib
from pathlib import Path

import pytest
from django.apps import apps
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from hypothesis import given, settings
from hypothesis import strategies as st

from pbx import actions
from pbx.asterisk.apply import apply_node, read_running
from pbx.asterisk.checker import check
from pbx.asterisk.confgen import ConfigError, render, render_from_db
from pbx.asterisk.confgen.parse import expanded, parse_conf
from pbx.asterisk.confgen.writer import split_parts
from pbx.models import AuditLog, SipTrunk
from pbx.validators import NON_PUBLIC_NETWORKS, network_text, stack_networks, trunk_networks
from tests.confgen_fixtures import tiny_snapshot
from tests.fake_asterisk.pbx_fixtures import *  # noqa: F403 - fake, node, applied

BASE_PJSIP = Path(__file__).resolve().parent.parent / "asterisk_conf" / "pjsip.conf"
ADD = reverse("admin:pbx_siptrunk_add")

EVERYTHING = ["0.0.0.0/0", "::/0"]
LOOPBACK = ["127.0.0.1", "127.0.0.0/24", "::1"]
PRIVATE = ["10.0.0.0/24", "172.16.5.5", "192.168.1.0/24", "100.64.1.1", "169.254.1.1", "fe80::1", "fd00::1"]
SERVICE_NAMES = ["asterisk", "postgres", "127.0.0.1:5038"]
NON_ADDRESSES = ["1001,1", "1001", "81.2.3.4;x", "81.2.3.4/255.255.255.0", "81.2.3.4 81.2.3.5", "81.2.3.4:5060",
                 "[2a00:1450:4001::1]"]
WIDE = ["81.0.0.0/16", "81.2.0.0/23", "2a00:1450::/32"]


@pytest.fixture
def as_alice(client, alice):
    client.force_login(alice)
    return client


@pytest.fixture
def as_carol(client, carol):
    client.force_login(carol)
    return client


def trunk_form(**changes) -> dict:
    return {"name": "Egen", "host": "sip.operator.se", "port": "", "username": "", "password": "",
            "register": "", "identify_match": "", "is_enabled": "on", **changes}


def form_errors(response) -> dict[str, str]:
    assert response.status_code == 200, "expected the form again, with errors"
    return {name: " ".join(errors) for name, errors in response.context["adminform"].form.errors.items()}


def refused_by_form(client, field: str, value: str) -> str:
    response = client.post(ADD, trunk_form(**{field: value}))
    errors = form_errors(response)
    assert field in errors, errors
    assert not SipTrunk.objects.filter(name="Egen").exists()
    return errors[field]


def refused_by_action(actor, tenant, field: str, value: str) -> None:
    trunk = SipTrunk(tenant=tenant, name="Egen", **{"host": "sip.operator.se", field: value})
    with pytest.raises(ValidationError) as refused:
        actions.do_save_object(actor, trunk)
    assert field in refused.value.message_dict
    assert not SipTrunk.objects.filter(name="Egen").exists()


def refused_by_generator(field: str, value: str) -> None:
    snapshot = tiny_snapshot()
    tenant = snapshot.tenants[0]
    tenant.trunks[0] = dataclasses.replace(tenant.trunks[0], **{field: value})
    with pytest.raises(ConfigError, match="trunk 151"):
        render(snapshot)


def refused_by_checker(value: str) -> list[str]:
    """The generated files with the identify of the issue forced in by hand."""
    files = render(tiny_snapshot())
    files["pjsip.conf"] = files["pjsip.conf"].replace("match = 81.2.3.10", f"match = {value}")
    findings = [str(f) for f in check(files) if f.code == "trunk-identify"]
    assert findings, f"the checker let match = {value} through"
    assert all('company 7, trunk 151, field "match IP addresses"' in f for f in findings)
    return findings


def refused_everywhere(client, actor, tenant, value: str) -> str:
    message = refused_by_form(client, "identify_match", value)
    refused_by_action(actor, tenant, "identify_match", value)
    if ";" not in value:  # in pjsip.conf, ";" starts a comment: what is left is another value
        refused_by_generator("identify_match", value)
        refused_by_checker(value)
    return message


@pytest.mark.parametrize("value", EVERYTHING)
def test_a_trunk_matching_everything_is_refused(as_alice, alice, demo, value):
    assert "too wide" in refused_everywhere(as_alice, alice, demo.tenant, value)


@pytest.mark.parametrize("value", LOOPBACK)
def test_a_trunk_matching_loopback_is_refused(as_alice, alice, demo, value):
    assert "not a public internet address" in refused_everywhere(as_alice, alice, demo.tenant, value)


@pytest.mark.parametrize("value", PRIVATE)
def test_a_trunk_matching_a_private_or_link_local_range_is_refused(as_alice, alice, demo, value):
    assert "not a public internet address" in refused_everywhere(as_alice, alice, demo.tenant, value)


@pytest.mark.parametrize("value", SERVICE_NAMES)
def test_a_trunk_matching_an_internal_service_name_is_refused(as_alice, alice, demo, value):
    assert "is not an IP address or network" in refused_everywhere(as_alice, alice, demo.tenant, value)


@pytest.mark.parametrize("value", NON_ADDRESSES)
def test_a_trunk_matching_something_that_is_no_address_is_refused(as_alice, alice, demo, value):
    refused_everywhere(as_alice, alice, demo.tenant, value)


@pytest.mark.parametrize("value", WIDE)
def test_a_trunk_matching_a_wide_network_is_refused(as_alice, alice, demo, value):
    assert "too wide" in refused_everywhere(as_alice, alice, demo.tenant, value)


def test_the_minimum_prefix_comes_from_the_settings(as_alice, alice, demo, settings):
    settings.PBX_TRUNK_MIN_PREFIX_V4 = 28
    assert "/28" in refused_everywhere(as_alice, alice, demo.tenant, "81.2.3.0/24")


def test_a_trunk_matching_the_stacks_own_network_is_refused(as_alice, alice, demo, settings):
    settings.PBX_STACK_NETWORKS = ["127.0.0.0/8", "81.2.9.0/24"]  # e.g. the node's public address
    assert "this service itself" in refused_everywhere(as_alice, alice, demo.tenant, "81.2.9.10")


@pytest.mark.parametrize("value", ["asterisk", "postgres", "127.0.0.1:5038", "localhost", "sip.example.net:5060",
                                   "10.1.2.3", "127.0.0.1", "::1", "pbx.local", "db.internal", "81.2.3.0/24",
                                   "-sip.operator.se", "sip.operator.123", "a" * 95 + ".se"])
def test_a_trunk_host_must_be_a_public_name_or_address_without_port(as_alice, alice, demo, value):
    refused_by_form(as_alice, "host", value)
    refused_by_action(alice, demo.tenant, "host", value)
    refused_by_generator("host", value)


def test_a_narrow_public_trunk_is_saved_audited_and_rendered(as_alice, alice, demo):
    response = as_alice.post(ADD, trunk_form(host="SIP.Operator.se.", port="5080",
                                             identify_match="81.2.3.4, 81.2.4.0/24\n2a00:1450:4001::/48"))
    assert response.status_code == 302, form_errors(response)
    trunk = SipTrunk.objects.get(tenant=demo.tenant, name="Egen")
    assert (trunk.host, trunk.port) == ("sip.operator.se", 5080)
    assert trunk.identify_match == "81.2.3.4,81.2.4.0/24,2a00:1450:4001::/48"
    assert AuditLog.objects.filter(object_type="pbx.siptrunk", object_id=str(trunk.pk), actor=alice).exists()
    files = render_from_db()
    sections = {(s.name, v["type"][-1]): v for s, v in expanded(parse_conf(files["pjsip.conf"]))}
    name = f"t{demo.tenant.pk}-trunk-{trunk.pk}"
    assert sections[(name, "identify")]["match"] == ["81.2.3.4,81.2.4.0/24,2a00:1450:4001::/48"]
    assert sections[(name, "aor")]["contact"] == ["sip:sip.operator.se:5080"]
    assert sections[(name, "endpoint")]["identify_by"] == ["ip"]
    assert check(files) == []


def test_an_ipv6_host_is_written_in_brackets_and_is_its_own_match(alice, demo):
    trunk = actions.do_save_object(alice, SipTrunk(tenant=demo.tenant, name="v6", host="2a00:1450:4001::10", port=5060))
    pjsip = render_from_db()["pjsip.conf"]
    sections = {(s.name, v["type"][-1]): v for s, v in expanded(parse_conf(pjsip))}
    name = f"t{demo.tenant.pk}-trunk-{trunk.pk}"
    assert sections[(name, "aor")]["contact"] == ["sip:[2a00:1450:4001::10]:5060"]
    assert sections[(name, "identify")]["match"] == ["2a00:1450:4001::10"]


def test_a_host_name_is_never_written_as_a_match(alice, demo):
    trunk = actions.do_save_object(alice, SipTrunk(tenant=demo.tenant, name="dns", host="sip.operator.se"))
    sections = {(s.name, v["type"][-1]) for s, v in expanded(parse_conf(render_from_db()["pjsip.conf"]))}
    assert (f"t{demo.tenant.pk}-trunk-{trunk.pk}", "endpoint") in sections
    assert (f"t{demo.tenant.pk}-trunk-{trunk.pk}", "identify") not in sections


# -- another company's addresses ------------------------------------------------------------------------------


@pytest.fixture
def demo_trunk(alice, demo):
    return actions.do_save_object(alice, SipTrunk(tenant=demo.tenant, name="Demos operatör", host="sip.operator.se",
                                                  identify_match="81.2.3.0/24"))


@pytest.mark.parametrize("value", ["81.2.3.7", "81.2.3.0/24", "81.2.3.128/25", "81.9.9.9,81.2.3.200"])
def test_a_trunk_overlapping_another_companys_trunk_is_refused(as_carol, carol, exempel, demo_trunk, value):
    message = refused_by_form(as_carol, "identify_match", value)
    assert "another company's trunk" in message
    assert "Demo" not in message  # a company admin learns nothing of the other company
    refused_by_action(carol, exempel.tenant, "identify_match", value)


def test_a_trunk_host_address_overlapping_another_companys_trunk_is_refused(as_carol, carol, exempel, demo_trunk):
    assert "another company's trunk" in refused_by_form(as_carol, "host", "81.2.3.9")
    refused_by_action(carol, exempel.tenant, "host", "81.2.3.9")


def test_a_company_may_give_its_own_trunks_the_same_addresses(alice, demo, demo_trunk):
    actions.do_save_object(alice, SipTrunk(tenant=demo.tenant, name="Reserv", host="sip2.operator.se",
                                           identify_match="81.2.3.0/24"))
    assert SipTrunk.objects.filter(tenant=demo.tenant).count() == 2


def test_a_company_trunk_cannot_take_the_shared_trunks_addresses(carol, exempel, superuser, demo):
    actions.do_save_object(superuser, SipTrunk(tenant=demo.tenant, name="Plattform", host="trunk.platform.se",
                                               identify_match="81.5.5.0/24", is_shared=True))
    refused_by_action(carol, exempel.tenant, "identify_match", "81.5.5.5")


def test_a_company_admin_cannot_share_a_trunk_or_change_the_shared_one(carol, exempel, superuser, demo):
    with pytest.raises(PermissionDenied):
        actions.do_save_object(carol, SipTrunk(tenant=exempel.tenant, name="Alla", host="sip.operator.se",
                                               is_shared=True))
    shared = actions.do_save_object(superuser, SipTrunk(tenant=exempel.tenant, name="Plattform",
                                                        host="trunk.platform.se", is_shared=True))
    shared.identify_match = "81.5.5.5"
    with pytest.raises(PermissionDenied):
        actions.do_save_object(carol, shared)
    with pytest.raises(PermissionDenied):
        actions.do_delete_object(carol, shared)


def test_the_checker_names_both_companies_and_the_field_of_an_overlap(demo, exempel, demo_trunk, carol):
    other = actions.do_save_object(carol, SipTrunk(tenant=exempel.tenant, name="Exempels", host="sip.operator.se",
                                                   identify_match="81.7.7.7"))
    SipTrunk.objects.filter(pk=other.pk).update(identify_match="81.2.3.77")  # forced past the form and the action
    findings = [str(f) for f in check(render_from_db()) if f.code == "trunk-identify"]
    assert len(findings) == 1
    assert (f'company {exempel.tenant.pk} (Exempel AB), trunk {other.pk}, field "match IP addresses": 81.2.3.77 '
            f"overlaps 81.2.3.0/24 of company {demo.tenant.pk} (Demo AB)") in findings[0]


def test_a_trunk_forced_past_the_form_never_reaches_asterisk(applied, fake, demo, exempel, alice, carol):
    """The issue's trunk, written straight into the database: the render refuses Demo AB's part, and the
    fake Asterisk never reloads PJSIP; Exempel AB's change still goes through."""
    before = read_running(Path(applied.generated_dir))["pjsip.conf"]
    trunk = actions.do_save_object(alice, SipTrunk(tenant=demo.tenant, name="Fälla", host="sip.operator.se"))
    SipTrunk.objects.filter(pk=trunk.pk).update(identify_match="0.0.0.0/0")
    result = apply_node(applied, tenant_ids=[demo.tenant.pk])
    assert result.ok and list(result.held) == [demo.tenant.pk]  # Demo AB stays as it runs (isolated apply)
    assert f"trunk {trunk.pk}" in result.message and "too wide" in result.message
    assert "res_pjsip.so" not in [r.get("Module") for r in fake.ami.actions("Reload")]
    assert read_running(Path(applied.generated_dir))["pjsip.conf"] == before
    assert "0.0.0.0/0" not in (Path(applied.generated_dir) / "pjsip.conf").read_text()


def test_an_overlap_forced_past_the_form_is_refused_by_the_check(applied, fake, demo, exempel, demo_trunk, carol):
    other = actions.do_save_object(carol, SipTrunk(tenant=exempel.tenant, name="Exempels", host="sip.operator.se",
                                                   identify_match="81.7.7.7"))
    SipTrunk.objects.filter(pk=other.pk).update(identify_match="81.2.3.0/24")
    result = apply_node(applied)
    # Exempel AB's part holds the finding: it stays as it runs, Demo AB's trunk is applied (isolated apply).
    assert result.ok and list(result.held) == [exempel.tenant.pk]
    assert result.held[exempel.tenant.pk][0]["code"] == "trunk-identify"
    assert "Exempel AB" in result.message and "match IP addresses" in result.message
    exempel_part = split_parts(read_running(Path(applied.generated_dir))["pjsip.conf"])[1][exempel.tenant.pk]
    assert "81.2.3.0/24" not in exempel_part and f"trunk-{other.pk}" not in exempel_part


# -- the order in which PJSIP asks -----------------------------------------------------------------------------


def test_pjsip_asks_a_phones_authentication_before_its_address():
    conf = parse_conf(BASE_PJSIP.read_text(), "pjsip.conf")
    (values,) = [v for s, v in expanded(conf) if s.name == "global"]
    order = [part.strip() for part in values["endpoint_identifier_order"][-1].split(",")]
    assert order.index("auth_username") < order.index("username") < order.index("ip")


def test_a_trunk_endpoint_is_never_identified_by_the_name_in_a_from_header():
    pjsip = render(tiny_snapshot())["pjsip.conf"]
    sections = {(s.name, v["type"][-1]): v for s, v in expanded(parse_conf(pjsip))}
    assert sections[("t7-trunk-151", "endpoint")]["identify_by"] == ["ip"]
    assert sections[("trunk-161", "endpoint")]["identify_by"] == ["ip"]
    # Phones keep identifying by their authentication user name (their endpoint's name).
    assert sections[("t7-a1b2c3d4e5", "endpoint")]["identify_by"] == ["auth_username,username"]


def test_the_checker_reads_an_identify_however_it_is_written():
    files = render(tiny_snapshot())
    files["pjsip.conf"] += "\n[sneaky]\ntype=identify\nendpoint = t7-trunk-151\nmatch = 10.0.0.0/8\n"
    findings = [str(f) for f in check(files) if f.code == "trunk-identify"]
    assert any("10.0.0.0/8" in f and "company 7" in f for f in findings)


# -- whatever is typed -----------------------------------------------------------------------------------------

ADDRESS_LIKE = st.one_of(
    st.ip_addresses().map(str),
    st.tuples(st.ip_addresses(), st.integers(0, 128)).map(lambda t: f"{t[0]}/{t[1]}"),
    st.from_regex(r"[0-9a-f:./, \[\];]{1,40}", fullmatch=True),
    st.text(max_size=30),
)


@given(st.lists(ADDRESS_LIKE, min_size=1, max_size=4).map(",".join))
@settings(max_examples=500, deadline=None, database=None)
def test_any_match_is_refused_or_only_narrow_public_networks(value):
    """Whatever is typed, what passes covers no loopback, private, reserved or stack address and no
    network wider than the minimum prefix; what the generator writes reads back as the same networks."""
    try:
        networks = trunk_networks(value)
    except ValidationError:
        return
    for network in networks:
        assert network.prefixlen >= (24 if network.version == 4 else 48)
        assert not any(network.overlaps(n) for n in NON_PUBLIC_NETWORKS + stack_networks())
    assert trunk_networks(",".join(network_text(n) for n in networks)) == networks


def test_a_trunk_saved_in_the_admin_reaches_asterisk(applied, fake, as_alice, demo):
    response = as_alice.post(ADD, trunk_form(host="sip.operator.se", identify_match="81.2.3.0/24"))
    assert response.status_code == 302, form_errors(response)
    trunk = SipTrunk.objects.get(tenant=demo.tenant, name="Egen")
    result = apply_node(applied, tenant_ids=[demo.tenant.pk])
    assert result.ok, result.message
    assert "res_pjsip.so" in [r.get("Module") for r in fake.ami.actions("Reload")]
    running = read_running(Path(applied.generated_dir))["pjsip.conf"]
    assert f"[t{demo.tenant.pk}-trunk-{trunk.pk}]\ntype = identify\nendpoint = t{demo.tenant.pk}-trunk-{trunk.pk}\n" \
           "match = 81.2.3.0/24\n" in running


def test_the_migration_moves_a_port_out_of_the_host(demo):
    migration = importlib.import_module("pbx.migrations.0006_trunk_policy_number_assignment")
    with_port = SipTrunk.objects.create(tenant=demo.tenant, name="Gammal", host="sip.operator.se:5080")
    odd = SipTrunk.objects.create(tenant=demo.tenant, name="Konstig", host="127.0.0.1:5038:x")
    migration.split_host_port(apps, None)
    with_port.refresh_from_db()
    odd.refresh_from_db()
    assert (with_port.host, with_port.port) == ("sip.operator.se", 5080)
    assert (odd.host, odd.port) == ("127.0.0.1:5038:x", None)  # left for the generator to refuse, and an admin to fix

"""pjsip.conf: an endpoint, auth and aor per device, and the operators' trunks. No transports.

Transports are the base config's (asterisk_conf/pjsip.conf); leaving ``transport`` unset lets
pjsip pick the one the phone registered over (UDP, TLS or WSS for the browser).

Names: a device's endpoint, auth and aor are all ``t<tenant>-<sip user>``, and that is also the SIP user
name the phone is given. It has to be: ``identify_by = auth_username,username`` makes res_pjsip look up
the *endpoint named* like the user name in the phone's Authorization (or From) header
(res_pjsip_endpoint_identifier_user.c), and the registrar finds the aor named like the user part of
the REGISTER's To URI. (With the bare ``<sip user>`` as user name, a real Asterisk 22 answered every
REGISTER "No matching endpoint found".)
"""

from __future__ import annotations

import sys
from urllib.parse import quote

from django.core.exceptions import ValidationError

from pbx.validators import network_text, trunk_host_address, trunk_networks, validate_trunk_host

from . import writer as w
from .extensions import RECORDING_FEATURES
from .snapshot import Snapshot, Tenant, Trunk

TEMPLATES = """\
[pbx-endpoint](!)
type = endpoint
disallow = all
allow = alaw,ulaw,g722
direct_media = no
rtp_symmetric = yes
force_rport = yes
rewrite_contact = yes
dtmf_mode = rfc4733
identify_by = auth_username,username
send_pai = yes
allow_subscribe = yes

[pbx-webrtc](!,pbx-endpoint)
webrtc = yes
allow = opus

[pbx-auth](!)
type = auth
auth_type = userpass

[pbx-aor](!)
type = aor
max_contacts = 5
remove_existing = yes
qualify_frequency = 60

[pbx-trunk](!)
type = endpoint
disallow = all
allow = alaw,ulaw
direct_media = no
rtp_symmetric = yes
force_rport = yes
rewrite_contact = yes
dtmf_mode = rfc4733
send_pai = yes
trust_id_inbound = no
; Recognised by its identify's source addresses only: with the default "username,ip" anyone who
; writes the trunk's endpoint name in a From header would be taken for the trunk, unauthenticated.
identify_by = ip
"""


PER_TENANT = True


def generate(snapshot: Snapshot) -> str:
    return w.generate_file(sys.modules[__name__], snapshot)


def head(snapshot: Snapshot) -> str:
    return w.HEADER + "\n" + TEMPLATES


def tail(snapshot: Snapshot) -> str:
    """The platform's shared trunks, after every company."""
    if not snapshot.shared_trunks:
        return ""
    out = w.ConfWriter(None)
    for trunk in snapshot.shared_trunks:
        _trunk(out, trunk, "from-trunk")
    return w.SHARED_MARK + out.text()


def tenant_part(snapshot: Snapshot, tenant: Tenant) -> str:
    out = w.ConfWriter(None)
    p = tenant.prefix
    language = w.name(tenant.language, f"language of company {tenant.id}")
    for user in tenant.users.values():
        name = w.display_text(user.name)
        if user.extension:
            callerid = f'"{name}" <{w.extension(user.extension, f"extension of user {user.id}")}>'
        else:
            callerid = f'"{name}"' if name else ""
        common = [
            f"context = {p}-internal",
            f"subscribe_context = {p}-hints",
        ]
        if callerid:
            common.append(f"callerid = {w.conf_value(callerid, f'caller ID of user {user.id}')}")
        if user.mailbox:
            common.append(f"mailboxes = {w.extension(user.mailbox, f'mailbox of user {user.id}')}@{p}")
        common += [
            f"language = {language}", f"accountcode = {p}", f"named_call_group = {p}", f"named_pickup_group = {p}",
            f"set_var = PBX_TENANT={tenant.id}", f"set_var = PBX_USER={user.id}", "set_var = PBX_COPTS=T",
        ]
        if user.mailbox:
            common.append(f"set_var = PBX_MAILBOX={user.mailbox}@{p}")
        if user.is_admin:
            common.append("set_var = PBX_ADMIN=1")
        common.append(f"set_var = DYNAMIC_FEATURES={RECORDING_FEATURES}")
        common_text = "\n".join(common)
        for device in user.devices:
            endpoint = w.name(device.endpoint, f"device {device.id}")
            template = "pbx-webrtc" if device.kind == "webrtc" else "pbx-endpoint"
            secret = w.conf_value(device.secret, f"secret of device {device.id}")
            out.raw(
                f"\n[{endpoint}]({template})\nauth = {endpoint}\naors = {endpoint}\n{common_text}\n"
                f"\n[{endpoint}](pbx-auth)\nusername = {endpoint}\npassword = {secret}\n"
                f"\n[{endpoint}](pbx-aor)"
            )
    for trunk in tenant.trunks:
        _trunk(out, trunk, f"{p}-from-trunk")
    return out.text()


def _trunk(out: w.ConfWriter, trunk: Trunk, context: str) -> None:
    """Registration, auth, aor, endpoint and identify of one operator trunk."""
    name = w.name(trunk.endpoint, f"trunk {trunk.id}")
    what = f"trunk {trunk.id}"
    # The same validators as the form and the action: a row that got past neither never renders.
    try:
        validate_trunk_host(trunk.host)
        networks = trunk_networks(trunk.identify_match) if trunk.identify_match else []
        address = trunk_host_address(trunk.host)
    except ValidationError as exc:
        raise w.ConfigError(f"{what}: {' '.join(exc.messages)}") from exc
    if trunk.port is not None and not 0 < trunk.port < 65536:
        raise w.ConfigError(f"{what}: port {trunk.port} is not a port")
    host = f"[{trunk.host}]" if address is not None and address.version == 6 else trunk.host
    hostport = f"{host}:{trunk.port}" if trunk.port else host
    if trunk.username:
        # A user name goes into SIP URIs percent-encoded, so '@', ';' or '<' cannot break them.
        user = quote(trunk.username, safe="-_.!~*'()&=+$,")
        out.section(name)
        out.raw("type = auth")
        out.raw("auth_type = userpass")
        out.option("username", trunk.username, f"user name of {what}")
        out.option("password", trunk.password, f"password of {what}")
        if trunk.register:
            out.section(name)
            out.raw("type = registration")
            out.raw(f"outbound_auth = {name}")
            out.raw(f"server_uri = sip:{hostport}")
            out.option("client_uri", f"sip:{user}@{hostport}", f"user name of {what}")
            out.option("contact_user", user, f"user name of {what}")
            out.raw("retry_interval = 60")
            out.raw("forbidden_retry_interval = 600")
            out.raw("expiration = 3600")
            out.raw(f"endpoint = {name}")
            out.raw("line = yes")
    out.section(name)
    out.raw("type = aor")
    out.raw(f"contact = sip:{hostport}")
    out.raw("qualify_frequency = 60")
    out.section(name, "pbx-trunk")
    out.raw(f"context = {context}")
    out.raw(f"aors = {name}")
    if trunk.username:
        out.raw(f"outbound_auth = {name}")
        out.option("from_user", quote(trunk.username, safe="-_.!~*'()&=+$,"), f"user name of {what}")
    out.raw(f"from_domain = {host}")
    # A host name is never written as a match: pjsip would resolve it at load time, and whoever
    # runs its DNS could point it at the node or at another company's phones.
    if not networks and address is not None:
        networks = [address]
    if networks:
        out.section(name)
        out.raw("type = identify")
        out.raw(f"endpoint = {name}")
        out.raw(f"match = {','.join(network_text(n) for n in networks)}")

"""Validation at the edge: what a person types never reaches the dialplan unchecked.

Numbers are digits (E.164 with a leading +), extensions and PINs are digits, names may hold any
printable text but never control characters (a newline in a name would start a new line in a
generated Asterisk file).

One set of patterns serves the forms, the actions (``full_clean``) and the generators
(:mod:`pbx.asterisk.confgen.writer` refuses with the same patterns), so a value the form takes is
a value the generator writes, and the other way round. Every pattern is anchored with ``\\A`` and
``\\Z``: ``$`` also matches before a trailing newline, so ``^[0-9]{2,8}$`` took ``"1088\\n"``.
"""

import ipaddress
import re

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _

# -- limits: the numbers the forms, the actions and the generators share -------------------------

EXTENSION_DIGITS = (2, 8)
PIN_DIGITS = (4, 12)
E164_DIGITS = (7, 15)  # after the +, the first digit not 0 (ITU-T E.164: at most 15 digits)
DIALABLE_DIGITS = (2, 20)
EMERGENCY_DIGITS = (2, 10)
SIP_NAME_MAX = 32
SECRET_MAX = 128

# -- patterns ------------------------------------------------------------------------------------

E164_RE = re.compile(rf"\A\+[1-9][0-9]{{{E164_DIGITS[0] - 1},{E164_DIGITS[1] - 1}}}\Z")
DIALABLE_RE = re.compile(rf"\A\+?[0-9]{{{DIALABLE_DIGITS[0]},{DIALABLE_DIGITS[1]}}}\Z")
EXTENSION_RE = re.compile(rf"\A[0-9]{{{EXTENSION_DIGITS[0]},{EXTENSION_DIGITS[1]}}}\Z")
PIN_RE = re.compile(rf"\A[0-9]{{{PIN_DIGITS[0]},{PIN_DIGITS[1]}}}\Z")
EMERGENCY_RE = re.compile(rf"\A[0-9]{{{EMERGENCY_DIGITS[0]},{EMERGENCY_DIGITS[1]}}}\Z")
COUNTRY_CODE_RE = re.compile(r"\A[1-9][0-9]{0,3}\Z")
MENU_DIGIT_RE = re.compile(r"\A[0-9*#]\Z")
SLUG_ID_RE = re.compile(r"\A[a-z0-9][a-z0-9-]{0,39}\Z")
# Ends in a letter or digit: the dialplan's device lists and the checker read a trailing '-' as a separator.
SIP_NAME_RE = re.compile(rf"\A[a-z0-9]([a-z0-9_-]{{0,{SIP_NAME_MAX - 2}}}[a-z0-9])?\Z")
# A sound file name as Playback()/Background() take it, relative to the sounds directory, no extension.
SOUND_NAME_RE = re.compile(r"\A[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*\Z")
# What app_voicemail can carry in a mailbox line's e-mail field: that field is one of five
# comma-separated ones and its options are '|'-separated, so no quotes, commas, blanks or bars.
VOICEMAIL_EMAIL_RE = re.compile(r"\A[A-Za-z0-9.!#%&'*+/=?^_`{}~-]+@[A-Za-z0-9.-]+\Z")
# What ends or breaks a line for Asterisk's config parser (it splits at \n and drops \r), what Python's
# str.splitlines() would split at too (so a reader of ours never disagrees with Asterisk), and lone
# surrogates (no UTF-8 file or database can hold them).
CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")

# -- validators ----------------------------------------------------------------------------------

validate_extension = RegexValidator(
    EXTENSION_RE,
    _("An extension is 2–8 digits, for example 1001."),
    code="bad_extension",
)
validate_pin = RegexValidator(PIN_RE, _("A PIN is 4–12 digits."), code="bad_pin")
validate_menu_digit = RegexValidator(
    MENU_DIGIT_RE, _("A menu choice is one key: 0–9, * or #."), code="bad_digit"
)
validate_slug_id = RegexValidator(
    SLUG_ID_RE,
    _("Use lower-case letters, digits and hyphens (at most 40)."),
    code="bad_slug",
)
validate_country_code = RegexValidator(
    COUNTRY_CODE_RE, _("A country calling code is 1–4 digits without + or 00, e.g. 46."), code="bad_country_code"
)
validate_sound_name = RegexValidator(
    SOUND_NAME_RE, _("A sound name is letters, digits, _ and - in parts separated by /."), code="bad_sound_name"
)
validate_sip_name = RegexValidator(
    SIP_NAME_RE, _("A SIP user name is lower-case letters, digits, _ and - (at most 32), starting and ending with a "
      "letter or digit."), code="bad_sip_name"
)


def validate_e164(value: str) -> None:
    if not E164_RE.match(value or ""):
        raise ValidationError(
            _("%(value)s is not a phone number in international form, e.g. +46812345678."),
            code="bad_e164",
            params={"value": value},
        )


def validate_dialable(value: str) -> None:
    """An external number a call may be sent to: digits, optionally with a leading +."""
    if not DIALABLE_RE.match(value or ""):
        raise ValidationError(
            _("%(value)s is not a phone number: use digits only, optionally starting with +."),
            code="bad_number",
            params={"value": value},
        )


def validate_plain_text(value: str) -> None:
    if CONTROL_RE.search(value or ""):
        raise ValidationError(
            _("Line breaks and control characters are not allowed here."), code="control_chars"
        )


def validate_conf_value(value: str) -> None:
    """A value written as it is into an Asterisk file (a SIP password, a trunk's user name)."""
    validate_plain_text(value)
    if value != (value or "").strip():
        raise ValidationError(
            _("Blanks at the start or the end are not allowed here (Asterisk would drop them)."),
            code="surrounding_blanks",
        )


def validate_secret(value: str) -> None:
    validate_conf_value(value)
    if len(value or "") > SECRET_MAX:
        raise ValidationError(_("At most %(n)s characters.") % {"n": SECRET_MAX}, code="too_long")


def validate_voicemail_email(value: str) -> None:
    """Only addresses Asterisk can send voicemail to: quotes, commas, blanks and '|' cannot be carried."""
    if value and not VOICEMAIL_EMAIL_RE.match(value):
        raise ValidationError(
            _("Voicemail cannot be sent to %(value)s: use a plain address such as anna@example.se "
              "(no quotes, commas, blanks or |)."),
            code="bad_voicemail_email",
            params={"value": value},
        )


def validate_emergency_numbers(value: str) -> None:
    """Comma-separated numbers of 2–10 digits (a wrong one would not be routed: refused instead)."""
    for number in (value or "").split(","):
        if not EMERGENCY_RE.match(number.strip()):
            raise ValidationError(
                _("%(value)s is not an emergency number: use 2–10 digits, separated by commas, e.g. 112,90000."),
                code="bad_emergency_number",
                params={"value": number.strip()},
            )
        validate_plain_text(number)


def normalize_number(value: str, country_code: str = "46") -> str:
    """Turn what a Swede types (08-123 456 78, 0701234567, 0046..., +46 70...) into E.164.

    Spaces, hyphens, dots and brackets are dropped; anything else that is not a digit is left in
    so that the validator can refuse it with a clear message instead of silently eating it.
    """
    cleaned = re.sub(r"[\s\-.()/]", "", value or "")
    if cleaned.startswith("00"):
        cleaned = "+" + cleaned[2:]
    elif cleaned.startswith("0") and len(cleaned) > 1:
        cleaned = f"+{country_code}{cleaned[1:]}"
    return cleaned


# -- SIP trunks: how a provider's traffic is recognised ----------------------------------------------
#
# PJSIP picks the endpoint of an incoming request by the first identifier that matches (the global
# ``endpoint_identifier_order``); an ``identify`` section matches on the source address alone, before
# any authentication. So a trunk's addresses decide whose calls it takes: they must be the provider's
# own public addresses, never a wide network, the node itself or another company's trunk.

TRUNK_HOST_MAX_LENGTH = 100  # sip:user@host:port stays well inside pjsip's 256-character URI buffer
TRUNK_MATCH_MAX_ENTRIES = 16
IPV4_MATCH_RE = re.compile(r"[0-9]{1,3}(\.[0-9]{1,3}){3}(/[0-9]{1,2})?\Z")
IPV6_MATCH_RE = re.compile(r"[0-9A-Fa-f:]{2,39}(/[0-9]{1,3})?\Z")
DNS_LABEL_RE = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)\Z")
# Names that only ever resolve inside a site or a container network.
INTERNAL_SUFFIXES = (".local", ".localhost", ".localdomain", ".internal", ".lan", ".home", ".corp", ".arpa",
                     ".intranet", ".private")

# Special-purpose ranges (IANA IPv4/IPv6 special-purpose registries) plus multicast: nothing a SIP
# provider sends from on the internet.
NON_PUBLIC_NETWORKS = tuple(ipaddress.ip_network(n) for n in (
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
    "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24",
    "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
    "::/8", "64:ff9b::/96", "64:ff9b:1::/48", "100::/64", "2001::/23", "2001:db8::/32", "2002::/16",
    "3fff::/20", "5f00::/16", "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8",
))

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def stack_networks() -> tuple[Network, ...]:
    """The networks of the stack itself (settings.PBX_STACK_NETWORKS): a trunk never matches them."""
    from django.conf import settings

    return tuple(ipaddress.ip_network(n, strict=False) for n in settings.PBX_STACK_NETWORKS)


def _min_prefix(network: Network) -> int:
    from django.conf import settings

    return settings.PBX_TRUNK_MIN_PREFIX_V4 if network.version == 4 else settings.PBX_TRUNK_MIN_PREFIX_V6


def trunk_network(entry: str) -> Network:
    """One entry of a trunk's "match" list as a network, or a ValidationError saying why not."""
    if not (IPV4_MATCH_RE.match(entry) or IPV6_MATCH_RE.match(entry)):
        raise ValidationError(
            _("%(value)s is not an IP address or network (no host names, ports or masks), e.g. 81.2.3.4 or "
              "81.2.3.0/24."),
            code="bad_network", params={"value": entry},
        )
    try:
        network = ipaddress.ip_network(entry, strict=True)
    except ValueError as exc:
        if "host bits set" in str(exc):
            raise ValidationError(
                _("%(value)s has host bits set; write the network as %(network)s."), code="host_bits",
                params={"value": entry, "network": ipaddress.ip_network(entry, strict=False)},
            ) from exc
        raise ValidationError(
            _("%(value)s is not an IP address or network, e.g. 81.2.3.4 or 81.2.3.0/24."),
            code="bad_network", params={"value": entry},
        ) from exc
    minimum = _min_prefix(network)
    if network.prefixlen < minimum:
        raise ValidationError(
            _("%(value)s is too wide: a trunk matches single addresses or networks of at most /%(prefix)s."),
            code="too_wide", params={"value": entry, "prefix": minimum},
        )
    if any(network.overlaps(special) for special in NON_PUBLIC_NETWORKS):
        raise ValidationError(
            _("%(value)s is not a public internet address (loopback, private, link-local or reserved); "
              "a provider sends calls from its public addresses."),
            code="not_public", params={"value": entry},
        )
    if any(network.overlaps(own) for own in stack_networks()):
        raise ValidationError(
            _("%(value)s is an address of this service itself; a trunk cannot match it."),
            code="own_network", params={"value": entry},
        )
    return network


def trunk_networks(value: str) -> list[Network]:
    """Every network of a comma-separated "match" value, each checked by :func:`trunk_network`."""
    entries = (value or "").split(",")
    if len(entries) > TRUNK_MATCH_MAX_ENTRIES:
        raise ValidationError(
            _("At most %(n)s addresses or networks."), code="too_many", params={"n": TRUNK_MATCH_MAX_ENTRIES}
        )
    return [trunk_network(entry) for entry in entries]


def network_text(network: Network) -> str:
    """``81.2.3.4`` for one address, ``81.2.3.0/24`` for a network: as an admin writes them."""
    return str(network.network_address) if network.prefixlen == network.max_prefixlen else network.with_prefixlen


def validate_trunk_match(value: str) -> None:
    """The addresses a trunk is recognised by (empty is fine: see the trunk's host)."""
    if value:
        trunk_networks(value)


def trunk_host_address(value: str) -> Network | None:
    """The host as a single-address network when it is an IP address, None when it is a name."""
    if IPV4_MATCH_RE.match(value) or (":" in value and IPV6_MATCH_RE.match(value)):
        if "/" in value:
            raise ValidationError(_("A host is one address, not a network."), code="bad_host")
        return trunk_network(value)
    return None


def validate_trunk_host(value: str) -> None:
    """A provider's host: a public IP address or a real DNS name (two labels or more), no port."""
    value = value or ""
    if len(value) > TRUNK_HOST_MAX_LENGTH:
        raise ValidationError(
            _("A host name has at most %(n)s characters."), code="too_long", params={"n": TRUNK_HOST_MAX_LENGTH}
        )
    if trunk_host_address(value) is not None:
        return
    labels = value.split(".")
    if (
        len(labels) < 2
        or not all(DNS_LABEL_RE.match(label) for label in labels)
        or labels[-1].isdigit()
        or value.lower().endswith(INTERNAL_SUFFIXES)
    ):
        raise ValidationError(
            _("%(value)s is not a public host name or IP address, e.g. sip.operator.se (the port has its "
              "own field)."),
            code="bad_host", params={"value": value},
        )

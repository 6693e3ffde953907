"""Setting up a phone from the device page: the server's address, a QR code and provisioning files.

A phone needs four things: the SIP server (``SIP_PUBLIC_HOST``), its port and transport
(``SIP_PUBLIC_PORT``, ``SIP_TRANSPORT``), the SIP user name (the endpoint's name, ``Device.endpoint``) and
the SIP password. Desk phones fetch them as a file: each device has a secret provisioning URL
(``/provision/<token>/<file>``, the token regenerable by the admin) with a file per phone family:

- ``yealink.cfg`` (and ``<mac>.cfg`` when the MAC address is set): Yealink's auto-provisioning format;
- ``snom.xml``: Snom's XML settings format;
- ``linphone.xml``: Linphone's remote provisioning (the softphone reads the URL from the QR code).

The files hold the SIP password, so they are served over HTTPS only (plain HTTP in DEBUG or the embedded
first look) and only to whoever has the token. Values are escaped for each format; names are plain text
already (pbx.validators) so no line break can reach a ``key = value`` file.
"""

from __future__ import annotations

import base64
import io
import re
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

import qrcode
import qrcode.image.svg
from django.conf import settings
from django.urls import reverse

from pbx.models import Device

FILES = ("yealink.cfg", "snom.xml", "linphone.xml")
CONTENT_TYPES = {"cfg": "text/plain; charset=utf-8", "xml": "application/xml; charset=utf-8"}
# Yealink's transport_type: 0 UDP, 1 TCP, 2 TLS.
YEALINK_TRANSPORT = {"udp": 0, "tcp": 1, "tls": 2}


@dataclass(frozen=True)
class PhoneSetup:
    host: str
    port: int
    transport: str
    username: str
    password: str
    display_name: str
    label: str


def setup_of(device: Device) -> PhoneSetup:
    return PhoneSetup(
        host=settings.SIP_PUBLIC_HOST, port=settings.SIP_PUBLIC_PORT, transport=settings.SIP_TRANSPORT,
        username=device.endpoint, password=device.secret, display_name=device.user.display_name,
        label=device.user.extension or device.user.display_name,
    )


def base_url(request=None) -> str:
    """Where phones reach the web: PROVISIONING_BASE_URL when set, else the address the admin uses (the
    request's), else https://<SITE_DOMAIN> (plain http only in DEBUG/embedded)."""
    if settings.PROVISIONING_BASE_URL:
        return settings.PROVISIONING_BASE_URL
    if request is not None:
        return request.build_absolute_uri("/")
    scheme = "http" if settings.DEBUG or settings.EMBEDDED else "https"
    return f"{scheme}://{settings.SITE_DOMAIN}"


def file_url(device: Device, name: str, *, base: str | None = None) -> str:
    path = reverse("provision", args=[device.provisioning_token, name])
    return f"{(base or base_url()).rstrip('/')}{path}"


def _line(value: str) -> str:
    """One ``key = value`` line's value: control characters out (they are refused on input anyway)."""
    return re.sub(r"[\x00-\x1f\x7f]", "", value)


def yealink_cfg(setup: PhoneSetup) -> str:
    lines = [
        "#!version:1.0.0.1",
        "account.1.enable = 1",
        f"account.1.label = {_line(setup.label)}",
        f"account.1.display_name = {_line(setup.display_name)}",
        f"account.1.auth_name = {setup.username}",
        f"account.1.user_name = {setup.username}",
        f"account.1.password = {setup.password}",
        f"account.1.sip_server.1.address = {setup.host}",
        f"account.1.sip_server.1.port = {setup.port}",
        f"account.1.sip_server.1.transport_type = {YEALINK_TRANSPORT.get(setup.transport, 0)}",
        "account.1.sip_server.1.expires = 300",
    ]
    return "\n".join(lines) + "\n"


def snom_xml(setup: PhoneSetup) -> str:
    host = f"{setup.host}:{setup.port};transport={setup.transport}"
    rows = [("user_active", "on"), ("user_realname", setup.display_name), ("user_name", setup.username),
            ("user_pname", setup.username), ("user_pass", setup.password), ("user_host", host),
            ("user_idle_text", setup.label)]
    body = "\n".join(f'    <{tag} idx="1" perm="R">{escape(_line(value))}</{tag}>' for tag, value in rows)
    return f'<?xml version="1.0" encoding="utf-8"?>\n<settings>\n  <phone-settings>\n{body}\n  </phone-settings>\n</settings>\n'


def linphone_xml(setup: PhoneSetup) -> str:
    proxy = f"<sip:{setup.host}:{setup.port};transport={setup.transport}>"
    identity = f"{_sip_display(setup.display_name)} <sip:{setup.username}@{setup.host}>"
    entries = {
        "proxy_0": [("reg_proxy", proxy), ("reg_identity", identity), ("reg_sendregister", "1"),
                    ("reg_expires", "300")],
        "auth_info_0": [("username", setup.username), ("passwd", setup.password), ("domain", setup.host)],
    }
    sections = []
    for name, rows in entries.items():
        inner = "\n".join(f"    <entry name={quoteattr(key)}>{escape(_line(value))}</entry>" for key, value in rows)
        sections.append(f"  <section name={quoteattr(name)}>\n{inner}\n  </section>")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<config xmlns="http://www.linphone.org/xsds/lpconfig.xsd">\n'
            + "\n".join(sections) + "\n</config>\n")


def _sip_display(name: str) -> str:
    return '"' + _line(name).replace("\\", "\\\\").replace('"', '\\"') + '"'


RENDERERS = {"yealink.cfg": yealink_cfg, "snom.xml": snom_xml, "linphone.xml": linphone_xml}


def render_file(device: Device, name: str) -> tuple[str, str] | None:
    """(content, content type) of a provisioning file of this device, or None for an unknown name.

    ``<mac>.cfg`` (lower-case hex, no colons, as Yealink asks for it) is the Yealink file when it is
    this device's MAC address.
    """
    mac = device.mac_address.replace(":", "").lower()
    if mac and name.lower() == f"{mac}.cfg":
        name = "yealink.cfg"
    renderer = RENDERERS.get(name)
    if renderer is None:
        return None
    return renderer(setup_of(device)), CONTENT_TYPES[name.rsplit(".", 1)[1]]


def qr_data_uri(text: str) -> str:
    """A QR code as an SVG data: URI (an <img> under the Content-Security-Policy's img-src 'self' data:)."""
    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=10, border=2)
    buffer = io.BytesIO()
    image.save(buffer)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")

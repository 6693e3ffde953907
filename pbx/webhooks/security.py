"""Where a webhook may go: public addresses only, checked after DNS resolution and again on each redirect.

A company's endpoint URL is typed by a person; without this the worker would POST wherever it points:
the stack's own services (Asterisk's ARI on 127.0.0.1:8088, PostgreSQL, Redis, a cloud's metadata service at
169.254.169.254), other hosts of the private network. So every address a name resolves to must be global,
not one of this machine's own, and not in ``WEBHOOK_BLOCKED_NETWORKS`` — unless the platform's operator put
it in ``WEBHOOK_ALLOWED_NETWORKS`` (an internal CRM, the tests' receiver). The connection is then made to
the address that was checked (never resolved again), so a name that changes its answer between the check and
the request (DNS rebinding) gains nothing.
"""

from __future__ import annotations

import functools
import ipaddress
import socket
import time
from urllib.parse import urlsplit

from django.conf import settings

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class Refused(Exception):
    """The address is not one a webhook may be sent to (the message says why, for the delivery log)."""


def _networks(values) -> list[Network]:
    return [ipaddress.ip_network(v, strict=False) for v in values or ()]


@functools.lru_cache(maxsize=1)
def own_addresses() -> frozenset[Address]:
    """This machine's own addresses, as far as its name tells (the container's, the host's)."""
    found: set[Address] = set()
    for name in {socket.gethostname(), socket.getfqdn(), "localhost"}:
        try:
            for info in socket.getaddrinfo(name, None):
                found.add(ipaddress.ip_address(info[4][0].split("%")[0]))
        except (OSError, ValueError):
            continue
    return frozenset(found)


def check_address(address: Address) -> None:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if any(address in net for net in _networks(settings.WEBHOOK_ALLOWED_NETWORKS)):
        return
    if any(address in net for net in _networks(settings.WEBHOOK_BLOCKED_NETWORKS)):
        raise Refused(f"{address} is one of the platform's blocked networks")
    if address in own_addresses():
        raise Refused(f"{address} is this server's own address")
    if address.is_loopback or address.is_link_local or address.is_unspecified or address.is_multicast:
        raise Refused(f"{address} is not a public address")
    if address.is_private or address.is_reserved or not address.is_global:
        raise Refused(f"{address} is a private or reserved address")


_RESOLVED: dict[tuple, tuple[float, tuple[str, int, Address]]] = {}
RESOLVED_FOR_S = 1.0


def resolve(url: str) -> tuple[str, int, Address]:
    """The URL's host, port and the one checked address to connect to; raises Refused.

    An answer that passed the checks is reused for a second (a worker sends hundreds a second to the same
    receiver: one lookup, not one per request). Only checked addresses are kept, so a name that changes to a
    private address meanwhile (DNS rebinding) still connects to the checked one; the settings are part of the key."""
    key = (url, tuple(settings.WEBHOOK_ALLOWED_NETWORKS), tuple(settings.WEBHOOK_BLOCKED_NETWORKS),
           settings.WEBHOOK_ALLOW_HTTP)
    now = time.monotonic()
    hit = _RESOLVED.get(key)
    if hit is not None and now - hit[0] < RESOLVED_FOR_S:
        return hit[1]
    answer = _resolve(url)
    if len(_RESOLVED) > 1000:
        _RESOLVED.clear()
    _RESOLVED[key] = (now, answer)
    return answer


def _resolve(url: str) -> tuple[str, int, Address]:
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme not in ("https", "http") or not host:
        raise Refused("not an http(s) address")
    if parts.scheme == "http" and not settings.WEBHOOK_ALLOW_HTTP:
        raise Refused("plain http is not allowed")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise Refused(f"{host} does not resolve ({exc.__class__.__name__})") from None
    addresses = []
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%")[0])
        check_address(address)  # every answer: a name may not mix a public address with a private one
        addresses.append(address)
    if not addresses:
        raise Refused(f"{host} has no address")
    return host, port, addresses[0]

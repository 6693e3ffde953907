"""Who is behind an Asterisk name: channel, endpoint, queue, context, hint → company, person, queue.

Our naming scheme puts the company in every Asterisk name, so the company is known from the name
alone; the person or queue needs one database lookup, cached:

- PJSIP endpoint of a device: ``t<tenant>-<sip_username>`` (channel ``PJSIP/t12-ab12cd34ef-0000001a``);
- PJSIP endpoint of a trunk: ``t<tenant>-trunk-<trunk_id>``; a trunk shared by all companies is
  ``trunk-<trunk_id>`` and tells no company (its calls get theirs from the context or whom they reach);
- queue: ``t<tenant>-q<queue_id>``; queue member ``Local/<user_id>@t<tenant>-agents/n`` with state interface
  ``hint:<extension>@t<tenant>-hints``;
- dialplan context: ``t<tenant>-<anything>`` (``Local/1001@t12-internal-00000003;2``);
- presence / custom device state: ``CustomPresence:t<tenant>-u<user_id>`` or ``...:t<tenant>-<extension>``
  (``Custom:`` likewise).

(These are the names ``pbx/asterisk/confgen`` writes.)

Tests replaying the real captures (plain names such as ``PJSIP/1001``, queue ``support``,
context ``internal``) map those names with the ``alias_*`` methods; an alias always wins.

A ``Resolver`` never touches the database unless it was given a ``loader``; the event bridge gives
it :class:`DatabaseLoader` and calls it from a worker thread (never from the event loop).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

DEVICE = "device"  # a person's phone
TRUNK = "trunk"  # the outside world
LOCAL = "local"  # Asterisk's Local channel: a connector, never a party
SNOOP = "snoop"  # an ARI snoop (listen-in) channel
OTHER = "other"  # anything we cannot place (unknown endpoint, other technology)

_TENANT = re.compile(r"\At(\d+)-(.+)\Z")
_TRUNK = re.compile(r"\Atrunk-?(\d+)\Z")
_QUEUE = re.compile(r"\At(\d+)-q(\d+)\Z")
_USER_KEY = re.compile(r"\Au(\d+)\Z")


@dataclass(slots=True, frozen=True)
class Endpoint:
    """What a channel or device name stands for."""

    kind: str
    name: str  # the endpoint (PJSIP) or the Local channel's exten@context
    tenant_id: int | None = None
    user_id: int | None = None
    trunk_id: int | None = None


@dataclass(slots=True, frozen=True)
class QueueRef:
    name: str  # Asterisk's name of the queue
    tenant_id: int | None = None
    queue_id: int | None = None


UNKNOWN_QUEUE = QueueRef("")


class Loader(Protocol):
    """Database lookups the resolver falls back to (see DatabaseLoader)."""

    def device(self, tenant_id: int, sip_username: str) -> int | None: ...  # → user id

    def queue_exists(self, tenant_id: int, queue_id: int) -> bool: ...

    def user_by_extension(self, tenant_id: int, extension: str) -> int | None: ...



class DatabaseLoader:
    """The loader used in production: plain ORM queries (call it from a sync thread)."""

    def device(self, tenant_id: int, sip_username: str) -> int | None:
        from pbx.models import Device

        row = Device.objects.filter(tenant_id=tenant_id, sip_username=sip_username).values_list("user_id").first()
        return row[0] if row else None

    def queue_exists(self, tenant_id: int, queue_id: int) -> bool:
        from pbx.models import Queue

        return Queue.objects.filter(tenant_id=tenant_id, pk=queue_id).exists()

    def user_by_extension(self, tenant_id: int, extension: str) -> int | None:
        from pbx.models import User

        row = User.objects.filter(tenant_id=tenant_id, extension=extension).values_list("pk").first()
        return row[0] if row else None


def split_channel(channel: str) -> tuple[str, str]:
    """``PJSIP/t12-abc-0000001a`` → (``PJSIP``, ``t12-abc``); ``Local/1001@ctx-00000003;2`` → (``Local``, ``1001@ctx``)."""
    tech, _sep, rest = channel.partition("/")
    if tech == "Local":
        rest = rest.rsplit(";", 1)[0]
    base, dash, suffix = rest.rpartition("-")
    # Asterisk appends -%08x to PJSIP, Local and Snoop channel names; a bare name (PJSIP/1003, as in
    # an OriginateResponse for a channel that never existed) has no such suffix.
    if dash and len(suffix) == 8:
        rest = base
    return tech, rest


def local_base(channel: str) -> str:
    """The name both halves of a Local pair share: ``Local/1001@internal-00000000``."""
    return channel.rsplit(";", 1)[0]


class Resolver:
    def __init__(self, loader: Loader | None = None):
        self.loader = loader
        self._endpoints: dict[str, Endpoint] = {}
        self._channels: dict[str, Endpoint] = {}
        self._queues: dict[str, QueueRef] = {}
        self._contexts: dict[str, int | None] = {}
        self._extensions: dict[tuple[int, str], int | None] = {}
        self._endpoint_aliases: dict[str, Endpoint] = {}
        self._queue_aliases: dict[str, QueueRef] = {}
        self._context_aliases: dict[str, int] = {}
        self._extension_aliases: dict[tuple[int, str], int] = {}

    # Test mappings --------------------------------------------------------------------------

    def alias_endpoint(self, name: str, tenant_id: int, user_id: int | None = None, *, kind: str = DEVICE) -> None:
        """Map a plain endpoint name (``1001``, ``sipp``) to a company's person or the outside world."""
        self._endpoint_aliases[name] = Endpoint(kind, name, tenant_id, user_id)
        self.forget()

    def alias_queue(self, name: str, tenant_id: int, queue_id: int) -> None:
        self._queue_aliases[name] = QueueRef(name, tenant_id, queue_id)
        self.forget()

    def alias_context(self, context: str, tenant_id: int) -> None:
        self._context_aliases[context] = tenant_id
        self.forget()

    def alias_extension(self, tenant_id: int, extension: str, user_id: int) -> None:
        self._extension_aliases[(tenant_id, extension)] = user_id
        self.forget()

    def forget(self) -> None:
        """Drop the cache (after a configuration change, or at resynchronisation)."""
        self._endpoints.clear()
        self._channels.clear()
        self._queues.clear()
        self._contexts.clear()
        self._extensions.clear()

    # Lookups ----------------------------------------------------------------------------------

    def channel(self, channel: str) -> Endpoint:
        found = self._channels.get(channel)
        if found is None:
            found = self._channel(channel)
            if len(self._channels) > 50_000:  # channel names are unique per call: keep the cache bounded
                self._channels.clear()
            self._channels[channel] = found
        return found

    def _channel(self, channel: str) -> Endpoint:
        tech, rest = split_channel(channel)
        if tech == "Local":
            _exten, _at, context = rest.partition("@")
            return Endpoint(LOCAL, rest, self.context(context))
        if tech == "Snoop":
            return Endpoint(SNOOP, rest)
        if tech == "PJSIP":
            return self.endpoint(rest)
        return Endpoint(OTHER, rest)

    def endpoint(self, name: str) -> Endpoint:
        found = self._endpoints.get(name)
        if found is None:
            found = self._endpoint(name)
            self._endpoints[name] = found
        return found

    def _endpoint(self, name: str) -> Endpoint:
        alias = self._endpoint_aliases.get(name)
        if alias is not None:
            return alias
        match = _TENANT.match(name)
        if match is None:
            shared = _TRUNK.match(name)
            if shared:
                # A shared trunk carries every company's calls: the company comes from the call's
                # context or from whom it reaches, never from the trunk.
                return Endpoint(TRUNK, name, None, trunk_id=int(shared[1]))
            return Endpoint(OTHER, name)
        tenant_id, rest = int(match[1]), match[2]
        trunk = _TRUNK.match(rest)
        if trunk:
            return Endpoint(TRUNK, name, tenant_id, trunk_id=int(trunk[1]))
        user_id = self.loader.device(tenant_id, rest) if self.loader else None
        return Endpoint(DEVICE, name, tenant_id, user_id)

    def device(self, device: str) -> Endpoint | None:
        """A device-state name (``PJSIP/t12-abc``, ``Custom:t12-u5``) → endpoint; None for Asterisk's own
        (``Queue:...``, ``MWI:...``)."""
        tech, _sep, rest = device.partition("/")
        if tech == "PJSIP" and rest:
            return self.endpoint(rest)
        if device.startswith("Custom:"):
            return self.keyed(device[7:])
        return None

    def presentity(self, presentity: str) -> Endpoint | None:
        """``CustomPresence:t12-u5`` → that person."""
        _provider, sep, key = presentity.partition(":")
        return self.keyed(key) if sep else None

    def keyed(self, key: str) -> Endpoint | None:
        """A person named by ``t<tenant>-u<user_id>``, ``t<tenant>-<extension>`` or an alias."""
        alias = self._endpoint_aliases.get(key)
        if alias is not None:
            return alias
        match = _TENANT.match(key)
        if match is None:
            return None
        tenant_id, rest = int(match[1]), match[2]
        user = _USER_KEY.match(rest)
        user_id = int(user[1]) if user else self.extension(tenant_id, rest)
        return Endpoint(DEVICE, key, tenant_id, user_id)

    def queue(self, name: str) -> QueueRef:
        found = self._queues.get(name)
        if found is None:
            found = self._queue(name)
            self._queues[name] = found
        return found

    def _queue(self, name: str) -> QueueRef:
        alias = self._queue_aliases.get(name)
        if alias is not None:
            return alias
        match = _QUEUE.match(name)
        if match is None:
            return QueueRef(name)
        tenant_id, queue_id = int(match[1]), int(match[2])
        if self.loader is not None and not self.loader.queue_exists(tenant_id, queue_id):
            return QueueRef(name, tenant_id)
        return QueueRef(name, tenant_id, queue_id)

    def context(self, context: str) -> int | None:
        if context in self._contexts:
            return self._contexts[context]
        tenant_id = self._context_aliases.get(context)
        if tenant_id is None:
            match = _TENANT.match(context)
            tenant_id = int(match[1]) if match else None
        self._contexts[context] = tenant_id
        return tenant_id

    def extension(self, tenant_id: int | None, extension: str) -> int | None:
        """The person with this extension in the company (None for a number or an unknown one)."""
        if tenant_id is None or not extension or not extension.isdigit():
            return None
        key = (tenant_id, extension)
        if key in self._extensions:
            return self._extensions[key]
        user_id = self._extension_aliases.get(key)
        if user_id is None and self.loader is not None:
            user_id = self.loader.user_by_extension(tenant_id, extension)
        self._extensions[key] = user_id
        return user_id

    def member(self, interface: str, state_interface: str = "") -> Endpoint | None:
        """A queue member, from its interface (``Local/<user id>@t12-agents/n``, ``PJSIP/t12-abc``) or,
        failing that, its state interface (``hint:<extension>@t12-hints``)."""
        for name in (interface, state_interface):
            if not name:
                continue
            if name.startswith("hint:"):
                exten, _at, context = name[5:].partition("@")
                tenant_id = self.context(context)
                if tenant_id is not None:
                    return Endpoint(DEVICE, name, tenant_id, self.extension(tenant_id, exten))
                continue
            tech, _sep, rest = name.partition("/")
            if tech == "PJSIP":
                found = self.endpoint(rest)
                if found.user_id is not None or found.tenant_id is not None:
                    return found
            elif tech == "Local":
                exten, _at, context = rest.partition("@")
                context = context.split("/")[0]
                tenant_id = self.context(context)
                if tenant_id is None:
                    continue
                if context.endswith("-agents") and exten.isdigit():
                    return Endpoint(DEVICE, rest, tenant_id, int(exten))  # the agents' context is keyed by user id
                return Endpoint(DEVICE, rest, tenant_id, self.extension(tenant_id, exten))
            else:
                found = self.device(name)
                if found is not None:
                    return found
        return None

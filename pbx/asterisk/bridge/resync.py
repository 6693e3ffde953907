"""Resynchronisation: ask Asterisk what is live now and turn the answers into tracker input and events.

After every (re)connect the bridge lists channels (CoreShowChannels, whose items carry their bridge),
queues (QueueStatus: members and waiting callers), device, extension (hint) and presence states. The
list items are parsed by the same parsers as the live events where they are the same events
(DeviceStateChange, ExtensionStatus, PresenceStateChange come back as such).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pbx.asterisk.resolve import Resolver

from . import domain as d
from .subscriptions import channel, number, on_device_state, on_extension_status, on_presence_state, parse_member, text

LIST_ACTIONS = {
    "channels": "CoreShowChannels",
    "queues": "QueueStatus",
    "devices": "DeviceStateList",
    "lines": "ExtensionStateList",
    "presence": "PresenceStateList",
}

Action = Callable[[Mapping[str, Any]], Awaitable[Any]]


@dataclass
class Listing:
    """What Asterisk listed, as raw items per list action."""

    channels: list[Mapping[str, Any]] = field(default_factory=list)
    queues: list[Mapping[str, Any]] = field(default_factory=list)
    devices: list[Mapping[str, Any]] = field(default_factory=list)
    lines: list[Mapping[str, Any]] = field(default_factory=list)
    presence: list[Mapping[str, Any]] = field(default_factory=list)


async def fetch(action: Action) -> Listing:
    """Run the list actions (an AmiClient's ``action``); raises AsteriskError when one fails."""
    listing = Listing()
    for name, verb in LIST_ACTIONS.items():
        items = await action({"Action": verb})
        setattr(listing, name, list(items) if isinstance(items, list) else [])
    return listing


def seconds(duration: str) -> int:
    """CoreShowChannel's ``Duration: HH:MM:SS`` → seconds."""
    total = 0
    for part in duration.split(":"):
        total = total * 60 + (int(part) if part.isdigit() else 0)
    return total


def live_channels(listing: Listing) -> list[tuple[d.ChannelInfo, str, int]]:
    out = []
    for item in listing.channels:
        if text(item, "Event") != "CoreShowChannel":
            continue
        info = channel(item)
        if info is not None:
            out.append((info, text(item, "BridgeId"), seconds(text(item, "Duration"))))
    return out


def in_queue_app(listing: Listing) -> dict[str, str]:
    """Channels Queue() holds (waiting or already talking with an agent): Uniqueid → queue."""
    out = {}
    for item in listing.channels:
        if text(item, "Event") == "CoreShowChannel" and text(item, "Application") == "Queue":
            queue = text(item, "ApplicationData").split(",", 1)[0]
            uniqueid = text(item, "Uniqueid")
            if queue and uniqueid:
                out[uniqueid] = queue
    return out


def waiting_callers(listing: Listing) -> list[tuple[d.ChannelInfo, str, int, int]]:
    out = []
    for item in listing.queues:
        if text(item, "Event") != "QueueEntry":
            continue
        info = channel(item)
        if info is not None:
            out.append((info, text(item, "Queue"), number(item, "Position"), number(item, "Wait")))
    return out


def state_events(listing: Listing, at: float, resolver: Resolver) -> list[d.Event]:
    """Agents, devices, lines and presence as the lists give them, as the events that would set them."""
    events: list[d.Event] = []
    for item in listing.queues:
        if text(item, "Event") == "QueueMember":
            events.append(parse_member(d.AgentStatusChanged, item, at, resolver))
    for items, parse in ((listing.devices, on_device_state), (listing.lines, on_extension_status),
                         (listing.presence, on_presence_state)):
        for item in items:
            event = parse(item, at, resolver)
            if event is not None:
                events.append(event)
    return events

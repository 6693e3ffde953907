"""The company's recording and listen-in licences as they are now, for the recording web's super users.

One pool per company, kept by Asterisk (pbx/asterisk/licences.py): what is in use is Asterisk's count, the
same ``GROUP_COUNT(t<T>@pbxrec)`` the dialplan counts, out of Asterisk's copy of the limit. Who holds the
licences:

- the recordings running now are rows the bridge wrote (``recording.selectors.running_recordings``);
- the listen-ins are private (the bridge tells only the listener; the call's view never carries listeners),
  so they are asked of Asterisk when a super user opens the page: one control request to the node's bridge,
  the pool's ``in_use`` and ``CoreShowChannels``, of which only the company's own phones in ChanSpy are kept
  (``licences.listen_ins``); nothing of it is ever pushed.

Asterisk unreachable (no bridge, AMI down, timeout): :func:`licences_now` says so instead of failing, and the
page still lists the recordings the database knows are running.

:func:`do_end_listen_in` hangs up a listener's channel (the ChanSpy ends with it, and the licence is free at
once), after checking in a fresh CoreShowChannels answer that it is one of the company's listen-ins; audited.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from pbx.asterisk import licences
from pbx.asterisk.control import licence_step, step
from pbx.asterisk.errors import AsteriskError
from pbx.models import Device, Tenant, User

from .calls import LiveCall, _audit, _send, _tenant_of, find_call
from .errors import ActionRefused, CallGone

log = logging.getLogger(__name__)

MODE_LABELS = {"listen": gettext_lazy("Listen"), "whisper": gettext_lazy("Whisper"),
               "barge": gettext_lazy("Barge in")}


@dataclass
class LiveListenIn:
    channel: str  # the listener's channel: what "end" hangs up
    mode: str
    since: datetime
    listener: User | None
    device: Device | None  # the listener's phone
    person: User | None  # whose call: the company's person on the channel listened to
    other_number: str
    other_name: str
    call_id: str

    @property
    def mode_label(self) -> str:
        return str(MODE_LABELS.get(self.mode, self.mode))


@dataclass
class LicencesNow:
    reachable: bool  # False: Asterisk could not be asked; only the database's recordings are known
    limit: int  # Asterisk's copy of the licence count (the company's own when Asterisk is unreachable)
    in_use: int | None = None
    listen_ins: list[LiveListenIn] = field(default_factory=list)
    # The Uniqueids of the company's calls' channels now: a recording row whose channel is not among them has
    # ended in Asterisk although the bridge has not closed it yet.
    live_channels: frozenset[str] = frozenset()

    @property
    def free(self) -> int | None:
        return None if self.in_use is None else max(0, self.limit - self.in_use)


def _require_super(actor: User) -> Tenant:
    tenant = _tenant_of(actor)
    if actor.recording_role != User.RecordingRole.SUPER:
        raise ActionRefused(_("Only a recording super user may see and end listen-ins."))
    return tenant


def _devices(tenant: Tenant, endpoints: set[str]) -> dict[str, Device]:
    """``t<T>-<sip user name>`` → the company's device (with its person)."""
    prefix = f"t{tenant.pk}-"
    names = {e[len(prefix):] for e in endpoints if e.startswith(prefix)}
    rows = Device.objects.filter(tenant=tenant, sip_username__in=names).select_related("user")
    return {row.endpoint: row for row in rows}


def licences_now(actor: User) -> LicencesNow:
    """The company's pool as Asterisk counts it, and its listen-ins now (recording super users only)."""
    tenant = _require_super(actor)
    try:
        pool, channels = _send(tenant, [licence_step("in_use", tenant=tenant.pk), step({"Action": "CoreShowChannels"})])
    except (AsteriskError, CallGone) as exc:
        log.warning("licences of company %s: Asterisk could not be asked: %s", tenant.pk, exc)
        limit = Tenant.objects.filter(pk=tenant.pk).values_list("max_recording_channels", flat=True).first()
        return LicencesNow(reachable=False, limit=int(limit or 0))
    channels = [item for item in channels or [] if isinstance(item, dict)]
    found = licences.listen_ins(channels, tenant.pk)
    devices = _devices(tenant, {f.endpoint for f in found} | {f.spied_endpoint for f in found})
    now = timezone.now()
    listen_ins = []
    for item in found:
        device = devices.get(item.endpoint)
        spied = devices.get(item.spied_endpoint)
        listen_ins.append(LiveListenIn(
            channel=item.channel, mode=item.mode, since=now - timedelta(seconds=item.seconds),
            listener=device.user if device else None, device=device, person=spied.user if spied else None,
            other_number=item.other_number, other_name=item.other_name, call_id=item.call_id))
    return LicencesNow(reachable=True, limit=int(pool.get("limit") or 0), in_use=int(pool.get("in_use") or 0),
                       listen_ins=listen_ins, live_channels=licences.company_channels(channels, tenant.pk))


def do_end_listen_in(actor: User, channel: str) -> dict[str, Any]:
    """A super user ends a listen-in: the listener's channel is hung up (ChanSpy ends, its licence is free)."""
    tenant = _require_super(actor)
    ended = ActionRefused(_("That listen-in has already ended."))
    if not licences.device_endpoint(channel, tenant.pk):
        raise ended  # not one of the company's phones: nothing to say about it
    (channels,) = _send(tenant, [step({"Action": "CoreShowChannels"})])
    found = next((f for f in licences.listen_ins(channels or [], tenant.pk) if f.channel == channel), None)
    if found is None:
        raise ended
    try:
        _send(tenant, [step({"Action": "Hangup", "Channel": found.channel})])
    except CallGone:
        raise ended from None
    call: LiveCall | None = None
    if found.call_id:
        try:
            call = find_call(actor, found.call_id)
        except CallGone:
            call = None
    listener = _devices(tenant, {found.endpoint}).get(found.endpoint)
    details = {"call_id": found.call_id, "channel": found.channel, "mode": found.mode,
               "listener_id": listener.user_id if listener else None, "spied": found.spied_channel,
               "number": found.other_number}
    with transaction.atomic():
        _audit(actor, call, tenant, "listen_end", details)
    return {"ok": True, "action": "end_listen_in", "channel": found.channel}


__all__ = ["MODE_LABELS", "LicencesNow", "LiveListenIn", "do_end_listen_in", "licences_now"]

"""Callback requests the dialplan keeps in AstDB (``pbxcb t<T>/<Uniqueid> = <dest>:<queue>:<number>:<epoch>``),
made to agree with the database on every AMI (re)connect of the bridge:

- an entry whose callback is done goes (its ``DBDel`` at "called back" was lost: Asterisk was away);
- an entry the database does not know is a request whose UserEvent the bridge never saw (it was away when the
  caller asked): it becomes a callback to make, notified like any other.

Only the node's own companies' entries are touched; a value that is not what the dialplan writes is left alone.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections import Counter

from pbx.asterisk.astdb import CALLBACK_FAMILY

log = logging.getLogger(__name__)

KEY_RE = re.compile(r"\A/" + CALLBACK_FAMILY + r"/t([0-9]+)/([0-9]+\.[0-9]+)\Z")
VALUE_RE = re.compile(r"\A([0-9]+):([0-9]+):(\+?[0-9]{2,20}):([0-9]+)\Z")


def reconcile(tenant_ids: list[int], entries: dict[str, str]) -> tuple[list[dict[str, str]], int]:
    """(AMI actions to send, callbacks taken in) for the AstDB ``entries`` of ``pbxcb`` (sync: the database)."""
    from pbx.actions.callbacks import do_record_callback_request
    from pbx.models import CallbackRequest

    wanted = set(tenant_ids)
    found: dict[tuple[int, str], tuple[str, str]] = {}
    for full_key, value in entries.items():
        key = KEY_RE.match(full_key)
        if key is not None and int(key[1]) in wanted:
            found[(int(key[1]), key[2])] = (full_key.removeprefix(f"/{CALLBACK_FAMILY}/"), value)
    if not found:
        return [], 0
    known = {
        (tenant_id, channel_id): status
        for tenant_id, channel_id, status in CallbackRequest.objects.filter(
            kind=CallbackRequest.Kind.REQUEST, tenant_id__in={t for t, _c in found},
            channel_id__in={c for _t, c in found}).values_list("tenant_id", "channel_id", "status")
    }
    actions, taken = [], 0
    for (tenant_id, channel_id), (key, value) in sorted(found.items()):
        status = known.get((tenant_id, channel_id))
        if status == CallbackRequest.Status.DONE:
            actions.append({"Action": "DBDel", "Family": CALLBACK_FAMILY, "Key": key})
        elif status is None and (parts := VALUE_RE.match(value)) is not None:
            destination_id, queue_id, number, epoch = parts.groups()
            callback = do_record_callback_request(
                None, tenant_id=tenant_id, kind=CallbackRequest.Kind.REQUEST, number=number, channel_id=channel_id,
                requested_at=dt.datetime.fromtimestamp(int(epoch), tz=dt.UTC), queue_id=int(queue_id),
                destination_id=int(destination_id))
            taken += callback is not None
    return actions, taken


async def reconcile_callbacks(tenant_ids: list[int], ami) -> Counter:
    from asgiref.sync import sync_to_async

    from pbx.asterisk.astdb_sync import send_all

    entries = await ami.db_tree(CALLBACK_FAMILY)
    actions, taken = await sync_to_async(reconcile)(tenant_ids, entries)
    errors = await send_all(ami, actions, ignore_errors=True)
    if errors:
        log.warning("callback requests: %d of %d AstDB deletions failed: %s", len(errors), len(actions),
                    errors[0].message)
    counts = Counter(a["Action"] for a in actions)
    if taken:
        counts["callbacks taken in"] = taken
    return counts

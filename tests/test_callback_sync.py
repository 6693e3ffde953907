"""The dialplan's callback entries in AstDB (``pbxcb``) agree with the database after every reconnect: a request
the bridge missed while it was away is taken in (and told), the entry of one called back meanwhile goes."""

from __future__ import annotations

import datetime as dt

from asgiref.sync import async_to_sync

from pbx.asterisk import astdb_sync
from pbx.asterisk.ami import AmiClient
from pbx.asterisk.astdb_sync import rewrite_all
from pbx.models import CallbackRequest, Destination
from tests.fake_asterisk import DEFAULT_SECRET, DEFAULT_USERNAME
from tests.fake_asterisk.pbx_fixtures import *  # noqa: F403 - fake, node, applied, no_pending_applies


def rewrite(row, fake):
    async def run():
        client = AmiClient("127.0.0.1", fake.ami.port, DEFAULT_USERNAME, DEFAULT_SECRET, events=False)
        await client.start()
        await client.wait_connected(5)
        try:
            return await rewrite_all(row, client)
        finally:
            await client.stop()

    return async_to_sync(run)()


def test_a_reconnect_takes_in_missed_requests_and_clears_those_called_back(applied, fake, demo, exempel, olle,
                                                                             mailoutbox,
                                                                             django_capture_on_commit_callbacks):
    support = demo.queues["Support"]
    destination = Destination.objects.create(tenant=demo.tenant, kind="callback", queue=support,
                                             notify_email="lead@demo.example")
    done = CallbackRequest.objects.create(tenant=demo.tenant, kind="request", queue=support, destination=destination,
                                          number="0700000001", channel_id="1795406800.1", status="done",
                                          done_by=olle, requested_at=dt.datetime.now(dt.UTC))
    t = demo.tenant.pk
    entries = {
        f"/pbxcb/t{t}/{done.channel_id}": f"{destination.pk}:{support.pk}:0700000001:1795406800",
        f"/pbxcb/t{t}/1795406900.7": f"{destination.pk}:{support.pk}:+46701234567:1795406900",  # missed
        f"/pbxcb/t{t}/1795406901.8": "not what the dialplan writes",
        f"/pbxcb/t{exempel.tenant.pk}/1795406902.9": f"{destination.pk}:{support.pk}:0709:1795406902",
    }
    fake.run(lambda: fake.state.astdb.update(entries))
    with django_capture_on_commit_callbacks(execute=True):
        counts = rewrite(applied, fake)
    assert counts["DBDel"] == 1 and counts["callbacks taken in"] == 1
    left = {k for k in fake.state.astdb if k.startswith("/pbxcb/")}
    assert left == set(entries) - {f"/pbxcb/t{t}/{done.channel_id}"}
    missed = CallbackRequest.objects.get(tenant=demo.tenant, channel_id="1795406900.7")
    assert (missed.number, missed.status, missed.queue_id) == ("+46701234567", "open", support.pk)
    assert missed.requested_at == dt.datetime.fromtimestamp(1795406900, tz=dt.UTC)
    # Exempel's entry names Demo's destination: not believed, nothing stored for either company.
    assert not CallbackRequest.objects.filter(channel_id="1795406902.9").exists()
    assert [m.to for m in mailoutbox] == [["lead@demo.example"]]

    # In step now: a second reconnect changes nothing.
    with django_capture_on_commit_callbacks(execute=True):
        again = rewrite(applied, fake)
    assert "DBDel" not in again and "callbacks taken in" not in again
    astdb_sync.close_writer()

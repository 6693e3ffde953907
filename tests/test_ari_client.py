"""pbx.asterisk.ari.AriClient against the fake ARI (REST + events websocket).  No Django, no database."""

from __future__ import annotations

import asyncio
import base64
import contextlib

import pytest
import websockets

from pbx.asterisk import AsteriskError
from pbx.asterisk.ari import AriClient, AriError
from tests.fake_asterisk import DEFAULT_SECRET, FakeAsterisk

pytestmark = pytest.mark.asyncio


@pytest.fixture
async def fake():
    f = FakeAsterisk(time_scale=0.001)
    await f.start(ami_port=None)
    yield f
    await f.stop()


class Recorder:
    def __init__(self):
        self.events, self.connects, self.disconnects = [], 0, []
        self.changed = asyncio.Event()

    def on_event(self, event):
        self.events.append(event)
        self.changed.set()

    def on_connect(self):
        self.connects += 1
        self.changed.set()

    def on_disconnect(self, exc):
        self.disconnects.append(exc)
        self.changed.set()

    def types(self):
        return [e["type"] for e in self.events]

    async def until(self, pred, timeout=2.0):
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not pred():
            remaining = deadline - loop.time()
            assert remaining > 0, f"condition not reached; events {self.types()}"
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), min(remaining, 0.05))


def make_client(fake, password=DEFAULT_SECRET, **kw):
    rec = Recorder()
    options = {"timeout": 1.0, "reconnect_min": 0.01, "reconnect_max": 0.1, "on_event": rec.on_event,
               "on_connect": rec.on_connect, "on_disconnect": rec.on_disconnect}
    options.update(kw)
    client = AriClient(f"http://127.0.0.1:{fake.ari.port}", "orchestrator", password, "orchestrator", **options)
    return client, rec


@pytest.fixture
async def ari(fake):
    client, rec = make_client(fake)
    client.recorder = rec
    await client.start()
    await client.wait_connected(2)
    yield client
    await client.stop()


async def stasis_channel(fake, ari) -> str:
    rec = ari.recorder
    fake.place_call("1001", "700")
    await rec.until(lambda: "StasisStart" in rec.types())
    return [e for e in rec.events if e["type"] == "StasisStart"][-1]["channel"]["id"]


async def test_rest_status_handling(fake, ari):
    cid = await stasis_channel(fake, ari)
    assert await ari.answer(cid) is None  # 204, empty body
    playback = await ari.play(cid, "sound:hello-world", playback_id="pb1")  # 201 + Location
    assert playback["id"] == "pb1" and playback["target_uri"] == f"channel:{cid}"
    assert (await ari.get_channel(cid))["state"] == "Up"
    assert (await ari.get_application())["channel_ids"] == [cid]
    assert await ari.get_variable(cid, "CALLERID(num)") == "1001"
    bridge = await ari.create_bridge(bridge_id="b1", name="conf")
    assert bridge["id"] == "b1" and bridge["bridge_type"] == "mixing"
    assert await ari.add_channel("b1", [cid]) is None
    assert (await ari.get_bridge("b1"))["channels"] == [cid]
    await ari.remove_channel("b1", cid)
    await ari.destroy_bridge("b1")
    await ari.hangup(cid)
    with pytest.raises(AriError) as err:
        await ari.get_channel(cid)
    assert (err.value.status, err.value.permanent) == (404, True)
    assert isinstance(err.value, AsteriskError) and "Channel not found" in err.value.message
    with pytest.raises(AriError) as err:
        await ari.add_channel("b1", cid)
    assert err.value.status == 404 and "Bridge not found" in err.value.message


async def test_not_in_stasis_is_a_permanent_conflict(fake, ari):
    fake.place_call("1001", "611")  # Answer + Wait: a dialplan channel outside Stasis
    [ch] = await ari.list_channels()
    with pytest.raises(AriError) as err:
        await ari.answer(ch["id"])
    assert (err.value.status, err.value.permanent, err.value.body) == (
        409, True, {"message": "Channel not in Stasis application"})


async def test_originate_bridge_snoop_continue(fake, ari):
    rec = ari.recorder
    a = await stasis_channel(fake, ari)
    b = await ari.originate("PJSIP/1002", app_args=["dialed", "b"], caller_id="ARI <4000>",
                            variables={"X": "1"})
    assert b["state"] == "Down" and b["caller"] == {"name": "ARI", "number": "4000"}
    await rec.until(lambda: sum(e["type"] == "StasisStart" for e in rec.events) == 2)
    await ari.create_bridge(bridge_id="br")
    await ari.add_channel("br", [a, b["id"]])
    snoop = await ari.snoop(a, spy="both", app_args="snoop", snoop_id="sn1")
    assert snoop["id"] == "sn1" and snoop["name"].startswith(f"Snoop/{a}-")
    await ari.continue_in_dialplan(b["id"], context="internal", extension="601", priority=1)
    await rec.until(lambda: "ChannelDestroyed" in rec.types())
    assert rec.types().count("StasisEnd") == 1
    await ari.hangup("sn1")
    await ari.hangup(a)
    await ari.destroy_bridge("br")
    await rec.until(lambda: "BridgeDestroyed" in rec.types())


async def test_credentials_only_in_the_authorization_header(fake, ari):
    await stasis_channel(fake, ari)
    await ari.list_channels()
    assert fake.ari.requests
    for req in fake.ari.requests:
        assert DEFAULT_SECRET not in req.target and "api_key" not in req.target
        assert req.headers["authorization"] == "Basic " + base64.b64encode(
            f"orchestrator:{DEFAULT_SECRET}".encode()).decode()


async def test_password_with_special_characters(fake):
    fake.ari.credentials = ("orchestrator", "p@ss w&rd:/?#")
    client, _ = make_client(fake, password="p@ss w&rd:/?#")
    await client.start()
    await client.wait_connected(2)
    assert await client.list_applications() == [
        {"name": "orchestrator", "channel_ids": [], "bridge_ids": [], "endpoint_ids": [], "device_names": [],
         "events_allowed": [], "events_disallowed": []}]
    await client.stop()


async def test_wrong_password(fake):
    client, rec = make_client(fake, password="nope")
    await client.start()
    with pytest.raises(AsteriskError) as err:
        await client.wait_connected(2)
    assert err.value.permanent and "401" in err.value.message
    with pytest.raises(AriError) as err:
        await client.list_channels()
    assert err.value.status == 401 and err.value.permanent
    await client.stop()


async def test_websocket_reconnects_and_events_are_not_queued(fake, ari):
    rec = ari.recorder
    cid = await stasis_channel(fake, ari)
    fake.ari.refuse_websockets = 10**6  # keep the client out while we act
    fake.ari.drop_websockets()
    await rec.until(lambda: rec.disconnects)
    assert not rec.disconnects[0].permanent
    await ari.play(cid, "sound:beep", playback_id="while-down")  # REST works without the websocket
    await asyncio.sleep(0.01)
    fake.ari.refuse_websockets = 0
    await rec.until(lambda: rec.connects == 2)
    assert ari.connected and ari.connect_count == 2
    await asyncio.sleep(0.05)
    assert not [e for e in rec.events if e.get("playback", {}).get("id") == "while-down"]
    fake.time_scale = 1.0
    await ari.play(cid, "sound:beep", playback_id="after")
    await rec.until(lambda: any(e.get("playback", {}).get("id") == "after" for e in rec.events))


async def test_application_replaced_stops_the_client(fake, ari):
    rec = ari.recorder
    auth = {"Authorization": "Basic " + base64.b64encode(f"orchestrator:{DEFAULT_SECRET}".encode()).decode()}
    other = await websockets.connect(f"ws://127.0.0.1:{fake.ari.port}/ari/events?app=orchestrator",
                                     additional_headers=auth, proxy=None)
    await rec.until(lambda: rec.disconnects)
    assert rec.types()[-1] == "ApplicationReplaced"
    assert ari.replaced and rec.disconnects[0].permanent and not ari.connected
    before = len([r for r in fake.ari.requests if r.path == "/ari/events"])
    await asyncio.sleep(0.25)
    assert len([r for r in fake.ari.requests if r.path == "/ari/events"]) == before  # no fight for the app
    await other.close()


async def test_stop_really_stops(fake):
    client, rec = make_client(fake)
    await client.start()
    await client.wait_connected(2)
    await client.stop()
    await rec.until(lambda: rec.disconnects)
    before = len([r for r in fake.ari.requests if r.path == "/ari/events"])
    await asyncio.sleep(0.25)
    assert len([r for r in fake.ari.requests if r.path == "/ari/events"]) == before
    assert not client.connected and rec.connects == 1


async def test_unreachable_asterisk_fails_fast():
    client = AriClient("http://127.0.0.1:9", "u", "p", "orchestrator", timeout=0.3, reconnect_min=0.05)
    with pytest.raises(AriError) as err:
        await client.list_channels()
    assert err.value.status == 0 and not err.value.permanent
    await client.start()
    with pytest.raises(AsteriskError):
        await client.wait_connected(0.2)
    await client.stop()


async def test_replayed_capture_events_reach_on_event_in_order(fake, ari):
    from tests.fake_asterisk.captures import ari_events

    sent = await fake.ari.replay("ari_bridge_snoop_continue")
    rec = ari.recorder
    await rec.until(lambda: len(rec.events) >= sent)
    assert rec.events == ari_events("ari_bridge_snoop_continue")


async def test_websocket_reconnect_backoff(fake):
    fake.ari.refuse_websockets = 4
    client, rec = make_client(fake, reconnect_min=0.02, reconnect_max=1.0)
    await client.start()
    await client.wait_connected(3)
    attempts = fake.ari.websocket_attempts()
    gaps = [b - a for a, b in zip(attempts, attempts[1:], strict=False)]
    nominal = [0.02, 0.04, 0.08, 0.16]  # reconnect_min * 2**n, each with +-20 % jitter
    assert len(gaps) == 4 and all(gap >= 0.8 * n for gap, n in zip(gaps, nominal, strict=True)), gaps
    assert gaps[0] < 0.1 and gaps[-1] > 2.5 * gaps[0], gaps
    assert rec.connects == 1 and client.last_error is None
    await client.stop()

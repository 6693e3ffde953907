"""pbx.asterisk.ami.AmiClient against the protocol-level fake Asterisk: actions, lists, errors, events, and
survival (disconnects, hung server, wrong secret, restart, stop).  No Django, no database."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from pbx.asterisk import AsteriskError
from pbx.asterisk.ami import AmiClient, encode_action
from tests.fake_asterisk import DEFAULT_SECRET, FakeAsterisk
from tests.fake_asterisk.state import AsteriskState

pytestmark = pytest.mark.asyncio


@pytest.fixture
async def fake():
    f = FakeAsterisk(time_scale=0.001, auth_fail_delay=0.02)
    await f.start(ari_port=None)
    yield f
    await f.stop()


class Recorder:
    def __init__(self):
        self.events, self.connects, self.disconnects = [], 0, []
        self.changed = asyncio.Event()

    def on_event(self, event):
        self.events.append(event)
        self.changed.set()

    async def on_connect(self):
        self.connects += 1
        self.changed.set()

    def on_disconnect(self, exc):
        self.disconnects.append(exc)
        self.changed.set()

    async def until(self, pred, timeout=2.0):
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not pred():
            remaining = deadline - loop.time()
            assert remaining > 0, "condition not reached"
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), min(remaining, 0.05))


def make_client(fake, rec=None, **kw):
    rec = rec or Recorder()
    options = {"timeout": 0.5, "ping_interval": 5.0, "reconnect_min": 0.01, "reconnect_max": 0.1,
               "boot_timeout": 0.5, "on_event": rec.on_event, "on_connect": rec.on_connect,
               "on_disconnect": rec.on_disconnect}
    options.update(kw)
    return AmiClient("127.0.0.1", fake.ami.port, "orchestrator", DEFAULT_SECRET, **options), rec


@pytest.fixture
async def client(fake):
    c, rec = make_client(fake)
    c.recorder = rec
    await c.start()
    await c.wait_connected(2)
    yield c
    await c.stop()


# ---------------------------------------------------------------------- actions
async def test_actions_lists_and_errors(fake, client):
    assert client.connected and client.recorder.connects == 1
    pong = await client.ping()
    assert pong["Ping"] == "Pong" and pong.headers[0] == ("Response", "Success")
    await client.db_put("presence", "1001", "away")
    assert await client.db_get("presence", "1001") == "away"
    assert await client.db_get("presence", "nope") is None
    assert await client.db_tree("presence") == {"/presence/1001": "away"}
    await client.db_del("presence", "1001")
    await client.db_del("presence", "1001")  # missing is fine by default
    with pytest.raises(AsteriskError) as err:
        await client.db_del("presence", "1001", missing_ok=False)
    assert err.value.message == "Database entry could not be deleted" and err.value.permanent
    await client.db_deltree("nothing-here")
    items = await client.action({"Action": "QueueStatus"})
    assert [i["Event"] for i in items] == ["QueueParams", "QueueMember", "QueueParams"]
    assert await client.action({"Action": "CoreShowChannels"}) == []
    with pytest.raises(AsteriskError, match="Invalid/unknown command: NoSuchAction"):
        await client.action({"Action": "NoSuchAction"})
    with pytest.raises(AsteriskError, match="No such channel"):
        await client.hangup("PJSIP/nonexistent-00000000")


async def test_command_setvar_reload(fake, client):
    assert (await client.command("core show version"))[0].startswith("Asterisk 22.10.1")
    with pytest.raises(AsteriskError, match="No such command 'bogus cli'"):
        await client.command("bogus cli")
    await client.setvar("DEVICE_STATE(Custom:agent99)", "INUSE")
    assert await client.getvar("DEVICE_STATE(Custom:agent99)") == "INUSE"
    await client.reload_module("app_queue.so")
    fake.ami.fail_reload("pbx_config")
    with pytest.raises(AsteriskError, match="An unknown error occurred"):
        await client.reload_module("pbx_config.so")
    assert fake.ami.reloads == ["app_queue"]


async def test_originate_is_always_async_and_can_wait(fake, client):
    queued = await client.originate("PJSIP/1002", context="internal", exten="601", caller_id="Op <5555>",
                                    variables={"FOO": "bar", "BAZ": "qux"})
    assert queued["Message"] == "Originate successfully queued"
    sent = fake.ami.actions("Originate")[0]
    assert sent.get("Async") == "true" and sent.getall("Variable") == ["FOO=bar", "BAZ=qux"]
    await client.action({"Action": "Originate", "Channel": "PJSIP/1002", "Application": "Wait", "Data": "1",
                         "async": "false"})
    assert fake.ami.actions("Originate")[1].getall("Async") == ["true"]  # forced, even against the caller
    result = await client.originate("PJSIP/1003", context="internal", exten="601", wait=True, wait_timeout=1)
    assert (result["Event"], result["Response"], result["Reason"]) == ("OriginateResponse", "Failure", "0")
    result = await client.originate("PJSIP/1002", application="Wait", data="1", wait=True, wait_timeout=1)
    assert result["Response"] == "Success" and result["Reason"] == "4"


async def test_concurrent_actions_are_correlated(fake, client):
    for i in range(20):
        await client.db_put("bulk", f"k{i}", str(i))
    values = await asyncio.gather(*(client.db_get("bulk", f"k{i}") for i in range(20)))
    assert values == [str(i) for i in range(20)]


async def test_header_injection_is_refused(client):
    with pytest.raises(ValueError):
        await client.db_put("family", "key", "value\r\nAction: Originate")
    with pytest.raises(ValueError):
        encode_action({"Action": "Ping", "Bad:Key": "x"})


# ---------------------------------------------------------------------- events
async def test_events_in_order(fake, client):
    rec = client.recorder
    call = fake.place_call("1001", "1002")
    await rec.until(lambda: sum(e.event == "BridgeEnter" for e in rec.events) == 2)
    fake.hangup(call.caller)
    await rec.until(lambda: sum(e.event == "Hangup" for e in rec.events) == 2)
    names = [e.event for e in rec.events if e.event in ("Newchannel", "DialBegin", "BridgeEnter", "Hangup")]
    assert names == ["Newchannel", "Newchannel", "DialBegin", "BridgeEnter", "BridgeEnter", "Hangup", "Hangup"]


async def test_events_wait_for_on_connect(fake):
    order = []
    started = asyncio.Event()

    async def on_connect():
        order.append("connect-start")
        started.set()
        await asyncio.sleep(0.05)
        order.append("connect-end")

    c = AmiClient("127.0.0.1", fake.ami.port, "orchestrator", DEFAULT_SECRET, timeout=0.5,
                  on_connect=on_connect, on_event=lambda e: order.append(e.event))
    await c.start()
    await started.wait()
    fake.ami.emit([("Event", "UserEvent"), ("UserEvent", "x")])
    await asyncio.sleep(0.1)
    await c.stop()
    assert order.index("connect-end") < order.index("UserEvent")


async def test_utf8_split_across_reads(fake, client):
    """Bytes fed to the live connection's protocol in two reads, cut inside a two-byte character."""
    rec = client.recorder
    data = "Event: Newchannel\r\nCallerIDName: Åsa Öberg\r\n\r\n".encode()
    cut = data.index("Å".encode()) + 1
    protocol = client._manager.protocol
    protocol.data_received(data[:cut])
    protocol.data_received(data[cut:])
    await rec.until(lambda: any(e.event == "Newchannel" for e in rec.events))
    assert [e["CallerIDName"] for e in rec.events if e.event == "Newchannel"] == ["Åsa Öberg"]


# ---------------------------------------------------------------------- survival
async def test_action_while_disconnected_fails_within_timeout():
    c = AmiClient("127.0.0.1", 9, "orchestrator", "x", timeout=0.2, reconnect_min=0.05, reconnect_max=0.1)
    await c.start()
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    with pytest.raises(AsteriskError) as err:
        await c.ping()
    assert loop.time() - t0 < 0.5 and "not connected" in err.value.message and not err.value.permanent
    await c.stop()


async def test_dropped_connection_reconnects_and_calls_on_connect_again(fake, client):
    rec = client.recorder
    fake.ami.drop_all()
    await rec.until(lambda: rec.connects == 2)
    assert len(rec.disconnects) == 1 and isinstance(rec.disconnects[0], AsteriskError)
    assert client.connected and (await client.ping())["Ping"] == "Pong"


async def test_reconnect_uses_exponential_backoff(fake):
    c, rec = make_client(fake, reconnect_min=0.02, reconnect_max=1.0)
    fake.ami.reset_next_connections = 4  # the next four connections are accepted, then reset
    await c.start()
    await c.wait_connected(3)
    times = fake.ami.connections[-5:]
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    nominal = [0.02, 0.04, 0.08, 0.16]  # reconnect_min * 2**n, each with +-20 % jitter
    assert all(gap >= 0.8 * n for gap, n in zip(gaps, nominal, strict=True)), gaps
    assert gaps[0] < 0.1 and gaps[-1] > 2.5 * gaps[0], gaps
    assert rec.connects == 1
    await c.stop()


async def test_watchdog_aborts_a_hung_asterisk_and_reconnects(fake):
    c, rec = make_client(fake, ping_interval=0.05, ping_timeout=0.05, timeout=0.1)
    await c.start()
    await c.wait_connected(2)
    fake.ami.hang()
    await rec.until(lambda: rec.disconnects)
    assert "watchdog" in rec.disconnects[0].message and not c.connected
    with pytest.raises(AsteriskError):
        await c.ping()
    fake.ami.unhang()
    await rec.until(lambda: rec.connects == 2)
    assert (await c.ping())["Ping"] == "Pong"
    await c.stop()


async def test_wrong_secret_is_a_clear_permanent_error(fake):
    c = AmiClient("127.0.0.1", fake.ami.port, "orchestrator", "wrong", timeout=0.5, reconnect_min=0.01,
                  reconnect_max=0.05)
    await c.start()
    with pytest.raises(AsteriskError) as err:
        await c.wait_connected(0.5)
    assert err.value.permanent and "Authentication failed" in err.value.message
    assert "wrong username or secret" in err.value.message
    with pytest.raises(AsteriskError) as err:
        await c.ping()
    assert err.value.permanent
    await c.stop()


async def test_restart_rewrites_state_in_on_connect(fake):
    async def on_connect():
        await c.db_put("forward", "1001", "0701234567")  # the orchestrator rewrites AstDB on every connect

    c = AmiClient("127.0.0.1", fake.ami.port, "orchestrator", DEFAULT_SECRET, timeout=0.5, reconnect_min=0.01,
                  reconnect_max=0.05, on_connect=on_connect)
    await c.start()
    await c.wait_connected(1)
    await asyncio.sleep(0.02)
    assert fake.state.astdb == {"/forward/1001": "0701234567"}
    await fake.ami.restart(AsteriskState.default(), reset_first=True, boot_delay=0.05)
    assert fake.state.astdb == {}
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 2
    while fake.state.astdb != {"/forward/1001": "0701234567"}:
        assert loop.time() < deadline
        await asyncio.sleep(0.01)
    assert c.connect_count == 2
    await c.stop()


async def test_stop_really_stops(fake):
    c, rec = make_client(fake)
    await c.start()
    await c.wait_connected(1)
    await c.stop()
    assert not c.connected
    before = len(fake.ami.connections)
    fake.ami.drop_all()
    await asyncio.sleep(0.3)  # several reconnect_max periods
    assert len(fake.ami.connections) == before and rec.connects == 1
    with pytest.raises(AsteriskError):
        await c.ping()
    assert fake.ami.actions("Logoff")  # a polite Logoff was sent


# ---------------------------------------------------------------------- login refusals (main/manager.c)
async def test_shutting_down_refusal_is_retried_quickly_not_after_the_longest_backoff(fake):
    """``core restart now``: the old process still answers, every Login gets "Asterisk is shutting down"."""
    c, rec = make_client(fake, reconnect_min=0.02, reconnect_max=30.0, refusal_max=0.1)
    await c.start()
    await c.wait_connected(2)
    loop = asyncio.get_running_loop()
    started = loop.time()
    restart = loop.create_task(fake.ami.restart(AsteriskState.default(), shutdown_window=0.4))
    await rec.until(lambda: rec.disconnects)
    with pytest.raises(AsteriskError) as err:  # refused for now: waits its whole timeout, not a permanent failure
        await c.wait_connected(0.15)
    assert not err.value.permanent
    await restart
    await rec.until(lambda: rec.connects == 2, timeout=3.0)
    assert loop.time() - started < 1.5  # 30 s (reconnect_max) if the refusal were taken as permanent
    refused = [r for _sid, r in fake.ami.received if r.action.lower() == "login"][1:-1]
    assert len(refused) >= 2  # retried during the shutdown, each answered as Asterisk does
    assert c.last_error is None and (await c.ping())["Ping"] == "Pong"
    await c.stop()


async def test_shutting_down_is_answered_like_manager_c_and_keeps_the_session(fake):
    reader, writer = await asyncio.open_connection("127.0.0.1", fake.ami.port)
    await reader.readline()  # banner
    fake.ami.shutting_down = True
    writer.write(b"Action: Login\r\nActionID: 1\r\nUsername: orchestrator\r\nSecret: x\r\n\r\n"
                 b"Action: Ping\r\nActionID: 2\r\n\r\n")
    replies = [await reader.readuntil(b"\r\n\r\n") for _ in range(2)]
    assert replies == [b"Response: Error\r\nActionID: 1\r\nMessage: Asterisk is shutting down\r\n\r\n",
                       b"Response: Error\r\nActionID: 2\r\nMessage: Asterisk is shutting down\r\n\r\n"]
    writer.close()


async def test_login_refusal_other_than_a_wrong_secret_is_temporary(fake):
    """allowmultiplelogin = no and our old session still counted: "Login Already In Use" passes."""
    fake.ami.single_login.add("orchestrator")
    first, _ = make_client(fake)
    await first.start()
    await first.wait_connected(2)
    second, rec = make_client(fake, reconnect_max=30.0, refusal_max=0.05)
    await second.start()
    with pytest.raises(AsteriskError) as err:
        await second.wait_connected(0.2)
    assert not err.value.permanent and "Login Already In Use" in second.last_error.message
    assert type(second.last_error).__name__ == "LoginRefused"
    await first.stop()
    await second.wait_connected(2)  # within refusal_max of the old session's end
    assert rec.connects == 1
    await second.stop()


async def test_permission_denied_for_the_login_is_temporary(fake):
    fake.ami.login_unregistered = True
    c, rec = make_client(fake, reconnect_max=30.0, refusal_max=0.05)
    await c.start()
    with pytest.raises(AsteriskError) as err:
        await c.wait_connected(0.2)
    assert not err.value.permanent and c.last_error.message.endswith("refused for now: Permission denied")
    fake.ami.login_unregistered = False
    await c.wait_connected(1)
    assert rec.connects == 1
    await c.stop()


async def test_wrong_secret_waits_the_longest_backoff(fake):
    c = AmiClient("127.0.0.1", fake.ami.port, "orchestrator", "wrong", timeout=0.5, reconnect_min=0.01,
                  reconnect_max=0.3, refusal_max=0.01)
    await c.start()
    await asyncio.sleep(0.5)
    # the first try, then at most one after ~0.3 s (reconnect_max): no quick retries every refusal_max
    assert 1 <= len(fake.ami.connections) <= 2
    assert c.last_error.permanent
    await c.stop()


async def test_after_refusals_the_restart_itself_is_retried_from_the_shortest_wait(fake):
    """Real Asterisk 22.10.1, ``core restart gracefully`` with a call up: Logins are refused "Asterisk is
    shutting down" for as long as the call lasts, then connections are refused while it restarts. The
    refusals prove Asterisk was alive, so the refused connections start the backoff again."""
    c, rec = make_client(fake, reconnect_min=0.02, reconnect_max=30.0, refusal_max=0.1)
    await c.start()
    await c.wait_connected(2)
    loop = asyncio.get_running_loop()
    await fake.ami.restart(AsteriskState.default(), shutdown_window=0.6, downtime=0.3)
    back = loop.time()
    await rec.until(lambda: rec.connects == 2, timeout=5.0)
    # 0.02 * 2**n after ~10 refusals would be seconds; from the shortest wait it is under 0.35 s
    assert loop.time() - back < 0.5
    await c.stop()

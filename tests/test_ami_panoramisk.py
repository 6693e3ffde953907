"""The gaps of panoramisk 1.4 that pbx.asterisk.ami's wrapper closes, one test each.

Every test runs twice against the protocol-level fake Asterisk: with ``AmiClient`` ("ours", must pass) and with
panoramisk's ``Manager`` used as its documentation shows ("plain", marked ``xfail(strict=True)``: the test must
fail there, on an assertion or a timeout, which shows that the gap is real and that the test sees it)."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from _pytest.outcomes import Failed
from panoramisk import Manager

from pbx.asterisk import AsteriskError
from pbx.asterisk.ami import AmiClient
from tests.fake_asterisk import DEFAULT_SECRET, DEFAULT_USERNAME, FakeAsterisk

pytestmark = pytest.mark.asyncio

HANG = 1.0  # longer than any answer of ours takes: plain panoramisk's hangs end here as TimeoutError


class Ours:
    retry_period = 0.05

    def __init__(self, port, secret=DEFAULT_SECRET, **options):
        self.events = []
        options = {"timeout": 0.5, "reconnect_min": 0.01, "reconnect_max": 0.05, "boot_timeout": 0.5,
                   "on_event": self.events.append, **options}
        self.client = AmiClient("127.0.0.1", port, DEFAULT_USERNAME, secret, **options)

    async def connect(self):
        await self.client.start()
        await self.client.wait_connected(HANG)

    ready = connect

    @property
    def logged_in(self):
        return self.client.connected

    async def action(self, action):
        return await self.client.action(action)

    async def stop(self):
        await self.client.stop()

    dispose = stop


class Plain:
    """panoramisk's Manager as its README uses it (its shortest reconnect_timeout that is not a busy loop)."""

    retry_period = 1.0

    def __init__(self, port, secret=DEFAULT_SECRET, **_):
        self.events = []
        self.manager = Manager(loop=asyncio.get_running_loop(), host="127.0.0.1", port=port,
                               username=DEFAULT_USERNAME, secret=secret, reconnect_timeout=1, ping_delay=1,
                               ping_interval=1)
        self.manager.register_event("*", lambda manager, event: self.events.append(event))

    async def connect(self):
        await self.manager.connect()

    async def ready(self):
        """As careful as panoramisk allows: connected, and the Login answered."""
        await self.manager.connect()
        await asyncio.wait_for(self.manager.authenticated_future, HANG)

    @property
    def logged_in(self):
        protocol = self.manager.protocol
        return bool(self.manager.authenticated and protocol is not None and not protocol.closed)

    async def action(self, action):
        return await self.manager.send_action(dict(action))

    async def stop(self):
        self.manager.close()

    async def dispose(self):  # end its retry loop (close() cannot), so that nothing leaks into the next test
        self.manager.connect = lambda *a, **k: None
        self.manager.connection_lost = lambda exc: None
        self.manager.close()


@pytest.fixture
async def fake():
    # Every class, as the captures were recorded (read = write = all), for byte-level comparisons.
    f = FakeAsterisk(time_scale=0.001, auth_fail_delay=0.02,
                     ami_read="all", ami_write="all")
    await f.start(ari_port=None)
    yield f
    await f.stop()


GAP = (AssertionError, TimeoutError, Failed)


@pytest.fixture(params=["ours", pytest.param("plain", marks=pytest.mark.xfail(
    strict=True, raises=GAP, reason="a gap of plain panoramisk 1.4"))])
async def make(request, fake):
    made = []

    def factory(port=None, **options):
        subject = (Ours if request.param == "ours" else Plain)(port or fake.ami.port, **options)
        made.append(subject)
        return subject

    yield factory
    for subject in made:
        await subject.dispose()


async def until(pred, timeout=HANG):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not pred():
        assert loop.time() < deadline, "condition not reached"
        await asyncio.sleep(0.01)


def bounded(coro, timeout=HANG):
    return asyncio.wait_for(coro, timeout)


# ---------------------------------------------------------------------- login
async def test_connect_returns_once_logged_in(make):
    s = make()
    await bounded(s.connect())
    assert s.logged_in  # panoramisk's connect() returns as soon as TCP is up


async def test_wrong_secret_is_a_permanent_error(make):
    s = make(secret="wrong")
    with pytest.raises(AsteriskError) as err:  # panoramisk: authenticated=False, no error
        await bounded(s.connect())
    assert err.value.permanent and "Authentication failed" in err.value.message


# ---------------------------------------------------------------------- replies
async def test_queue_member_actions_resolve(fake, make):
    s = make()
    await s.ready()
    iface = "PJSIP/1003"
    added = await bounded(s.action({"Action": "QueueAdd", "Queue": "support", "Interface": iface}))
    assert added["Message"] == "Added interface to queue"  # panoramisk takes it for a list and waits forever
    paused = await bounded(s.action({"Action": "QueuePause", "Queue": "support", "Interface": iface,
                                     "Paused": "true"}))
    assert paused["Message"] == "Interface paused successfully"
    removed = await bounded(s.action({"Action": "QueueRemove", "Queue": "support", "Interface": iface}))
    assert removed["Message"] == "Removed interface from queue"


async def test_atxfer_replies_keep_the_connection(fake, make):
    s = make()
    await s.ready()
    call = fake.place_call("1001", "1002")
    await asyncio.sleep(0.05)
    reply = await bounded(s.action({"Action": "Atxfer", "Channel": call.caller.name, "Exten": "1003",
                                    "Context": "internal"}))
    assert reply["Message"] == "Atxfer successfully queued"  # panoramisk: KeyError 'async', connection dropped
    reply = await bounded(s.action({"Action": "CancelAtxfer", "Channel": call.caller.name}))
    assert reply["Message"] == "CancelAtxfer successfully queued"
    pong = await bounded(s.action({"Action": "Ping"}))
    assert pong["Ping"] == "Pong" and len(fake.ami.connections) == 1


async def test_originate_without_async_keeps_the_connection(fake, make):
    s = make()
    await s.ready()
    reply = await bounded(s.action({"Action": "Originate", "Channel": "PJSIP/1002", "Application": "Wait",
                                    "Data": "1"}))
    assert reply["Message"] == "Originate successfully queued"  # panoramisk issue #90
    assert fake.ami.actions("Originate")[0].get("Async") == "true" and len(fake.ami.connections) == 1


async def test_last_header_with_an_empty_value_is_kept(fake, make):
    s = make()
    await s.ready()
    fake.ami.emit([("Event", "VarSet"), ("Privilege", "dialplan,all"), ("Channel", "PJSIP/1001-00000001"),
                   ("Variable", "BRIDGEPEER"), ("Value", "")])
    await until(lambda: any(e.get("Event") == "VarSet" for e in s.events))
    (varset,) = [e for e in s.events if e.get("Event") == "VarSet"]
    assert varset.get("Value") == ""  # panoramisk's Message.from_line drops "Value:" at the end of a block


async def test_header_injection_is_refused(fake, make):
    s = make()
    await s.ready()
    injected = "v\r\n\r\nAction: Originate\r\nChannel: PJSIP/1002\r\nApplication: Wait\r\nData: 1\r\nAsync: true"
    with pytest.raises(ValueError):  # panoramisk writes it as it is: Asterisk reads a second request
        await bounded(s.action({"Action": "DBPut", "Family": "f", "Key": "k", "Val": injected}))
    await bounded(s.action({"Action": "Ping"}))
    assert fake.ami.actions("Originate") == []


# ---------------------------------------------------------------------- connection
async def test_pending_action_fails_at_disconnect_and_is_never_resent(fake, make):
    s = make()
    await s.ready()
    fake.ami.hang()  # the Originate below is read and never answered
    pending = asyncio.ensure_future(s.action({"Action": "Originate", "Channel": "PJSIP/1002",
                                              "Application": "Wait", "Data": "1", "Async": "true"}))
    await asyncio.sleep(0.05)
    fake.ami.drop_all()
    fake.ami.unhang()
    (outcome,) = await asyncio.gather(bounded(pending, HANG + Plain.retry_period), return_exceptions=True)
    await until(lambda: s.logged_in, HANG + Plain.retry_period)
    await bounded(s.action({"Action": "Ping"}))
    # panoramisk sends it again after the next FullyBooted: a second Originate is a second call
    assert fake.ami.actions("Originate") == []
    assert isinstance(outcome, AsteriskError) and not outcome.permanent and "connection lost" in outcome.message


async def test_action_while_disconnected_fails_within_the_timeout(fake, make):
    s = make()
    await s.ready()
    await fake.stop()
    await until(lambda: not s.logged_in)
    with pytest.raises(AsteriskError) as err:  # panoramisk: the future never resolves
        await bounded(s.action({"Action": "Ping"}))
    assert not err.value.permanent


async def test_hung_asterisk_is_noticed(fake, make):
    s = make(ping_interval=0.05, ping_timeout=0.05)
    await s.ready()
    fake.ami.hang()
    await until(lambda: not s.logged_in and len(fake.ami.connections) > 1)  # panoramisk's pings see nothing
    fake.ami.unhang()
    await until(lambda: s.logged_in)


async def test_stop_during_reconnect_stops(make):
    accepted = []

    async def hang_up(reader, writer):  # a server that accepts and closes at once: clients keep retrying
        accepted.append(asyncio.get_running_loop().time())
        writer.write(b"Asterisk Call Manager/11.0.0\r\n")
        writer.close()

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    try:
        s = make(port=server.sockets[0].getsockname()[1])
        await s.connect() if isinstance(s, Plain) else await s.client.start()
        await until(lambda: len(accepted) >= 2, HANG + Plain.retry_period * 2)
        await s.stop()  # panoramisk's close() leaves its call_later(reconnect_timeout, connect) in place
        before = len(accepted)
        await asyncio.sleep(max(0.3, 1.5 * s.retry_period))
        assert len(accepted) == before
    finally:
        server.close()
        await server.wait_closed()


async def test_utf8_character_split_across_reads(make):
    event = "Event: Newchannel\r\nChannel: PJSIP/1001-00000001\r\nCallerIDName: Åsa Öberg\r\n\r\n".encode()
    cut = event.index("Å".encode()) + 1  # inside the two bytes of Å

    async def serve(reader, writer):
        writer.write(b"Asterisk Call Manager/11.0.0\r\n")
        while True:
            try:
                request = (await reader.readuntil(b"\r\n\r\n")).decode()
            except (asyncio.IncompleteReadError, ConnectionError):
                return
            headers = dict(line.split(": ", 1) for line in request.strip().split("\r\n"))
            headers = {k.lower(): v for k, v in headers.items()}
            action, action_id = headers.get("action", "").lower(), headers.get("actionid", "")
            status = "Goodbye" if action == "logoff" else "Success"
            writer.write(f"Response: {status}\r\nActionID: {action_id}\r\n\r\n".encode())
            if action == "login":
                writer.write(b"Event: FullyBooted\r\nPrivilege: system,all\r\nStatus: Fully Booted\r\n\r\n")
                await writer.drain()
                await asyncio.sleep(0.05)
                writer.write(event[:cut])  # two reads for the client
                await writer.drain()
                await asyncio.sleep(0.1)
                writer.write(event[cut:])
            await writer.drain()
            if action == "logoff":
                writer.close()
                return

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    try:
        s = make(port=server.sockets[0].getsockname()[1])
        await s.ready()
        await until(lambda: any(e.get("Event") == "Newchannel" for e in s.events))
        (newchannel,) = [e for e in s.events if e.get("Event") == "Newchannel"]
        assert newchannel["CallerIDName"] == "Åsa Öberg"  # panoramisk: "sa Öberg"
    finally:
        with contextlib.suppress(Exception):
            await s.stop()
        server.close()
        await server.wait_closed()

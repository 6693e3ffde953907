"""The fake Asterisk against the real captures (tests/fixtures/asterisk): same requests -> same replies, same
event shapes, same call-flow event sequences, and the ARI behaviours the captures show.

No Django here: these tests only need asyncio sockets.
"""

from __future__ import annotations

import asyncio
import base64
import json

import httpx
import pytest
import websockets

from tests.fake_asterisk import FakeAsterisk
from tests.fake_asterisk.captures import (
    FIXTURES,
    NOISE_EVENTS,
    ami_events,
    ami_records,
    event_name,
    event_schemas,
    parse_raw,
)
from tests.fake_asterisk.state import AsteriskState
from tests.fake_asterisk.wire import BANNER, encode, parse_block

pytestmark = pytest.mark.asyncio

# values that depend on the clock, the TCP ports or the process (never compared)
VOLATILE = {"Timestamp", "Uptime", "LastReload", "EventTV", "SessionTV", "SessionID", "LocalAddress",
            "RemoteAddress", "LoginTime", "LastPause", "LastCall", "Uniqueid", "Linkedid", "BridgeUniqueid",
            "CoreStartupDate", "CoreStartupTime", "CoreReloadDate", "CoreReloadTime", "CoreProcessedCalls"}


@pytest.fixture
async def fake():
    # Every class, as the captures were recorded (read = write = all), for byte-level comparisons.
    f = FakeAsterisk(time_scale=0.001, auth_fail_delay=0.02,
                     ami_read="all", ami_write="all")
    await f.start()
    yield f
    for conn in AmiConn.opened:
        conn.close()
    AmiConn.opened.clear()
    await f.stop()


class AmiConn:
    """A raw AMI connection for protocol-level assertions."""

    opened: list[AmiConn] = []  # closed by the fixture

    def __init__(self, reader, writer):
        self.reader, self.writer = reader, writer
        self.buffer = b""
        self.pending: list[list[tuple[str, str]]] = []
        self.raw: dict[int, bytes] = {}  # id(parsed message) -> its exact bytes on the wire
        self.eof = False

    @classmethod
    async def open(cls, port: int) -> AmiConn:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        conn = cls(reader, writer)
        cls.opened.append(conn)
        conn.banner = await reader.readline()
        return conn

    def send_raw(self, raw: str | bytes) -> None:
        self.writer.write(raw.encode() if isinstance(raw, str) else raw)

    def send(self, *pairs: tuple[str, str]) -> None:
        self.send_raw("".join(f"{k}: {v}\r\n" for k, v in pairs) + "\r\n")

    async def read(self, count: int, timeout: float = 1.0) -> list[list[tuple[str, str]]]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(self.pending) < count and not self.eof:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            try:
                data = await asyncio.wait_for(self.reader.read(65536), remaining)
            except TimeoutError:
                break
            if not data:
                self.eof = True
                break
            self.buffer += data
            *blocks, self.buffer = self.buffer.split(b"\r\n\r\n")  # the fake always frames with CRLF
            for block in blocks:
                msg = parse_block(block.decode(), exact=True)
                self.raw[id(msg)] = block + b"\r\n\r\n"
                self.pending.append(msg)
        out, self.pending = self.pending[:count], self.pending[count:]
        return out

    async def read_until(self, pred, timeout: float = 1.0):
        got = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            msgs = await self.read(1, deadline - loop.time())
            if not msgs:
                break
            got += msgs
            if pred(msgs[0]):
                return got
        raise AssertionError(f"condition not met; got {[m[0] for m in got]}")

    async def login(self, events: str = "on"):
        self.send(("Action", "Login"), ("Username", "orchestrator"), ("Secret", "orchestrator-secret"),
                  ("Events", events))
        return await self.read(3 if events == "on" else 1)

    def close(self):
        if not self.writer.is_closing():
            self.writer.close()


def relevant(headers) -> bool:
    """Captured messages that a request caused (drops SIP registration and dialplan noise)."""
    name = event_name(headers)
    if not name:
        return True
    return name not in NOISE_EVENTS or dict(headers).get("Service") == "AMI"


def assert_same_message(expected, actual, *, where: str):
    exp_keys, act_keys = [k for k, _ in expected], [k for k, _ in actual]
    assert act_keys == exp_keys, f"{where}: header order differs\nexpected {exp_keys}\nactual   {act_keys}"
    for (k, ev), (_, av) in zip(expected, actual, strict=True):
        if k not in VOLATILE:
            assert av == ev, f"{where}: {k}: expected {ev!r}, got {av!r}"


async def replay_requests(fake: FakeAsterisk, capture: str) -> int:
    """Send every request of a capture to the fake (one TCP connection per captured connection) and compare
    the replies, message by message, with the captured ones."""
    records = [r for r in ami_records(capture) if r["dir"] in ("send", "recv")]
    conns: dict[str, AmiConn] = {}
    compared = 0
    for i, rec in enumerate(records):
        name = rec["conn"]
        if rec["dir"] == "recv":
            if name not in conns and rec["raw"].startswith("Asterisk Call Manager"):
                conns[name] = await AmiConn.open(fake.ami.port)
                assert conns[name].banner == BANNER
            continue
        conn = conns[name]
        if conn.eof:
            continue  # r_error_responses sends a Login on the socket Asterisk already closed
        conn.send_raw(rec["raw"])
        expected = []
        for nxt in records[i + 1:]:
            if nxt["conn"] != name:
                continue
            if nxt["dir"] == "send":
                break
            headers = parse_raw(nxt["raw"])
            assert encode(headers) == nxt["raw"].encode()  # the capture round-trips through our parser
            if relevant(headers):
                expected.append(headers)
        actual = await conn.read(len(expected))
        assert len(actual) == len(expected), (
            f"{capture}: reply to {parse_raw(rec['raw'])[:2]}: expected {[m[0] for m in expected]}, "
            f"got {[m[0] for m in actual]}")
        for exp, act in zip(expected, actual, strict=True):
            where = f"{capture} {parse_raw(rec['raw'])[:2]}"
            assert_same_message(exp, act, where=where)
            if not VOLATILE & {k for k, _ in exp}:  # nothing clock/port dependent: the very same bytes
                assert conn.raw[id(act)] == encode(exp), where
            compared += 1
    for conn in conns.values():
        conn.close()
    return compared


# ---------------------------------------------------------------------- replies identical to the captures
@pytest.mark.parametrize("capture", ["a_login_banner_fullybooted", "a_login_events_off", "l_astdb",
                                     "r_error_responses"])
async def test_replies_match_capture(fake, capture):
    assert await replay_requests(fake, capture) > 3


async def test_queue_member_actions_match_capture(fake):
    # the support queue had one answered and one abandoned call before f_queue_member_actions was recorded
    support = fake.state.queues["support"]
    support.completed, support.abandoned, support.talktime, support.completed_in_sl = 1, 1, 3, 1
    support.members["pjsip/1002"].calls_taken = 1
    assert await replay_requests(fake, "f_queue_member_actions") > 40
    log = [line.split("|", 1)[1] for line in fake.state.queue_log]
    assert log == [
        "MANAGER|sales|PJSIP/1001|ADDMEMBER|",
        "NONE|sales|Agent 1001|PAUSE|lunch",
        "NONE|NONE|Agent 1001|UNPAUSEALL|",
        "NONE|sales|Agent 1001|UNPAUSE|",
        "NONE|sales|PJSIP/1001|PENALTY|3",
        "MANAGER|sales|PJSIP/1001|REMOVEMEMBER|",
        "NONE|support|Agent 1002|PAUSE|break",
        "NONE|support|Agent 1002|UNPAUSE|",
    ]
    captured = (FIXTURES / "queue_log" / "f_queue_member_actions.queue_log").read_text().splitlines()
    assert [line.split("|", 1)[1] for line in captured] == log


async def test_wrong_secret_is_delayed_then_closed(fake):
    fake.ami.auth_fail_delay = 0.1
    conn = await AmiConn.open(fake.ami.port)
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    conn.send(("Action", "Login"), ("ActionID", "x"), ("Username", "orchestrator"), ("Secret", "nope"))
    reply = await conn.read(1)
    assert reply == [[("Response", "Error"), ("ActionID", "x"), ("Message", "Authentication failed")]]
    assert loop.time() - t0 >= 0.09
    assert await conn.read(1, 0.5) == [] and conn.eof


async def test_core_responses_match_capture(fake):
    """Responses of m_core_actions / k / i / n whose content does not depend on calls the phones made."""
    conn = await AmiConn.open(fake.ami.port)
    await conn.login()
    wanted = {"m_core_actions": ["002", "003", "004", "014", "015", "016", "017", "020", "021", "022", "025"],
              "k_device_extension_presence_state": ["020", "021", "022", "023", "024", "025", "027", "028",
                                                    "031", "032", "034", "035", "036"],
              "i_mixmonitor": ["013"], "n_originate": ["033", "034"]}
    shape_only = {"k_device_extension_presence_state-021"}  # the device list depends on earlier scenarios

    def complete(m):
        return (m[0][0] == "Response" and ("EventList", "start") not in m) or ("EventList", "Complete") in m

    for capture, ids in wanted.items():
        recs = ami_records(capture)
        for suffix in ids:
            aid = f"{capture}-{suffix}"
            request = next(r for r in recs if r["dir"] == "send" and f"ActionID: {aid}\r" in r["raw"])
            expected = [parse_raw(r["raw"]) for r in recs
                        if r["dir"] == "recv" and f"ActionID: {aid}\r" in r["raw"]
                        and not r["raw"].startswith("Event: OriginateResponse")]
            conn.send_raw(request["raw"])
            got = await conn.read_until(lambda m, aid=aid: ("ActionID", aid) in m and complete(m))
            got = [m for m in got if ("ActionID", aid) in m]
            if aid in shape_only:
                assert [m[0] for m in got[1:-1]] == [("Event", "DeviceStateChange")] * (len(got) - 2)
                continue
            assert len(got) == len(expected), (aid, [m[:3] for m in got])
            for exp, act in zip(expected, got, strict=True):
                assert_same_message(exp, act, where=aid)
                if not VOLATILE & {k for k, _ in exp}:
                    assert conn.raw[id(act)] == encode(exp), aid
    conn.close()


async def test_live_call_listings_match_capture(fake):
    """m_core_actions 005-013 were taken during a 1001 -> 1002 call: same listings from the fake's call."""
    import itertools

    fake.state._pjsip = itertools.count(0x27)  # so the channel names are PJSIP/1001-00000027 and -00000028
    call = fake.place_call("1001", "1002")
    await _drive(fake, lambda: call.callee is not None and call.callee.bridge)
    conn = await AmiConn.open(fake.ami.port)
    await conn.login()
    recs = ami_records("m_core_actions")
    volatile = VOLATILE | {"BridgeId", "BridgeID", "Duration", "Seconds"}
    for suffix in ["005", "006", "007", "008", "009", "010", "011", "012", "013"]:
        aid = f"m_core_actions-{suffix}"
        request = next(r for r in recs if r["dir"] == "send" and f"ActionID: {aid}\r" in r["raw"])
        expected = [parse_raw(r["raw"]) for r in recs if r["dir"] == "recv" and f"ActionID: {aid}\r" in r["raw"]]
        conn.send_raw(request["raw"])
        got = await conn.read_until(lambda m, aid=aid: ("ActionID", aid) in m and (
            (m[0][0] == "Response" and ("EventList", "start") not in m) or ("EventList", "Complete") in m))
        got = [m for m in got if ("ActionID", aid) in m]
        assert len(got) == len(expected), aid
        for exp, act in zip(expected, got, strict=True):
            if suffix == "013":  # core show channels: same table, our own "calls processed" count
                exp, act = exp[:-1], act[:-1]
            assert [k for k, _ in act] == [k for k, _ in exp], aid
            for (k, ev_), (_, av) in zip(exp, act, strict=True):
                if k not in volatile:
                    assert av == ev_, f"{aid}: {k}: expected {ev_!r}, got {av!r}"
    fake.hangup(call.caller)


# ---------------------------------------------------------------------- event shapes and call flows
def _sequence(events):
    """A flow as (event names in order, Newstate descriptions per channel in creation order).

    Dialplan/RTP noise is dropped, and so are the events Asterisk emits asynchronously and therefore
    interleaves differently from run to run: the device-state bursts, connected-line updates, Cdr, and the
    position of each Newstate (only the sequence of states per channel is compared)."""
    skip = NOISE_EVENTS | {"DeviceStateChange", "ExtensionStatus", "QueueMemberStatus", "NewConnectedLine",
                           "NewCallerid", "Cdr", "FullyBooted", "Newstate"}
    names = [event_name(h) for h in events if event_name(h) not in skip]
    order = [dict(h)["Uniqueid"] for h in events if event_name(h) == "Newchannel"]
    states: dict[str, list[str]] = {u: [] for u in order}
    for h in events:
        if event_name(h) == "Newstate":
            states[dict(h)["Uniqueid"]].append(dict(h)["ChannelStateDesc"])
    return names, [states[u] for u in order]


def _capture_sequence(name):
    return _sequence(ami_events(name))


async def _drive(fake, until, timeout=2.0):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not until():
        assert loop.time() < deadline, "simulation did not reach the expected state"
        await asyncio.sleep(0.001)


async def test_call_answered_caller_hangup_follows_capture(fake):
    call = fake.place_call("1001", "1002")
    await _drive(fake, lambda: call.callee is not None and call.callee.bridge)
    fake.hangup(call.caller)
    assert _sequence(fake.history) == _capture_sequence("b_call_1001_to_1002_answered_caller_hangup")
    assert not fake.state.channels and not fake.state.bridges
    callee = fake.events_named("Newchannel")[1]
    assert dict(callee)["Linkedid"] == dict(fake.events_named("Newchannel")[0])["Uniqueid"]


async def test_call_no_answer_and_busy_follow_captures(fake):
    fake.state.endpoints["1002"].answer = "manual"
    call = fake.place_call("1001", "1012")  # Dial(PJSIP/1002,6)
    await _drive(fake, lambda: not fake.state.channels, timeout=3)
    assert [dict(h)["DialStatus"] for h in fake.events_named("DialEnd")] == ["NOANSWER"]
    assert _sequence(fake.history) == _capture_sequence("c1_call_no_answer_timeout")
    assert call.ringing == []
    fake.history.clear()
    fake.state.endpoints["1002"].answer = "busy"
    fake.place_call("1001", "1002")
    await _drive(fake, lambda: not fake.state.channels)
    assert _sequence(fake.history) == _capture_sequence("c2_call_rejected_busy")
    assert [dict(h)["Cause"] for h in fake.events_named("Hangup")] == ["17", "17"]


async def test_queue_call_answered_follows_capture(fake):
    call = fake.place_call("1001", "800")
    await _drive(fake, lambda: call.callee is not None)
    fake.hangup(call.caller)
    assert _sequence(fake.history) == _capture_sequence("d_queue_call_answered_by_agent")
    complete = dict(fake.events_named("AgentComplete")[0])
    assert complete["Reason"] == "caller" and complete["Queue"] == "support"
    assert [line.split("|")[4] for line in fake.state.queue_log] == ["ENTERQUEUE", "CONNECT", "COMPLETECALLER"]
    assert fake.state.queues["support"].members["pjsip/1002"].calls_taken == 1


async def test_queue_abandon_follows_capture(fake):
    fake.state.endpoints["1002"].answer = "manual"
    call = fake.place_call("1001", "800")
    await _drive(fake, lambda: call.ringing)
    fake.hangup(call.caller)
    assert _sequence(fake.history) == _capture_sequence("e_queue_caller_abandon")
    assert [line.split("|")[4] for line in fake.state.queue_log] == ["ENTERQUEUE", "RINGCANCELED", "ABANDON"]
    assert fake.state.queues["support"].abandoned == 1


async def test_every_emitted_event_has_a_captured_shape(fake):
    """Drive many flows and check each event's header names/order against the captures."""
    st = fake.state
    call = fake.place_call("1001", "1002")
    await _drive(fake, lambda: call.callee is not None)
    fake.hangup(call.callee)
    st.endpoints["1002"].answer = "manual"
    call = fake.place_call("1001", "800")
    await _drive(fake, lambda: call.ringing)
    fake.answer(call.ringing[0])
    fake.hangup(call.callee)
    st.endpoints["1002"].answer = "auto"
    call = fake.place_call("sipp", "1102", caller_name="SIPp", caller_num="9999")
    await _drive(fake, lambda: call.callee is not None)
    fake.start_atxfer(call.callee, "internal", "1001")
    await _drive(fake, lambda: any(c.name.startswith("PJSIP/1001") and c.bridge for c in st.channels.values()))
    fake.hangup(call.callee)
    for ch in list(st.channels.values()):
        if ch.uniqueid in st.channels:
            fake.hangup(ch, by_manager=True)
    fake.set_custom_devstate("Custom:agent99", "INUSE")
    fake.set_presence("CustomPresence:1001", "away", "Lunch", "Back at 2")
    fake.leave_voicemail("1001@default")
    _assert_captured_shapes(fake.history)
    checked = {event_name(h) for h in fake.history} & set(event_schemas())
    assert {"AttendedTransfer", "BridgeMerge", "LocalBridge", "LocalOptimizationBegin", "AgentComplete",
            "QueueCallerJoin", "Hold", "DTMFEnd", "PresenceStatus", "MessageWaiting"} <= checked
    assert not st.channels


async def test_originate_outcomes(fake):
    conn = await AmiConn.open(fake.ami.port)
    await conn.login()

    def originate(aid, *pairs):
        conn.send(("Action", "Originate"), ("ActionID", aid), *pairs)

    async def response_of(aid):
        msgs = await conn.read_until(lambda m: m[:1] == [("Event", "OriginateResponse")] and ("ActionID", aid) in m)
        return dict(msgs[-1])

    originate("ok", ("Channel", "PJSIP/1002"), ("Context", "internal"), ("Exten", "601"), ("Priority", "1"),
              ("CallerID", "Originate <5555>"), ("Async", "true"), ("Variable", "FOO=bar"))
    ok = await response_of("ok")
    assert (ok["Response"], ok["Reason"], ok["CallerIDNum"], ok["CallerIDName"]) == ("Success", "4", "5555",
                                                                                    "Originate")
    originate("unknown", ("Channel", "PJSIP/1003"), ("Context", "internal"), ("Exten", "601"), ("Async", "true"))
    bad = await response_of("unknown")
    assert (bad["Response"], bad["Reason"], bad["Uniqueid"]) == ("Failure", "0", "<unknown>")
    originate("bogus", ("Channel", "Bogus/xyz"), ("Application", "Wait"), ("Async", "true"))
    assert (await response_of("bogus"))["Data"] == ""
    fake.state.endpoints["1002"].answer = "busy"
    originate("busy", ("Channel", "PJSIP/1002"), ("Application", "Playback"), ("Data", "hello-world"),
              ("Async", "true"))
    assert (await response_of("busy"))["Reason"] == "0"
    fake.state.endpoints["1002"].answer = "manual"
    originate("noanswer", ("Channel", "PJSIP/1002"), ("Application", "Playback"), ("Data", "x"),
              ("Async", "true"), ("Timeout", "4000"))
    assert (await response_of("noanswer"))["Reason"] == "3"
    originate("sync", ("Channel", "PJSIP/1003"), ("Application", "Wait"), ("Data", "1"))
    msgs = await conn.read_until(lambda m: ("ActionID", "sync") in m)
    assert msgs[-1] == [("Response", "Error"), ("ActionID", "sync"), ("Message", "Originate failed")]
    conn.close()


async def test_local_originate_pair(fake):
    from tests.fake_asterisk import OriginateRequest

    req = fake.originate(OriginateRequest(dest="Local/611@internal", application="Wait", data="2",
                                          action_id="l1"))
    one, two = fake.events_named("Newchannel")
    one, two = dict(one), dict(two)
    assert one["Channel"].endswith(";1") and two["Channel"].endswith(";2")
    assert two["Linkedid"] == one["Uniqueid"]
    assert int(two["Uniqueid"].split(".")[1]) == int(one["Uniqueid"].split(".")[1]) + 1
    assert fake.events_named("LocalBridge") and dict(fake.events_named("OriginateResponse")[0])["Reason"] == "4"
    assert req.channel.name == one["Channel"]


# ---------------------------------------------------------------------- AMI server behaviours
async def test_case_insensitive_headers_and_actionid_echo(fake):
    conn = await AmiConn.open(fake.ami.port)
    await conn.login()
    conn.send_raw("action: ping\r\nactionid: lowercase-keys\r\n\r\n")
    [reply] = await conn.read(1)
    assert reply[:3] == [("Response", "Success"), ("ActionID", "lowercase-keys"), ("Ping", "Pong")]
    conn.send_raw("Action: Ping\n\n")  # LF-only framing is accepted too; no ActionID -> none echoed
    [reply] = await conn.read(1)
    assert [k for k, _ in reply] == ["Response", "Ping", "Timestamp"]
    conn.close()


async def test_emit_and_replay_reach_logged_in_sessions_only(fake):
    on, off, anon = [await AmiConn.open(fake.ami.port) for _ in range(3)]
    await on.login()
    await off.login(events="off")
    fake.ami.emit([("Event", "UserEvent"), ("Privilege", "user,all"), ("UserEvent", "x")])
    assert (await on.read(1))[0][0] == ("Event", "UserEvent")
    count = await fake.ami.replay("e_queue_caller_abandon", skip_noise=True)
    got = await on.read(count)
    assert [event_name(h) for h in got] == [event_name(h) for h in ami_events("e_queue_caller_abandon",
                                                                                skip_noise=True)]
    assert await off.read(1, 0.05) == [] and await anon.read(1, 0.05) == []
    for c in (on, off, anon):
        c.close()


async def test_reload_records_modules_and_can_fail(fake):
    conn = await AmiConn.open(fake.ami.port)
    await conn.login()
    fake.ami.fail_reload("res_pjsip.so")
    conn.send(("Action", "Reload"), ("ActionID", "1"), ("Module", "app_queue.so"))
    conn.send(("Action", "Reload"), ("ActionID", "2"), ("Module", "res_pjsip.so"))
    conn.send(("Action", "Reload"), ("ActionID", "3"), ("Module", "no_such_module.so"))
    replies = await conn.read(6)
    assert [dict(m).get("Message") for m in replies if m[0][0] == "Response"] == [
        "Module Reloaded", "An unknown error occurred", "No such module"]
    assert [dict(m)["Status"] for m in replies if m[0] == ("Event", "Reload")] == ["0", "3", "2"]
    assert fake.ami.reloads == ["app_queue"]
    assert [r.get("Module") for r in fake.ami.actions("Reload")] == ["app_queue.so", "res_pjsip.so",
                                                                      "no_such_module.so"]
    conn.close()


async def test_hang_drop_and_restart(fake):
    conn = await AmiConn.open(fake.ami.port)
    await conn.login()
    fake.ami.hang()
    conn.send(("Action", "Ping"), ("ActionID", "p"))
    assert await conn.read(1, 0.1) == [] and not conn.eof
    fake.ami.unhang()
    fake.ami.drop_all()
    assert await conn.read(1, 0.5) == [] and conn.eof
    fake.state.astdb["/x/y"] = "1"
    conn = await AmiConn.open(fake.ami.port)
    await conn.login()
    await fake.ami.restart(AsteriskState.empty(), via_cli=True, reset_first=True)
    got = await conn.read(1, 0.5)
    assert got and got[0][:4] == [("Event", "Shutdown"), ("Privilege", "system,all"), ("Shutdown", "Cleanly"),
                                  ("Restart", "True")]
    assert await conn.read(1, 0.5) == [] and conn.eof
    first = await AmiConn.open(fake.ami.port)
    assert first.banner == b""  # p_core_restart_now: the first reconnect is accepted, then reset
    conn = await AmiConn.open(fake.ami.port)
    assert conn.banner == BANNER
    await conn.login()
    assert fake.state.astdb == {} and not fake.state.endpoints
    conn.close()


async def test_command_core_restart_now_closes_without_response(fake):
    conn = await AmiConn.open(fake.ami.port)
    await conn.login()
    conn.send(("Action", "Command"), ("ActionID", "r"), ("Command", "core restart now"))
    assert await conn.read(1, 0.5) == [] and conn.eof


# ---------------------------------------------------------------------- ARI
def _auth():
    return {"Authorization": "Basic " + base64.b64encode(b"orchestrator:orchestrator-secret").decode()}


async def _ws(fake, app="orchestrator"):
    url = f"ws://127.0.0.1:{fake.ari.port}/ari/events?app={app}&subscribeAll=false"
    return await websockets.connect(url, additional_headers=_auth(), proxy=None)


async def _next_event(ws, type_=None, timeout=1.0):
    while True:
        event = json.loads(await asyncio.wait_for(ws.recv(), timeout))
        if type_ is None or event["type"] == type_:
            return event


async def test_ari_rest_shapes_follow_capture(fake):
    fake.time_scale = 1.0  # the playback must still run when the channel is deleted
    base = f"http://127.0.0.1:{fake.ari.port}/ari"
    async with httpx.AsyncClient(base_url=base, headers=_auth(), trust_env=False) as http:
        r = await http.get("/applications/orchestrator")
        assert (r.status_code, r.reason_phrase, r.json()) == (404, "Not Found", {"message": "Application not found"})
        assert r.headers["content-length"] == "40"  # pretty-printed exactly like Asterisk
        assert (await http.get("/applications")).json() == []
        assert (await http.get("/channels", headers={"Authorization": "Basic eDp5"})).status_code == 401
        ws = await _ws(fake)
        call = fake.place_call("1001", "700")
        start = await _next_event(ws, "StasisStart")
        cid = start["channel"]["id"]
        assert start["channel"]["dialplan"] == {"context": "internal", "exten": "700", "priority": 3,
                                                "app_name": "Stasis", "app_data": "orchestrator"}
        r = await http.post(f"/channels/{cid}/answer")
        assert (r.status_code, r.content) == (204, b"")
        r = await http.post(f"/channels/{cid}/play", params={"media": "sound:hello-world", "playbackId": "pb1"})
        assert r.status_code == 201 and r.headers["location"] == "/ari/playbacks/pb1"
        assert r.json() == {"id": "pb1", "media_uri": "sound:hello-world", "target_uri": f"channel:{cid}",
                            "language": "en", "state": "queued"}
        assert (await _next_event(ws))["type"] == "PlaybackStarted"
        assert (await http.get("/applications/orchestrator")).json()["channel_ids"] == [cid]
        r = await http.delete(f"/channels/{cid}")
        assert r.status_code == 204
        types = [(await _next_event(ws))["type"] for _ in range(3)]
        assert types == ["ChannelHangupRequest", "PlaybackFinished", "StasisEnd"]
        with pytest.raises(TimeoutError):  # no ChannelDestroyed for a dialplan channel (subscribeAll=false)
            await _next_event(ws, timeout=0.1)
        assert (await http.get(f"/channels/{cid}")).json() == {"message": "Channel not found"}
        r = await http.post("/bridges/nope/addChannel", params={"channel": cid})
        assert (r.status_code, r.reason_phrase) == (404, "Not found")
        assert call.caller.uniqueid == cid
        await ws.close()
    assert all("orchestrator-secret" not in r.target for r in fake.ari.requests)


async def test_ari_application_replaced_and_no_queueing(fake):
    base = f"http://127.0.0.1:{fake.ari.port}/ari"
    ws1 = await _ws(fake)
    fake.place_call("1001", "700")
    cid = (await _next_event(ws1, "StasisStart"))["channel"]["id"]
    await ws1.close()
    await asyncio.sleep(0.02)
    async with httpx.AsyncClient(base_url=base, headers=_auth(), trust_env=False) as http:
        assert [a["channel_ids"] for a in (await http.get("/applications")).json()] == [[cid]]
        r = await http.post(f"/channels/{cid}/play", params={"media": "sound:beep", "playbackId": "offline"})
        assert r.status_code == 201  # REST still works while no websocket is connected ...
        await asyncio.sleep(0.05)
        ws2 = await _ws(fake)
        with pytest.raises(TimeoutError):  # ... but its events were lost, not queued
            await _next_event(ws2, timeout=0.1)
        ws3 = await _ws(fake)
        replaced = await _next_event(ws2)
        assert replaced["type"] == "ApplicationReplaced" and replaced["application"] == "orchestrator"
        await http.post(f"/channels/{cid}/play", params={"media": "sound:beep", "playbackId": "pb2"})
        assert (await _next_event(ws3))["type"] == "PlaybackStarted"
        with pytest.raises(TimeoutError):
            await _next_event(ws2, timeout=0.1)
        await http.delete(f"/channels/{cid}")
        await ws2.close()
        await ws3.close()
        await asyncio.sleep(0.05)
        assert (await http.get("/applications")).json() == []
    fake.history.clear()
    fake.place_call("1001", "700")  # no websocket: Stasis() fails at once, the dialplan hangs up
    assert not fake.state.channels and fake.events_named("Hangup")


async def test_ari_originate_bridge_snoop_continue(fake):
    base = f"http://127.0.0.1:{fake.ari.port}/ari"
    ws = await _ws(fake)
    fake.place_call("1001", "700")
    a = (await _next_event(ws, "StasisStart"))["channel"]["id"]
    async with httpx.AsyncClient(base_url=base, headers=_auth(), trust_env=False) as http:
        r = await http.post("/channels", params={"endpoint": "PJSIP/1002", "app": "orchestrator",
                                                 "appArgs": "dialed,b", "callerId": "ARI <4000>"})
        assert r.status_code == 200 and r.json()["state"] == "Down"
        b = r.json()["id"]
        start = await _next_event(ws, "StasisStart")
        assert start["args"] == ["dialed", "b"] and start["channel"]["id"] == b
        r = await http.post("/bridges", params={"type": "mixing", "name": "cap-bridge", "bridgeId": "br1"})
        assert r.json()["bridge_class"] == "stasis" and r.json()["creator"] == "Stasis"
        r = await http.post("/bridges/br1/addChannel", params={"channel": f"{a},{b}"})
        assert r.status_code == 204
        entered = [await _next_event(ws, "ChannelEnteredBridge") for _ in range(2)]
        assert [e["bridge"]["channels"] for e in entered] == [[a], [a, b]]
        r = await http.post(f"/channels/{a}/snoop", params={"spy": "both", "app": "orchestrator",
                                                           "appArgs": "snoop", "snoopId": "snoop1"})
        assert r.json()["name"].startswith(f"Snoop/{a}-")
        assert (await _next_event(ws, "StasisStart"))["args"] == ["snoop"]
        assert (await http.post("/bridges/br1/removeChannel", params={"channel": b})).status_code == 204
        r = await http.post(f"/channels/{b}/continue", params={"context": "internal", "extension": "601",
                                                               "priority": "1"})
        assert r.status_code == 204
        assert (await _next_event(ws, "StasisEnd"))["channel"]["id"] == b
        dialplan = await _next_event(ws, "ChannelDialplan")
        assert dialplan["channel"]["id"] == b  # an ARI-created channel keeps reporting after continue
        destroyed = await _next_event(ws, "ChannelDestroyed", timeout=2)
        assert destroyed["channel"]["id"] == b and destroyed["cause_txt"] == "Normal Clearing"
        assert (await http.post(f"/channels/{b}/answer")).status_code == 404
        assert (await http.delete("/bridges/br1")).status_code == 204
        assert (await _next_event(ws, "BridgeDestroyed"))["bridge"]["id"] == "br1"
    await ws.close()


def _assert_captured_shapes(history):
    """Each event's header names/order equal a captured one (an action sent without ActionID gets no ActionID
    header in its events, as in manager.c)."""
    schemas = event_schemas()
    for h in history:
        name = event_name(h)
        if name in schemas:
            keys = tuple(k for k, _ in h)
            allowed = schemas[name] | {tuple(k for k in shape if k != "ActionID") for shape in schemas[name]}
            assert keys in allowed, f"{name}: {list(keys)}"


async def test_transfers_redirect_and_mixmonitor_over_ami(fake):
    conn = await AmiConn.open(fake.ami.port)
    await conn.login()
    st = fake.state

    async def act(*pairs):
        aid = f"a{len(fake.ami.received)}"
        conn.send(("ActionID", aid), *pairs)
        msgs = await conn.read_until(lambda m: m[0][0] == "Response" and ("ActionID", aid) in m)
        return dict(msgs[-1])

    # g1: Redirect of the caller; the answered outbound leg goes away and the caller dials 1001
    call = fake.place_call("sipp", "1002", caller_num="9999", caller_name="SIPp")
    await _drive(fake, lambda: call.callee is not None)
    leg_1002 = call.callee.name
    assert (await act(("Action", "Redirect"), ("Channel", call.caller.name), ("Context", "internal"),
                      ("Exten", "1001"), ("Priority", "1")))["Message"] == "Redirect successful"
    await _drive(fake, lambda: st.channel_by_name(leg_1002) is None and any(
        c.name.startswith("PJSIP/1001") and c.bridge for c in st.channels.values()))
    # i_mixmonitor on the new leg
    leg_1001 = next(c for c in st.channels.values() if c.name.startswith("PJSIP/1001"))
    assert "Message" not in await act(("Action", "MixMonitor"), ("Channel", leg_1001.name),
                                      ("File", "rec.wav"), ("Options", "b"))
    got = await act(("Action", "Getvar"), ("Channel", leg_1001.name), ("Variable", "MIXMONITOR_FILENAME"))
    assert got["Value"].endswith("/monitor/rec.wav")
    assert "Message" not in await act(("Action", "MixMonitorMute"), ("Channel", leg_1001.name),
                                      ("Direction", "both"), ("State", "1"))
    assert "Message" not in await act(("Action", "StopMixMonitor"), ("Channel", leg_1001.name))
    assert (await act(("Action", "StopMixMonitor"), ("Channel", leg_1001.name)))["Message"] == \
        "Could not stop monitoring channel"
    # g2: BlindTransfer of the 1001 leg back to 1002
    assert (await act(("Action", "BlindTransfer"), ("Channel", leg_1001.name), ("Exten", "1002"),
                      ("Context", "internal")))["Message"] == "Transfer succeeded"
    await _drive(fake, lambda: fake.events_named("BlindTransfer") and any(
        c.name.startswith("PJSIP/1002") and c.bridge for c in st.channels.values()))
    assert dict(fake.events_named("BlindTransfer")[0])["IsExternal"] == "Yes"
    # g1b: dual redirect moves both legs, nobody hangs up
    sipp = st.channel_by_name(call.caller.name)
    other = st.channels[sipp.peer]
    hangups = len(fake.events_named("Hangup"))
    assert (await act(("Action", "Redirect"), ("Channel", sipp.name), ("ExtraChannel", other.name),
                      ("Exten", "611"), ("Context", "internal"), ("Priority", "1"), ("ExtraExten", "610"),
                      ("ExtraContext", "internal"), ("ExtraPriority", "1")))["Message"] == "Dual Redirect successful"
    assert len(fake.events_named("Hangup")) == hangups
    assert other.moh and not sipp.bridge
    for ch in list(st.channels.values()):
        assert (await act(("Action", "Hangup"), ("Channel", ch.name)))["Message"] == "Channel Hungup"
    assert not st.channels and not st.bridges
    _assert_captured_shapes(fake.history)
    conn.close()


async def test_atxfer_cancel_and_feature_checks(fake):
    st = fake.state
    call = fake.place_call("sipp", "1102", caller_num="9999", caller_name="SIPp")  # Dial(...,tTkK)
    await _drive(fake, lambda: call.callee is not None)
    transferer = call.callee
    fake.start_atxfer(transferer, "internal", "1001")
    await _drive(fake, lambda: any(c.name.startswith("PJSIP/1001") and c.bridge for c in st.channels.values()))
    assert fake.events_named("Hold") and dict(fake.events_named("MusicOnHoldStart")[0])["Channel"] == \
        call.caller.name  # Hold on the transferer, music on the peer (h1 / g3)
    fake.cancel_atxfer(transferer)
    assert not any(c.name.startswith("Local/") or c.name.startswith("PJSIP/1001") for c in st.channels.values())
    assert transferer.bridge == call.caller.bridge and fake.events_named("Unhold")
    digits = [dict(h)["Digit"] for h in fake.events_named("DTMFEnd")]
    assert digits == ["*", "2", "1", "0", "0", "1", "*", "1"]
    fake.hangup(call.caller)
    # without the t/T Dial option the DTMF goes nowhere (the action still answers "queued")
    call = fake.place_call("1001", "1002")
    await _drive(fake, lambda: call.callee is not None)
    before = len(st.channels)
    fake.start_atxfer(call.callee, "internal", "600")
    assert len(st.channels) == before
    _assert_captured_shapes(fake.history)


async def test_dialplan_extension_add_hint_and_route(fake):
    conn = await AmiConn.open(fake.ami.port)
    await conn.login()
    conn.send(("Action", "DialplanExtensionAdd"), ("ActionID", "h"), ("Context", "t1-internal"),
              ("Extension", "2001"), ("Priority", "hint"), ("Application", "PJSIP/1001"))
    conn.send(("Action", "DialplanExtensionAdd"), ("ActionID", "q"), ("Context", "t1-internal"),
              ("Extension", "2800"), ("Priority", "1"), ("Application", "Queue"), ("ApplicationData", "sales"))
    conn.send(("Action", "DialplanExtensionAdd"), ("ActionID", "dup"), ("Context", "t1-internal"),
              ("Extension", "2800"), ("Priority", "1"), ("Application", "Queue"), ("ApplicationData", "sales"))
    conn.send(("Action", "DialplanExtensionAdd"), ("ActionID", "bad"), ("Context", "t1-internal"))
    replies = await conn.read(4)
    assert [dict(m)["Message"] for m in replies] == [
        "Added requested extension", "Added requested extension",
        "That extension and priority already exist at that context",
        "Context, Extension, Priority, and Application must be defined for DialplanExtensionAdd."]
    conn.send(("Action", "ExtensionState"), ("ActionID", "s"), ("Exten", "2001"), ("Context", "t1-internal"))
    [reply] = await conn.read(1)
    assert dict(reply)["Hint"] == "PJSIP/1001" and dict(reply)["StatusText"] == "Idle"
    call = fake.place_call("1001", "2800", context="t1-internal")
    assert call.kind == "queue" and call.queue.name == "sales"
    conn.send(("Action", "DialplanExtensionRemove"), ("ActionID", "r"), ("Context", "t1-internal"),
              ("Extension", "2800"))
    msgs = await conn.read_until(lambda m: ("ActionID", "r") in m)
    assert dict(msgs[-1])["Message"] == "Removed the requested extension"
    conn.close()


async def test_devstate_and_presence_events_follow_capture_order(fake):
    conn = await AmiConn.open(fake.ami.port)
    await conn.login()
    conn.send(("Action", "Setvar"), ("ActionID", "1"), ("Variable", "DEVICE_STATE(Custom:agent99)"),
              ("Value", "INUSE"))
    msgs = await conn.read(3)
    assert [m[0] for m in msgs] == [("Response", "Success"), ("Event", "ExtensionStatus"),
                                    ("Event", "DeviceStateChange")]
    conn.send(("Action", "Setvar"), ("ActionID", "2"), ("Variable", "PRESENCE_STATE(CustomPresence:1001)"),
              ("Value", "away,Lunch,Back at 2"))
    msgs = await conn.read(3)
    assert [m[0] for m in msgs] == [("Response", "Success"), ("Event", "PresenceStateChange"),
                                    ("Event", "PresenceStatus")]
    assert fake.state.astdb["/CustomDevstate/agent99"] == "INUSE"
    assert fake.state.astdb["/CustomPresence/1001"] == "away,Lunch,Back at 2"
    conn.send(("Action", "Setvar"), ("ActionID", "3"), ("Variable", "DEVICE_STATE(PJSIP/1001)"), ("Value", "BUSY"))
    assert dict((await conn.read(1))[0])["Message"] == "Variable not set"
    conn.close()


async def test_standalone_entry_point_parses_arguments():
    from tests.fake_asterisk.__main__ import parse_args

    args = parse_args(["--ami-port", "5038", "--ari-port", "8088", "--time-scale", "0.5"])
    assert (args.ami_port, args.ari_port, args.time_scale, args.host) == (5038, 8088, 0.5, "127.0.0.1")


async def test_standalone_process_serves_ami_and_ari(tmp_path):
    import socket
    import sys

    ports = []
    for _ in range(2):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            ports.append(s.getsockname()[1])
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.fake_asterisk", "--ami-port", str(ports[0]), "--ari-port", str(ports[1]),
        stderr=asyncio.subprocess.PIPE, cwd=str(FIXTURES.parent.parent.parent))
    try:
        line = await asyncio.wait_for(proc.stderr.readline(), 5)
        assert b"fake Asterisk: AMI on" in line
        conn = await AmiConn.open(ports[0])
        assert conn.banner == BANNER
        conn.close()
        async with httpx.AsyncClient(headers=_auth(), trust_env=False) as http:
            r = await http.get(f"http://127.0.0.1:{ports[1]}/ari/applications")
            assert r.status_code == 200 and r.json() == []
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 5)


@pytest.mark.parametrize("seed", [1, 2])
async def test_random_traffic_stays_consistent(fake, seed):
    """Random calls, answers, hangups, originates, redirects and transfers (the kind of traffic a demo
    generator produces): no background error, every event has a captured shape, nothing leaks."""
    import random

    from tests.fake_asterisk import OriginateRequest

    rnd = random.Random(seed)
    errors = []
    asyncio.get_running_loop().set_exception_handler(lambda loop, ctx: errors.append(ctx))
    st = fake.state
    for n in ("2001", "2002", "2003"):
        st.add_endpoint(n, f"User {n}", answer=rnd.choice(["auto", "manual", "busy"]))
    st.add_member(st.queues["sales"], "PJSIP/2001", "Agent 2001")
    targets = ["1001", "1002", "2001", "2003", "800", "801", "601", "610", "611", "1102", "9999"]
    for _ in range(100):
        op, chans = rnd.random(), list(st.channels.values())
        if op < 0.35:
            fake.place_call(rnd.choice(["1001", "1002", "2001", "2002", "sipp"]), rnd.choice(targets))
        elif op < 0.5 and chans:
            fake.hangup(rnd.choice(chans), by_manager=rnd.random() < 0.5)
        elif op < 0.6 and chans:
            ringing = [c for c in chans if c.state == 5]
            if ringing:
                fake.answer(rnd.choice(ringing))
        elif op < 0.7:
            fake.originate(OriginateRequest(dest=rnd.choice(["PJSIP/1001", "PJSIP/2002", "Local/2001@internal"]),
                                            context="internal", exten=rnd.choice(["1002", "800", "611"])))
        elif op < 0.8 and chans:
            ch, verb = rnd.choice(chans), rnd.randrange(4)
            if verb == 0:
                fake.redirect(ch, "internal", "611")
            elif verb == 1:
                fake.blind_transfer(ch, "internal", "1001")
            elif verb == 2:
                fake.start_atxfer(ch, "internal", "2002")
            else:
                fake.cancel_atxfer(ch)
        await asyncio.sleep(rnd.random() * 0.002)
    for _ in range(3):
        await asyncio.sleep(0.05)
        for ch in list(st.channels.values()):
            if ch.uniqueid in st.channels:
                fake.hangup(ch, by_manager=True)
    assert not errors, errors[0]
    assert not st.channels and not st.bridges and not fake.calls and not fake.atxfers
    _assert_captured_shapes(fake.history)
    assert all(q.callers == [] for q in st.queues.values())


async def test_every_action_of_the_fake_has_its_asterisk_privilege():
    from .fake_asterisk.ami_base import ACTIONS
    from .fake_asterisk.privileges import ACTION_PRIVILEGES

    assert set(ACTIONS) <= set(ACTION_PRIVILEGES)


async def test_the_fake_grants_the_classes_of_manager_conf_like_a_deployed_node():
    """By default the fake's user has asterisk_conf/manager.conf's classes (as Asterisk checks them in
    main/manager.c), so every other test through the fake runs with what a real node grants."""
    f = FakeAsterisk(time_scale=0.001, auth_fail_delay=0.02)
    await f.start(ari_port=None)
    conn = await AmiConn.open(f.ami.port)
    try:
        conn.send(("Action", "Login"), ("Username", "orchestrator"), ("Secret", "orchestrator-secret"))
        login = await conn.read_until(lambda m: m[0] == ("Event", "FullyBooted"), timeout=2)  # reads "system"
        assert ("Response", "Success") in login[0]
        conn.send(("Action", "UserEvent"), ("ActionID", "1"), ("UserEvent", "x"))  # write "user" not granted
        conn.send(("Action", "DBPut"), ("ActionID", "2"), ("Family", "f"), ("Key", "k"), ("Val", "v"))
        replies = await conn.read_until(lambda m: ("ActionID", "2") in m)
        assert [dict(m).get("Message") for m in replies if m[0][0] == "Response"] == [
            "Permission denied", "Updated database successfully"]
        f.ami.emit([("Event", "VarSet"), ("Privilege", "dialplan,all"), ("Variable", "X"), ("Value", "1")])
        f.ami.emit([("Event", "UserEvent"), ("Privilege", "user,all"), ("UserEvent", "Probe")])
        got = await conn.read_until(lambda m: m[0] == ("Event", "UserEvent"))
        assert not [m for m in got if m[0] == ("Event", "VarSet")]
    finally:
        conn.close()
        AmiConn.opened.remove(conn)
        await f.stop()

"""The fake Asterisk's core: state + event fan-out + channel/bridge primitives shared by AMI and ARI.

``World`` owns an :class:`AsteriskState`, sends AMI events to every listener (the AMI server's sessions) and
ARI events to the app's websocket (through the ARI hub), and keeps a history of emitted AMI events for
assertions.  Call flows built on these primitives live in ``calls.py`` (mixed into :class:`FakeAsterisk`).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable

from . import events as ev
from .state import CAUSE_TEXT, DEVICE_STATE_CODE, AsteriskState, Bridge, Channel, Queue
from .wire import Headers

ASTERISK_ID = "02:fc:00:00:00:01"


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts * 1000) % 1000:03d}+0000"


class World:
    def __init__(self, state: AsteriskState | None = None, *, time_scale: float = 1.0):
        self.state = state if state is not None else AsteriskState.default()
        self.time_scale = time_scale
        self.ami_listeners: list[Callable[[Headers], None]] = []
        self.ari_listeners: list[Callable[[str, dict], None]] = []
        self.history: list[Headers] = []
        self.hangup_request_hooks: list[Callable[[Channel], None]] = []
        self.spies: dict[str, tuple[str, str]] = {}  # ChanSpy or Snoop/ channel → (spied-on uniqueid, options)
        self._tasks: set[asyncio.Task] = set()

    # ------------------------------------------------------------------ fan-out
    def emit(self, headers: Headers) -> None:
        self.history.append(headers)
        for listener in list(self.ami_listeners):
            listener(headers)

    def ari_emit(self, app: str | None, event: dict) -> None:
        if not app:
            return
        for listener in list(self.ari_listeners):
            listener(app, event)

    def ari_event(self, app: str | None, type_: str, *fields: tuple[str, object]) -> None:
        if not app:
            return
        event: dict = {"type": type_, "timestamp": iso(time.time())}
        event.update(fields)
        event["asterisk_id"] = ASTERISK_ID
        event["application"] = app
        self.ari_emit(app, event)

    def events_named(self, name: str) -> list[Headers]:
        return [h for h in self.history if h and h[0] == ("Event", name)]

    # ------------------------------------------------------------------ scheduling
    def later(self, delay: float, func: Callable, *args) -> asyncio.Task:
        """Run ``func(*args)`` (sync or async) after ``delay * time_scale`` seconds."""

        async def runner():
            await asyncio.sleep(max(0.0, delay * self.time_scale))
            result = func(*args)
            if asyncio.iscoroutine(result):
                await result

        task = asyncio.get_running_loop().create_task(runner())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def replace_state(self, state: AsteriskState) -> None:
        self.cancel_pending()
        self.state = state

    def cancel_pending(self) -> None:
        """Cancel every scheduled simulation step (except the one calling this)."""
        current = asyncio.current_task() if _loop_running() else None
        for task in list(self._tasks):
            if task is not current:
                task.cancel()
                self._tasks.discard(task)

    # ------------------------------------------------------------------ ARI snapshots
    @staticmethod
    def ari_channel(ch: Channel) -> dict:
        return {
            "id": ch.uniqueid,
            "name": ch.name,
            "state": ch.state_desc,
            "protocol_id": ch.protocol_id,
            "caller": {"name": ch.caller_name, "number": ch.caller_num},
            "connected": {"name": ch.connected_name, "number": ch.connected_num},
            "accountcode": ch.accountcode,
            "dialplan": {
                "context": ch.context,
                "exten": ch.exten,
                "priority": ch.priority,
                "app_name": ch.application,
                "app_data": ch.appdata,
            },
            "creationtime": iso(ch.created),
            "language": ch.language,
        }

    def ari_bridge(self, b: Bridge) -> dict:
        return {
            "id": b.id,
            "technology": b.technology,
            "bridge_type": b.ari_type,
            "bridge_class": "stasis" if b.ari else "base",
            "creator": b.creator,
            "name": b.name,
            "channels": list(b.channels),
            "creationtime": iso(b.created),
            "video_mode": "talker" if b.ari else b.video_mode,
        }

    @staticmethod
    def subscribed_app(ch: Channel) -> str | None:
        return ch.stasis_app or ch.ari_app

    def ari_channel_event(self, ch: Channel, type_: str, *before: tuple[str, object]) -> None:
        app = self.subscribed_app(ch)
        if app:
            self.ari_event(app, type_, *before, ("channel", self.ari_channel(ch)))

    # ------------------------------------------------------------------ device / extension / member states
    def refresh(self) -> None:
        """Emit ExtensionStatus / DeviceStateChange / QueueMemberStatus for everything that changed."""
        st = self.state
        current = dict(st.all_device_states())
        for device in [d for d in st._last_dev if d.startswith("Local/") and d not in current]:
            current[device] = "NOT_INUSE"  # the last Local channel of that name is gone
        for device, value in current.items():
            if st._last_dev.get(device) == value:
                continue
            st._last_dev[device] = value
            for h in st.hints:
                if device in h.devices:
                    code, text = st.extension_state(h)
                    key = (h.exten, h.context)
                    if st._last_ext.get(key) != code:
                        st._last_ext[key] = code
                        self.emit(ev.extension_status(h.exten, h.context, h.hint, code, text))
                        self._hint_members(h)
            self.emit(ev.device_state_change(device, value))
            for q in st.queues.values():
                for m in q.members.values():
                    if m.state_interface == device:
                        code = DEVICE_STATE_CODE[value]
                        if m.status != code:
                            m.status = code
                            self.emit(ev.member_event("QueueMemberStatus", q, m))

    def _hint_members(self, h) -> None:
        """QueueMemberStatus for the members whose state interface is the hint (``hint:<exten>@<context>``)."""
        interface = f"hint:{h.exten}@{h.context}"
        code = DEVICE_STATE_CODE[self.state.device_state(interface)]
        for q in self.state.queues.values():
            for m in q.members.values():
                if m.state_interface == interface and m.status != code:
                    m.status = code
                    self.emit(ev.member_event("QueueMemberStatus", q, m))

    def set_custom_devstate(self, device: str, value: str, *, device_first: bool = False) -> None:
        st = self.state
        device = "Custom:" + device.split(":", 1)[1]
        st.custom_devstates[device] = value
        st.astdb[f"/CustomDevstate/{device.split(':', 1)[1]}"] = value
        hints = [h for h in st.hints if device in h.devices]
        ext_events = []
        for h in hints:
            code, text = st.extension_state(h)
            if st._last_ext.get((h.exten, h.context)) != code:
                st._last_ext[(h.exten, h.context)] = code
                ext_events.append(ev.extension_status(h.exten, h.context, h.hint, code, text))
        dev_event = ev.device_state_change(device, value)
        st._last_dev[device] = value
        for e in ([dev_event] + ext_events) if device_first else (ext_events + [dev_event]):
            self.emit(e)

    def set_presence(self, provider: str, state: str, subtype: str = "", message: str = "") -> None:
        st = self.state
        provider = "CustomPresence:" + provider.split(":", 1)[1]
        st.presence[provider] = (state, subtype, message)
        st.astdb[f"/CustomPresence/{provider.split(':', 1)[1]}"] = ",".join([state, subtype, message]).rstrip(",")
        self.emit(ev.presence_state_change(provider, state, subtype, message))
        for h in st.hints:
            if h.presence == provider:
                self.emit(ev.presence_status(h.exten, h.context, h.hint, state, subtype, message))

    def set_queue_device(self, q: Queue, value: str) -> None:
        dev = f"Queue:{q.name}"
        if self.state.extra_devices.get(dev) != value:
            self.state.extra_devices[dev] = value
            self.state._last_dev[dev] = value
            self.emit(ev.device_state_change(dev, value))

    # ------------------------------------------------------------------ channels
    def new_channel(self, name: str, *, caller_num: str = "", caller_name: str = "", context: str = "default",
                    exten: str = "s", priority: int = 1, state: int = 0, linkedid: str | None = None,
                    endpoint: str | None = None, uniqueid: str | None = None) -> Channel:
        uid = uniqueid or self.state.new_uniqueid()
        ch = Channel(name=name, uniqueid=uid, linkedid=linkedid or uid, state=state, caller_num=caller_num,
                     caller_name=caller_name, context=context, exten=exten, priority=priority, endpoint=endpoint)
        self.state.channels[uid] = ch
        self.state.processed_calls += 1
        self.emit(ev.call_event("Newchannel", ch))
        return ch

    def set_state(self, ch: Channel, value: int) -> None:
        if ch.state == value:
            return
        ch.state = value
        if value == 6 and ch.answered is None:
            ch.answered = time.time()
        self.emit(ev.call_event("Newstate", ch))
        self.ari_channel_event(ch, "ChannelStateChange")

    def set_connected(self, ch: Channel, num: str, name: str) -> None:
        ch.connected_num, ch.connected_name = num, name
        self.emit(ev.call_event("NewConnectedLine", ch))
        self.ari_channel_event(ch, "ChannelConnectedLine")

    def set_dialplan(self, ch: Channel, context: str, exten: str, priority: int = 1, app: str = "",
                     data: str = "") -> None:
        ch.context, ch.exten, ch.priority, ch.application, ch.appdata = context, exten, priority, app, data
        if app and ch.ari_app and not ch.stasis_app:
            # a channel created through ARI keeps reporting to its app after leaving Stasis (ari_bridge_snoop)
            self.ari_channel_event(ch, "ChannelDialplan", ("dialplan_app", app), ("dialplan_app_data", data))

    def request_hangup(self, ch: Channel, cause: int | None = None) -> None:
        fields = {"Cause": str(cause)} if cause is not None else {}
        self.emit(ev.call_event("HangupRequest", ch, **fields))

    def soft_hangup_request(self, ch: Channel, cause: int = 16) -> None:
        self.emit(ev.call_event("SoftHangupRequest", ch, Cause=str(cause)))

    def destroy_channel(self, ch: Channel, cause: int = 16, *, refresh: bool = True) -> None:
        """Hangup event + removal (leaves its bridge first, ends Stasis)."""
        if ch.uniqueid not in self.state.channels:
            return
        self.state.groups.forget(ch.uniqueid)  # a hangup leaves the channel's groups (app.c)
        self.state.named_locks.forget(ch.uniqueid)  # and releases its LOCK()s (func_lock's datastore)
        if ch.bridge and ch.bridge in self.state.bridges:
            bridge = self.state.bridges[ch.bridge]
            self.bridge_leave(bridge, ch)
            if not bridge.ari and not bridge.channels:
                self.destroy_bridge(bridge)  # a basic bridge goes away with its last channel
        if ch.stasis_app:
            app = ch.stasis_app
            self.ari_event(app, "StasisEnd", ("channel", self.ari_channel(ch)))
            ch.stasis_app = None
        elif ch.ari_app:
            self.ari_event(ch.ari_app, "ChannelDestroyed", ("cause", cause),
                           ("cause_txt", CAUSE_TEXT.get(cause, "Unknown")), ("channel", self.ari_channel(ch)))
        # A hangup ends a MixMonitor without a MixMonitorStop (app_mixmonitor publishes it only from
        # StopMixMonitor: real captures recording_pool_console_refused, recording_star9_two_legs).
        ch.mixmonitor = None
        self.emit(ev.hangup(ch, cause))
        del self.state.channels[ch.uniqueid]
        for other in list(self.state.channels.values()):
            if other.peer == ch.uniqueid:
                other.peer = None
            if other.snooped == ch.uniqueid:
                # The snoop's audiohooks went with the channel: the Snoop/ channel hangs up on its next read.
                self.later(0.02, self.hangup, other)
        if refresh:
            self.refresh()

    # ------------------------------------------------------------------ bridges
    def new_bridge(self, *, bridge_id: str | None = None, technology: str = "simple_bridge", ari: bool = False,
                   name: str = "<unknown>", creator: str = "<unknown>", ari_type: str = "mixing") -> Bridge:
        b = Bridge(id=bridge_id or str(uuid.uuid4()), technology=technology, ari=ari, name=name, creator=creator,
                   ari_type=ari_type)
        self.state.bridges[b.id] = b
        self.emit(ev.bridge_event("BridgeCreate", b))
        return b

    def bridge_enter(self, b: Bridge, ch: Channel, *, swap: Channel | None = None) -> None:
        """``swap``: the channel ``ch`` takes the place of (a Local optimisation: SwapUniqueid, g3)."""
        if ch.uniqueid not in self.state.channels or b.id not in self.state.bridges or ch.uniqueid in b.channels:
            return
        if ch.bridge and ch.bridge != b.id and ch.bridge in self.state.bridges:
            self.bridge_leave(self.state.bridges[ch.bridge], ch)
        b.channels.append(ch.uniqueid)
        ch.bridge = b.id
        entered = ev.bridge_event("BridgeEnter", b, ch)
        if swap is not None:
            entered.append(("SwapUniqueid", swap.uniqueid))
        self.emit(entered)
        app = self.subscribed_app(ch)
        if app:
            self.ari_event(app, "ChannelEnteredBridge", ("bridge", self.ari_bridge(b)),
                           ("channel", self.ari_channel(ch)))

    def bridge_leave(self, b: Bridge, ch: Channel) -> None:
        if ch.uniqueid not in b.channels:
            return
        b.channels.remove(ch.uniqueid)
        ch.bridge = None
        self.emit(ev.bridge_event("BridgeLeave", b, ch))
        app = self.subscribed_app(ch)
        if app:
            self.ari_event(app, "ChannelLeftBridge", ("bridge", self.ari_bridge(b)),
                           ("channel", self.ari_channel(ch)))

    def destroy_bridge(self, b: Bridge, ari_app: str | None = None) -> None:
        for uid in list(b.channels):
            ch = self.state.channels.get(uid)
            if ch:
                self.bridge_leave(b, ch)
        self.state.bridges.pop(b.id, None)
        self.emit(ev.bridge_event("BridgeDestroy", b))
        if ari_app:
            self.ari_event(ari_app, "BridgeDestroyed", ("bridge", self.ari_bridge(b)))

    def two_party_bridge(self, first: Channel, second: Channel) -> Bridge:
        b = self.new_bridge()
        self.bridge_enter(b, first)
        self.bridge_enter(b, second)
        b.technology = "native_rtp"
        first.peer, second.peer = second.uniqueid, first.uniqueid
        return b

    def dissolve_if_lonely(self, b: Bridge) -> None:
        if b.ari or b.id not in self.state.bridges:
            return
        if len(b.channels) <= 1:
            self.destroy_bridge(b)

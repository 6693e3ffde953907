"""``FakeAsterisk``: one fake Asterisk process with an AMI server and an ARI server sharing one live state.

    fake = FakeAsterisk(time_scale=0.01)           # state: AsteriskState.default() (the capture config)
    await fake.start(ami_port=0, ari_port=0)       # 0 = pick free ports; see fake.ami.port / fake.ari.port
    call = fake.place_call("1001", "1002")         # 1002 auto-answers (endpoint answer mode "auto")
    fake.hangup(call.caller)
    await fake.stop()

Simulation hooks (for tests and the demo traffic generator): ``place_call``, ``answer``, ``reject``,
``hangup``, ``originate``, ``redirect``, ``blind_transfer``, ``start_atxfer``/``cancel_atxfer``,
``set_custom_devstate``, ``set_presence``, ``leave_voicemail``, plus the AMI test controls on ``fake.ami``
(``emit``, ``replay``, ``drop_all``, ``hang``, ``restart``, ``fail_reload``) and ARI ones on ``fake.ari``.
"""

from __future__ import annotations

from . import events as ev
from .ami_server import DEFAULT_SECRET, DEFAULT_USERNAME, FakeAmiServer
from .ari_server import FakeAriServer
from .calls import CallMixin
from .feature_codes import FeatureCodeMixin
from .originate import OriginateMixin
from .state import AsteriskState, Channel
from .transfers import TransferMixin
from .world import World


class FakeAsterisk(FeatureCodeMixin, TransferMixin, OriginateMixin, CallMixin, World):
    def __init__(self, state: AsteriskState | None = None, *, time_scale: float = 1.0, host: str = "127.0.0.1",
                 ami_username: str = DEFAULT_USERNAME, ami_secret: str = DEFAULT_SECRET,
                 ari_username: str = DEFAULT_USERNAME, ari_password: str = DEFAULT_SECRET,
                 auth_fail_delay: float = 1.0, ami_read: str | None = None, ami_write: str | None = None):
        World.__init__(self, state, time_scale=time_scale)
        self._calls_init()
        self._transfers_init()
        self.ari_active_apps: set[str] = set()
        self.host = host
        self.ami = FakeAmiServer(self, host, username=ami_username, secret=ami_secret,
                                 auth_fail_delay=auth_fail_delay, read=ami_read, write=ami_write)
        self.ari = FakeAriServer(self, host, username=ari_username, password=ari_password)

    async def start(self, ami_port: int | None = 0, ari_port: int | None = 0) -> FakeAsterisk:
        """Start the servers (None skips one)."""
        if ami_port is not None:
            self.ami._port = ami_port
            await self.ami.start()
        if ari_port is not None:
            self.ari._port = ari_port
            await self.ari.start()
        return self

    async def stop(self) -> None:
        self.cancel_pending()
        await self.ami.stop()
        await self.ari.stop()

    async def __aenter__(self):
        return await self.start()

    async def __aexit__(self, *exc):
        await self.stop()

    def replace_state(self, state: AsteriskState) -> None:
        """A new Asterisk process: every channel, bridge, call and ARI app of the old one is gone."""
        self.cancel_pending()
        self.state = state
        self.calls.clear()
        self.atxfers.clear()
        self.ari.reset()

    # ------------------------------------------------------------------ small hooks
    def leave_voicemail(self, mailbox: str, *, urgent: bool = False, channel: Channel | None = None) -> None:
        """A new message arrives in ``mailbox`` ("1001@default"): MessageWaiting as in o_voicemail, on the
        caller's ``channel`` when VoiceMail() on a call left it (as on the real Asterisk)."""
        u, n, o = self.state.mailboxes.get(mailbox, (0, 0, 0))
        self.state.mailboxes[mailbox] = (u + (1 if urgent else 0), n + 1, o)
        self.state.extra_devices[f"MWI:{mailbox}"] = "INUSE"
        self.emit(ev.message_waiting(mailbox, new=n + 1, old=o, channel=channel))

"""A protocol-level fake Asterisk 22 (AMI over TCP, ARI over HTTP + WebSocket), built from the real captures in
tests/fixtures/asterisk/ (see its README.md) and, where nothing was captured, from Asterisk's own sources/docs.

    from tests.fake_asterisk import FakeAsterisk
    async with FakeAsterisk(time_scale=0.01) as fake:      # AMI on fake.ami.port, ARI on fake.ari.port
        call = fake.place_call("1001", "800")              # a queue call; PJSIP/1002 answers
        fake.hangup(call.caller)

Layout: ``state.py`` (live state), ``world.py`` (event fan-out, channel/bridge primitives), ``calls.py``,
``originate.py``, ``transfers.py`` (simulated call flows = the hook for demo traffic), ``events.py`` (AMI event
builders), ``ami_server.py`` + ``ami_actions.py`` / ``ami_queues.py`` / ``ami_channels.py`` (AMI), ``ari_http.py``
+ ``ari_server.py`` (ARI), ``captures.py`` (fixture access), ``wire.py`` (AMI framing).

Standalone: ``python -m tests.fake_asterisk --ami-port 5038 --ari-port 8088 [--scenario module:function]``.
"""

from .ami_server import DEFAULT_SECRET, DEFAULT_USERNAME, FakeAmiServer
from .ari_server import FakeAriServer
from .calls import Call
from .fake import FakeAsterisk
from .originate import OriginateRequest
from .state import AsteriskState, Endpoint, Route
from .world import World

__all__ = [
    "DEFAULT_SECRET",
    "DEFAULT_USERNAME",
    "AsteriskState",
    "Call",
    "Endpoint",
    "FakeAmiServer",
    "FakeAriServer",
    "FakeAsterisk",
    "OriginateRequest",
    "Route",
    "World",
    "run",
]


async def run(host: str = "127.0.0.1", ami_port: int = 5038, ari_port: int = 8088, **kwargs) -> FakeAsterisk:
    """Start a FakeAsterisk and return it (the caller keeps the event loop running)."""
    return await FakeAsterisk(host=host, **kwargs).start(ami_port=ami_port, ari_port=ari_port)

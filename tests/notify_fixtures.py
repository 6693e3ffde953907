"""The fake Asterisk followed by a real event bridge whose database work runs on the test's connection.

    from tests.notify_fixtures import *  # noqa: F403 - worlds, line, pushed, sms_requests, test_connection

``line`` is the running pair (``Line``): the bridge runs in the test's event loop with its database work in
asgiref's sync thread on this test's connection (everything is rolled back); what would run on commit runs
on ``await line.commit()``. ``sms_requests`` lists what reached 46elks' API (an ``httpx.MockTransport``).
"""

from __future__ import annotations

import asyncio

import httpx
import pytest
from asgiref.sync import sync_to_async

from pbx.asterisk import astdb_sync
from pbx.asterisk.ami import AmiClient
from pbx.asterisk.bridge.service import NodeBridge
from pbx.asterisk.bridge.state import LiveState, MemoryStore
from pbx.asterisk.resolve import DatabaseLoader, Resolver
from pbx.models import AsteriskNode
from pbx.notifications.gateways import ElksGateway, use_gateway
from tests.fake_asterisk import DEFAULT_SECRET, DEFAULT_USERNAME, FakeAsterisk
from tests.fake_asterisk.demo_traffic import install, load_worlds
from tests.helpers import capture_events

__all__ = ["Line", "act", "line", "pushed", "sms_requests", "test_connection", "until", "worlds"]


@pytest.fixture
def test_connection(db):
    from django.db import connections

    connection = connections["default"]
    connection.inc_thread_sharing()
    yield connection
    connection.dec_thread_sharing()


@pytest.fixture
def sms_requests():
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"id": f"s{len(seen)}", "status": "created"})

    gateway = ElksGateway("u-elks-test", "elks-secret", transport=httpx.MockTransport(answer))
    with use_gateway(gateway):
        yield seen


@pytest.fixture
def pushed():
    with capture_events() as captured:
        yield captured


class Line:
    """The fake Asterisk, the bridge following it, and the test's connection in the sync thread."""

    def __init__(self, fake, bridge, tenant_id):
        self.fake, self.bridge, self.t = fake, bridge, tenant_id
        self.mark = 0

    async def start_capturing_commits(self):
        from django.db import connections

        self.mark = await sync_to_async(lambda: len(connections["default"].run_on_commit))()

    async def commit(self):
        """What would have run when the bridge's (or an action's) transaction committed."""
        from django.db import connections

        def run():
            connection = connections["default"]
            while len(connection.run_on_commit) > self.mark:
                pending = connection.run_on_commit[self.mark:]
                del connection.run_on_commit[self.mark:]
                for _sids, func, _robust in pending:
                    func()

        await sync_to_async(run)()


async def until(condition, timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await condition():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


async def act(func, *args, **kwargs):
    return await sync_to_async(func)(*args, **kwargs)


@pytest.fixture
def worlds(demo, exempel):
    return load_worlds("demo")


@pytest.fixture
async def line(worlds, test_connection, pushed, monkeypatch):
    from django.db import connections

    # The test's transaction is the bridge's too: it must not be closed as "in a transaction too long".
    monkeypatch.setattr("pbx.asterisk.bridge.service.close_old_connections", lambda: None)

    def share():
        connections["default"] = test_connection

    await sync_to_async(share)()
    fake = FakeAsterisk(time_scale=1.0)
    install(fake, *worlds)
    await fake.start(ami_port=0, ari_port=None)

    def point_node_at_fake():
        node = AsteriskNode.objects.filter(is_default=True).first() or AsteriskNode.default()
        node.ami_host, node.ami_port = "127.0.0.1", fake.ami.port
        node.ami_username, node.ami_secret = DEFAULT_USERNAME, DEFAULT_SECRET
        node.save()
        return node

    await sync_to_async(point_node_at_fake)()

    async def no_astdb(node, ami):
        return None

    bridge = NodeBridge("default", resolver=Resolver(DatabaseLoader()), state=LiveState(MemoryStore()),
                        persist=None, threaded=True, astdb=no_astdb,
                        # the dialplan events' handlers on the test's connection too (the sync thread)
                        dialplan_options={"thread_sensitive": True})
    bridge.ami = AmiClient("127.0.0.1", fake.ami.port, DEFAULT_USERNAME, DEFAULT_SECRET, timeout=1.0,
                           ping_interval=60.0, on_event=bridge.on_event, on_connect=bridge.on_connect,
                           on_disconnect=bridge.on_disconnect, reconnect_min=0.05, reconnect_max=0.2)
    bridge.start()
    await bridge.ami.start()

    async def synced():
        return bridge.synced

    await until(synced)
    try:
        yield Line(fake, bridge, worlds[0].tenant_id)
    finally:
        await bridge.ami.stop()
        await bridge.stop()
        await sync_to_async(astdb_sync.close_writer)()
        await fake.stop()

        def unshare():
            del connections["default"]

        await sync_to_async(unshare)()

"""``manage.py run_bridge``: the event bridge, following every Asterisk node until SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import signal

from asgiref.sync import sync_to_async
from django.core.management.base import BaseCommand, CommandError


def load_nodes(names: list[str]) -> list:
    from pbx.models import AsteriskNode

    AsteriskNode.default()  # the node the ASTERISK_* settings describe, kept in step with them
    nodes = list(AsteriskNode.objects.filter(name__in=names) if names else AsteriskNode.objects.all())
    missing = set(names) - {node.name for node in nodes}
    if missing:
        raise CommandError(f"no Asterisk node named {', '.join(sorted(missing))}")
    return nodes


class Command(BaseCommand):
    help = ("Follow the calls of every Asterisk node (or the --node ones): live state, call and queue log, "
            "events to the browsers.")

    def add_arguments(self, parser):
        parser.add_argument("--node", action="append", default=[], help="only this node (repeatable)")

    def handle(self, *args, **options):
        asyncio.run(self.run(options["node"]))

    async def run(self, names: list[str]) -> None:
        from pbx.asterisk.bridge.service import Bridge
        from pbx.asterisk.bridge.state import live_state

        nodes = await sync_to_async(load_nodes)(names)
        # This process's live state: what the bridge writes is what its own readers see (the dialplan events'
        # handlers find the call an on-demand recording key was pressed in), with the memory store too.
        state = live_state()
        store = state.store
        bridge = Bridge(nodes, state=state)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await bridge.start()
        self.stdout.write(f"event bridge running for {', '.join(n.name for n in nodes)} ({type(store).__name__})")
        try:
            await stop.wait()
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
            self.stdout.write("event bridge stopping")
            await bridge.stop()
            await store.close()

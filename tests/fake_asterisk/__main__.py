"""Run the fake Asterisk as a process: ``python -m tests.fake_asterisk --ami-port 5038 --ari-port 8088``.

A demo traffic generator can be plugged in with ``--scenario module:function``: the function is called as
``await function(fake)`` once the servers listen (see FakeAsterisk.place_call/answer/hangup/originate).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import signal

from . import DEFAULT_SECRET, DEFAULT_USERNAME, run


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m tests.fake_asterisk", description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--ami-port", type=int, default=5038)
    p.add_argument("--ari-port", type=int, default=8088)
    p.add_argument("--ami-user", default=DEFAULT_USERNAME)
    p.add_argument("--ami-secret", default=DEFAULT_SECRET)
    p.add_argument("--ari-user", default=DEFAULT_USERNAME)
    p.add_argument("--ari-password", default=DEFAULT_SECRET)
    p.add_argument("--time-scale", type=float, default=1.0, help="multiply every simulated duration")
    p.add_argument("--scenario", help="module:function coroutine to drive simulated traffic")
    p.add_argument("-v", "--verbose", action="store_true")
    return p.parse_args(argv)


async def main(argv=None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO)
    fake = await run(args.host, args.ami_port, args.ari_port, time_scale=args.time_scale,
                     ami_username=args.ami_user, ami_secret=args.ami_secret, ari_username=args.ari_user,
                     ari_password=args.ari_password)
    logging.info("fake Asterisk: AMI on %s:%s, ARI on http://%s:%s/ari", args.host, fake.ami.port, args.host,
                 fake.ari.port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    task = None
    if args.scenario:
        module, _, func = args.scenario.partition(":")
        task = loop.create_task(getattr(importlib.import_module(module), func)(fake))
    await stop.wait()
    if task is not None:
        task.cancel()
    await fake.stop()


if __name__ == "__main__":
    asyncio.run(main())

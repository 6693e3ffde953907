"""A FakeAsterisk on its own event loop in a background thread, for synchronous code under test.

Synchronous Django code (an action, a management command, ``apply_node``) runs its own short event loop
or hands work to a background one; the fake must keep answering meanwhile, so it cannot share the test's
thread. State can be read from the test thread once the fake is idle (assertions); anything that changes
it while it runs goes through :meth:`ThreadedFake.call`.

    with ThreadedFake(AsteriskState.empty(), config_dir=tmp_path) as fake:
        ...  # fake.ami.port, fake.ari.port, fake.state, fake.ami.received
        fake.call(fake.ami.restart(AsteriskState.empty()))
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

from .fake import FakeAsterisk
from .state import AsteriskState


class ThreadedFake:
    def __init__(self, state: AsteriskState | None = None, *, config_dir=None, time_scale: float = 0.01, **kwargs):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="fake-asterisk", daemon=True)
        self.fake = FakeAsterisk(state if state is not None else AsteriskState.empty(), time_scale=time_scale,
                                 auth_fail_delay=0.01, **kwargs)
        self.fake.ami.config_dir = config_dir

    def __getattr__(self, name):
        return getattr(self.fake, name)

    def call(self, coro, timeout: float = 10.0):
        """Run a coroutine on the fake's loop and wait for it."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def run(self, func: Callable, *args, timeout: float = 10.0):
        """Run a plain function on the fake's loop (for changes that must not race the servers)."""
        async def wrapper():
            return func(*args)

        return self.call(wrapper(), timeout)

    def wait_for(self, condition: Callable[[], bool], timeout: float = 5.0, interval: float = 0.001) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.run(condition):
                return True
            time.sleep(interval)
        return False

    def start(self) -> ThreadedFake:
        self.thread.start()
        self.call(self.fake.start())
        return self

    def stop(self) -> None:
        try:
            self.call(self.fake.stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(5)
            self.loop.close()

    def __enter__(self) -> ThreadedFake:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

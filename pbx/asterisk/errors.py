"""The one error type for Asterisk failures (AMI and ARI), and how their callbacks are run."""

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger("pbx.asterisk")


class AsteriskError(Exception):
    """An Asterisk action or request failed.

    ``permanent`` is True when retrying the same request cannot help (for example an ARI 404 for a channel
    that no longer exists, or a wrong AMI secret); False for transient failures (timeouts, disconnects).
    """

    def __init__(self, message, permanent=False):
        super().__init__(message)
        self.message = str(message)
        self.permanent = bool(permanent)

    def __repr__(self):
        return f"AsteriskError({self.message!r}, permanent={self.permanent})"


Callback = Callable[..., Awaitable[None] | None]


async def call_safely(name: str, callback: Callback, *args) -> None:
    """Run a connection's callback (sync or async); its failure is logged, never kills the reader."""
    try:
        result = callback(*args)
        if inspect.isawaitable(result):
            await result
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("%s: callback %r failed", name, callback)

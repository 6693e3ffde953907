"""The one error type for Asterisk failures (AMI and ARI)."""


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

"""Everything that talks to Asterisk: AMI and ARI clients (and, later, config generation and the event bridge)."""

from .errors import AsteriskError

__all__ = ["AsteriskError"]

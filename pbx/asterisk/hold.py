"""Hold with music from the console: how the pieces name and recognise the music channel.

Asterisk 22 has no AMI hold, and ARI's ``/hold`` only works on channels in a Stasis application, which
the generated dialplan sends no call into. So a console hold is two things, carried out by the event
bridge on the node (``pbx.asterisk.control``):

1. the holder's own channel silenced both ways with ``VOLUME(RX)`` and ``VOLUME(TX)`` = -100000 (func_volume
   divides every sample by 1e5): the held party no longer hears the holder, the holder no longer hears
   the held party;
2. per held party, an ARI *snoop* channel on the held party's channel (``spy=none``, ``whisper=out``:
   what the snoop channel plays is mixed into what the held party hears), taken into the bridge's ARI
   application, with music on hold started on it (``POST /channels/<snoop>/moh``).

Resume hangs up the snoop channels (``DELETE /channels/<snoop>``) and sets both volumes back to 0 (no
adjustment).

Why VOLUME and not ``MuteAudio``: on a real Asterisk 22.10.1, MuteAudio *drops* the muted frames, and a
whisper audiohook only mixes into frames actually written to its channel. With the holder muted nothing
is written to the held party, so it heard silence, not music; unmuted, it heard the music under the
holder's voice. Silenced samples keep the frames (and the music they carry) flowing.

The snoop channel's id (``snoopId``, which Asterisk uses as its Uniqueid) says whose hold it is:
``hold-<n>-<holder's Uniqueid>``. The event bridge reads the holder from it: ``MusicOnHoldStart`` on such a
channel is "the holder holds", its ``MusicOnHoldStop`` or ``Hangup`` is "the holder resumed"; after a
reconnect the listed snoop channels say who still holds; a snoop whose holder has gone is hung up.
"""

from __future__ import annotations

import re

PREFIX = "hold-"
VOLUMES = ("VOLUME(RX)", "VOLUME(TX)")  # what the holder says / hears
SILENT = "-100000"
_ID = re.compile(r"\Ahold-(\d{1,3})-([A-Za-z0-9._-]{1,120})\Z")


def snoop_id(holder_uniqueid: str, index: int = 0) -> str:
    """The id of the music channel for the ``index``-th party the holder holds."""
    value = f"{PREFIX}{index}-{holder_uniqueid}"
    if not _ID.match(value):
        raise ValueError(f"not a channel id to hold from: {holder_uniqueid!r}")
    return value


def holder_of(uniqueid: str | None) -> str | None:
    """The holder's Uniqueid if ``uniqueid`` is a console hold's music channel, else None."""
    if not uniqueid or not uniqueid.startswith(PREFIX):
        return None
    match = _ID.match(uniqueid)
    return match.group(2) if match else None


def is_hold_snoop(uniqueid: str | None) -> bool:
    return holder_of(uniqueid) is not None

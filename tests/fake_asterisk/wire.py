"""AMI wire format as Asterisk 22 speaks it (see tests/fixtures/asterisk/README.md).

A message is an ordered list of ``(key, value)`` pairs.  On the wire every header is ``Key: Value\\r\\n`` and a
blank line (``\\r\\n``) ends the message.  Header names are matched case-insensitively when Asterisk reads a
request (``action: ping`` works), the first non-empty occurrence wins, and repeated headers (``Variable:``) are
kept in order.
"""

from __future__ import annotations

import codecs

BANNER = b"Asterisk Call Manager/11.0.0\r\n"

Headers = list[tuple[str, str]]


def encode(headers: Headers) -> bytes:
    return ("".join(f"{key}: {value}\r\n" for key, value in headers) + "\r\n").encode()


def parse_block(text: str, *, exact: bool = False) -> Headers:
    """Parse one message (without its terminating blank line) into ordered pairs.

    By default blanks after the colon are skipped, as Asterisk does when it reads a request; ``exact`` removes
    only the one space Asterisk writes, so ``encode(parse_block(raw, exact=True))`` gives back ``raw`` (CLI
    output lines keep their indentation)."""
    pairs: Headers = []
    for line in text.replace("\r\n", "\n").split("\n"):
        if not line:
            continue
        key, sep, value = line.partition(":")
        if not sep:
            pairs.append((line, ""))
            continue
        if exact:
            pairs.append((key, value[1:] if value.startswith(" ") else value))
        else:
            pairs.append((key, value.lstrip(" \t")))
    return pairs


class Request:
    """A parsed AMI request with Asterisk's header lookup rules."""

    def __init__(self, pairs: Headers):
        self.pairs = pairs

    def get(self, name: str, default: str = "") -> str:
        """Like astman_get_header(): case-insensitive, first non-empty value."""
        lname = name.lower()
        for key, value in self.pairs:
            if key.lower() == lname and value != "":
                return value
        return default

    def getall(self, name: str) -> list[str]:
        lname = name.lower()
        return [value for key, value in self.pairs if key.lower() == lname]

    def has(self, name: str) -> bool:
        return bool(self.get(name))

    @property
    def action(self) -> str:
        return self.get("Action")

    @property
    def action_id(self) -> str:
        return self.get("ActionID")

    def as_dict(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for key, value in self.pairs:
            out.setdefault(key, value)
        return out

    def __repr__(self):
        return f"Request({self.pairs!r})"


def truthy(value: str) -> bool:
    """ast_true(): yes/true/y/t/1/on."""
    return value.strip().lower() in {"yes", "true", "y", "t", "1", "on"}


class Splitter:
    """Incremental splitter of a byte stream into AMI messages (blank-line terminated, CRLF or LF)."""

    def __init__(self):
        self._buf = ""
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def feed(self, data: bytes) -> list[str]:
        self._buf += self._decoder.decode(data)
        self._buf = self._buf.replace("\r\n", "\n")
        out = []
        while True:
            # skip leading blank lines between messages
            stripped = self._buf.lstrip("\n")
            if stripped != self._buf:
                self._buf = stripped
            idx = self._buf.find("\n\n")
            if idx < 0:
                break
            out.append(self._buf[:idx])
            self._buf = self._buf[idx + 2 :]
        return out

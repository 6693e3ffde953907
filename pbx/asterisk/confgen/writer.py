"""The tiny writer every generator uses, and the guards on what may be written.

Asterisk's config parser (main/config.c, shared by every ``.conf`` file) knows only lines: a
newline anywhere in a value would start a new line, so it could open a ``[section]`` or a
``#include``. A ``;`` starts a comment, and ``;--`` starts a *block* comment that swallows every
following line up to ``--;``. The only escape it knows is ``\\;`` for a literal semicolon.

So: values never hold control characters (refused with :class:`ConfigError`), ``;`` is written as
``\\;``, and everything structural (section names, numbers, extensions, PINs, sound names, time
zones) must match a strict pattern or is refused. Free text a person typed (a display name, a
mailbox owner's name) is only ever written where it is inert, after :func:`display_text` has
dropped the characters that mean something there.
"""

from __future__ import annotations

import re
import unicodedata

from pbx.asterisk.confgen.parse import COMPANY_MARK, layout
from pbx.asterisk.confgen.parse import SHARED_MARK as SHARED_MARK  # generators write it (pjsip.py)
from pbx.validators import CONTROL_RE, DIALABLE_RE, E164_RE, EXTENSION_RE, PIN_RE, SOUND_NAME_RE

HEADER = "; Generated from the database by `manage.py render_asterisk`. Do not edit: it is overwritten.\n"

# CONTROL_RE (what ends or breaks a line for Asterisk's parser: it splits at \n and drops \r),
# DIALABLE_RE, E164_RE, EXTENSION_RE, PIN_RE and SOUND_NAME_RE are the very patterns pbx.validators refuses
# at the edge: what a form takes, the generators write, and nothing else. Every pattern ends in \Z
# (``$`` would let a trailing newline through).
NAME_RE = re.compile(r"\A[A-Za-z0-9][A-Za-z0-9_.+-]{0,79}\Z")
DIGITS_RE = re.compile(r"\A[0-9]{1,20}\Z")
SOUND_RE = SOUND_NAME_RE
TZ_RE = re.compile(r"\A[A-Za-z0-9_+-]+(/[A-Za-z0-9_+-]+)*\Z")
# What stays of a display name: letters, digits, blanks and a little punctuation, in any script.
DISPLAY_DROP = set('"<>\\;,|${}[]()=&^`')
PLAIN_RE = re.compile(r"\A[^\W_]+(?:[ .'-][^\W_]+)*\Z")  # letters/digits of any script, single separators


class ConfigError(ValueError):
    """A value cannot be written into an Asterisk file without changing its meaning."""


def _refuse(what: str, value: str, rule: str) -> ConfigError:
    return ConfigError(f"{what}: {value!r} {rule}")


def conf_value(value: str, what: str) -> str:
    """A value for ``key = value`` in any Asterisk config file."""
    value = str(value)
    if CONTROL_RE.search(value):
        raise _refuse(what, value, "holds a line break or control character; it cannot be written into a config file")
    if value != value.strip():
        raise _refuse(what, value, "starts or ends with blanks, which Asterisk would silently drop")
    return value.replace(";", "\\;")


def name(value: str, what: str) -> str:
    """A section, context, queue or endpoint name: generated from ids, checked anyway."""
    if not NAME_RE.match(value):
        raise _refuse(what, value, "is not a safe Asterisk object name")
    return value


def digits(value: str, what: str) -> str:
    if not DIGITS_RE.match(value or ""):
        raise _refuse(what, value, "is not digits only")
    return value


def extension(value: str, what: str) -> str:
    """An extension or a mailbox number, within the limits the forms allow (validators.EXTENSION_RE)."""
    if not EXTENSION_RE.match(value or ""):
        raise _refuse(what, value, "is not an extension (2–8 digits)")
    return value


def pin(value: str, what: str) -> str:
    if not PIN_RE.match(value or ""):
        raise _refuse(what, value, "is not a PIN (4–12 digits)")
    return value


def dialable(value: str, what: str) -> str:
    if not DIALABLE_RE.match(value or ""):
        raise _refuse(what, value, "is not a phone number (digits, optionally after +)")
    return value


def e164(value: str, what: str) -> str:
    if not E164_RE.match(value or ""):
        raise _refuse(what, value, "is not an E.164 number")
    return value


def sound(value: str, what: str) -> str:
    if not SOUND_RE.match(value or ""):
        raise _refuse(what, value, "is not a safe sound file name")
    return value


def time_zone(value: str, what: str) -> str:
    if not TZ_RE.match(value or ""):
        raise _refuse(what, value, "is not a time zone name")
    return value


def display_text(value: str, limit: int = 60) -> str:
    """A person's free text made inert for a display field (caller ID name, mailbox owner).

    Control characters, quotes, brackets, separators and ``$`` are dropped, blanks collapsed;
    letters of any script stay (Å, é, 漢). The result is always safe; it may be empty.
    """
    value = unicodedata.normalize("NFC", value or "")
    if PLAIN_RE.match(value):
        return " ".join(value.split())[:limit].strip()
    kept = []
    for char in value:
        if char in DISPLAY_DROP or CONTROL_RE.match(char) or unicodedata.category(char).startswith("C"):
            kept.append(" ")
        else:
            kept.append(char)
    return " ".join("".join(kept).split())[:limit].strip()


class ConfWriter:
    """Sections and options of a classic ``.conf`` file, built as a list of lines."""

    def __init__(self, header: str | None = HEADER):
        self.lines: list[str] = [header.rstrip("\n")] if header is not None else []

    def comment(self, text: str) -> None:
        # Comments are ours (never a person's text); still, one line only.
        self.lines.append("; " + " ".join(str(text).split()))

    def section(self, section: str, *templates: str, template: bool = False) -> None:
        parts = (["!"] if template else []) + [name(t, "template") for t in templates]
        suffix = f"({','.join(parts)})" if parts else ""
        self.lines.append("")
        self.lines.append(f"[{name(section, 'section')}]{suffix}")

    def option(self, key: str, value: object, what: str | None = None, op: str = "=") -> None:
        self.lines.append(f"{key} {op} {conf_value(str(value), what or key)}")

    def raw(self, line: str) -> None:
        """A line composed by a generator from already-checked parts."""
        self.lines.append(line)

    def text(self) -> str:
        return "\n".join(self.lines) + "\n" if self.lines else ""


def bool_value(value: bool) -> str:
    return "yes" if value else "no"


# Every company's part of a file starts with this line, so one company's part can be replaced
# without rendering the others (confgen.render_update); shared objects follow the last company.
# parse.Layout finds the parts again (for render_update and for the incremental check and plan).
TENANT_MARK = COMPANY_MARK + "{} ====\n"


def compose(head: str, parts, tail: str) -> str:
    """``head`` (ends with a newline), each company's ``(id, text)``, then ``tail``."""
    return head + "".join(TENANT_MARK.format(tid) + part for tid, part in parts) + tail


def split_parts(text: str) -> tuple[str, dict[int, str], str]:
    """The inverse of :func:`compose`."""
    found = layout(text)  # the apply's check and plan look at the same running files' layout again
    return found.head(), {tenant_id: found.part(tenant_id) for tenant_id in found.parts}, found.tail()


def head_of(module, snapshot) -> str:
    """A generator's text before the companies: its own ``head`` or just the standard header."""
    return module.head(snapshot) if hasattr(module, "head") else HEADER


def tail_of(module, snapshot) -> str:
    return module.tail(snapshot) if hasattr(module, "tail") else ""


def generate_file(module, snapshot) -> str:
    """A generator module with ``tenant_part`` (and optionally ``head``/``tail``), rendered."""
    parts = ((tenant.id, module.tenant_part(snapshot, tenant)) for tenant in snapshot.tenants)
    return compose(head_of(module, snapshot), parts, tail_of(module, snapshot))

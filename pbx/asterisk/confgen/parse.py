"""A reader of Asterisk config syntax, to check generated files and diff them.

It follows main/config.c for what a line means: ``[section](templates)``, ``key = value`` and
``key => value``, ``;`` comments with the ``\\;`` escape, ``;-- --;`` block comments and
``#include``; and pbx_config.c for extensions.conf: ``exten =>``, ``same =>``, priorities
``1``/``n``/``hint`` with optional ``(label)``, ``include =>``.

What is not plain configuration is reported in ``issues`` (line, message): a ``;`` inside a value
(in a generated file that can only be an unescaped ``;`` from someone's text), a block comment,
a line that is neither.
"""

from __future__ import annotations

import bisect
import contextlib
import functools
import gc
import re
from collections.abc import Iterator
from dataclasses import dataclass, field


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Parsing or rendering a big node allocates a million small objects and no cycles: the
    cyclic collector would rescan the growing heap again and again (3x the run time)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


SECTION_RE = re.compile(r"^\[([^\]]*)\](?:\(([^)]*)\))?\s*$")
PRIORITY_RE = re.compile(r"^(n|hint|\d+|n\+\d+)(?:\(([^)]*)\))?$")


@dataclass(slots=True)
class Option:
    key: str
    value: str
    op: str
    line: int


@dataclass(slots=True)
class Section:
    name: str
    templates: tuple[str, ...]
    is_template: bool
    line: int
    options: list[Option] = field(default_factory=list)

    def get(self, key: str, default: str | None = None) -> str | None:
        for option in reversed(self.options):
            if option.key == key:
                return option.value
        return default


@dataclass(slots=True)
class ConfFile:
    name: str
    sections: list[Section]
    issues: list[tuple[int, str]]
    directives: list[tuple[int, str]]
    expanded: list[tuple[Section, dict[str, list[str]]]] | None = None


def strip_comment(raw: str, in_block: int) -> tuple[str, int, str | None]:
    """One physical line through config.c's comment rules: (content, block depth, issue)."""
    out: list[str] = []
    i, n = 0, len(raw)
    issue = None
    while i < n:
        char = raw[i]
        if in_block:
            if raw.startswith("--;", i):
                in_block -= 1
                i += 3
                continue
            if raw.startswith(";--", i) and not raw.startswith(";---", i):
                in_block += 1
                i += 3
                continue
            i += 1
            continue
        if char == ";":
            if out and out[-1] == "\\":
                out[-1] = ";"  # an escaped semicolon is text
                i += 1
                continue
            if raw.startswith(";--", i) and not raw.startswith(";---", i):
                issue = "a block comment (;--) starts here: everything up to --; is ignored"
                in_block += 1
                i += 3
                continue
            if "".join(out).strip():
                issue = "text after an unescaped ';' is cut off as a comment"
            break
        out.append(char)
        i += 1
    return "".join(out), in_block, issue


def parse_conf(text: str, name: str = "", first_line: int = 1) -> ConfFile:
    sections: list[Section] = []
    issues: list[tuple[int, str]] = []
    directives: list[tuple[int, str]] = []
    current: Section | None = None
    in_block = 0
    for lineno, raw in enumerate(text.split("\n"), first_line):
        if in_block or ";" in raw:
            content, in_block, issue = strip_comment(raw, in_block)
            if issue:
                issues.append((lineno, issue))
        else:
            content = raw
        line = content.strip()
        if not line:
            continue
        if line.startswith("#"):
            directives.append((lineno, line))
            continue
        if line[0] == "[":
            match = SECTION_RE.match(line)
            if match:
                flags = [t.strip() for t in (match.group(2) or "").split(",") if t.strip()]
                current = Section(
                    name=match.group(1).strip(), templates=tuple(f for f in flags if f not in ("!", "+")),
                    is_template="!" in flags, line=lineno,
                )
                sections.append(current)
                continue
        key, eq, value = line.partition("=")
        if not eq or current is None or not key.strip():
            issues.append((lineno, f"not a section, option or directive: {line[:60]!r}"))
            continue
        op = "="
        if value[:1] == ">":
            op, value = "=>", value[1:]
        current.options.append(Option(key.strip(), value.strip(), op, lineno))
    if in_block:
        issues.append((len(text.split("\n")), "a block comment is never closed"))
    return ConfFile(name, sections, issues, directives)


def expanded(conf: ConfFile) -> list[tuple[Section, dict[str, list[str]]]]:
    """Concrete sections with their templates' options folded in (template first, then own)."""
    if conf.expanded is not None:
        return conf.expanded
    templates = {s.name: s for s in conf.sections if s.is_template}
    cache: dict[str, list[tuple[str, str]]] = {}

    def template_options(name: str, depth: int = 0) -> list[tuple[str, str]]:
        if name not in cache:
            template = templates.get(name)
            found: list[tuple[str, str]] = []
            if template is not None and depth < 10:
                for parent in template.templates:
                    found.extend(template_options(parent, depth + 1))
                found.extend((o.key, o.value) for o in template.options)
            cache[name] = found
        return cache[name]

    result = []
    for section in conf.sections:
        if section.is_template:
            continue
        values: dict[str, list[str]] = {}
        for name in section.templates:
            for key, value in template_options(name):
                values.setdefault(key, []).append(value)
        for option in section.options:
            values.setdefault(option.key, []).append(option.value)
        result.append((section, values))
    conf.expanded = result
    return result


# -- extensions.conf --------------------------------------------------------------------------


@dataclass(slots=True)
class Priority:
    number: int
    label: str | None
    app: str
    data: str
    line: int


@dataclass(slots=True)
class Extension:
    name: str
    priorities: dict[int, Priority] = field(default_factory=dict)
    labels: dict[str, int] = field(default_factory=dict)
    hint: Priority | None = None

    @property
    def is_pattern(self) -> bool:
        return self.name.startswith("_")


@dataclass(slots=True)
class Context:
    name: str
    line: int
    extensions: dict[str, Extension] = field(default_factory=dict)
    includes: list[str] = field(default_factory=list)
    patterns: list[Extension] = field(default_factory=list)


@dataclass(slots=True)
class Dialplan:
    contexts: dict[str, Context]
    issues: list[tuple[int, str]]


def parse_dialplan_text(text: str, first_line: int = 1) -> Dialplan:
    """extensions.conf in one pass: comments as config.c, lines as pbx_config.c.

    ``issues`` holds the comment problems too (as parse_conf would report them)."""
    contexts: dict[str, Context] = {}
    issues: list[tuple[int, str]] = []
    context: Context | None = None
    skip = False
    last: Extension | None = None
    last_priority = 0
    in_block = 0
    for lineno, raw in enumerate(text.split("\n"), first_line):
        if in_block or ";" in raw:
            raw, in_block, issue = strip_comment(raw, in_block)
            if issue:
                issues.append((lineno, issue))
        line = raw.strip()
        if not line:
            continue
        first = line[0]
        if first == "[":
            match = SECTION_RE.match(line)
            if match is None:
                issues.append((lineno, f"not a section, option or directive: {line[:60]!r}"))
                continue
            name = match.group(1).strip()
            skip = name in ("general", "globals")
            context = contexts.get(name)
            if context is None and not skip:
                context = contexts[name] = Context(name, lineno)
            last = None
            continue
        if first == "#":
            continue
        key, eq, value = line.partition("=")
        if not eq or context is None and not skip:
            issues.append((lineno, f"not a section, option or directive: {line[:60]!r}"))
            continue
        if skip:
            continue
        if value[:1] == ">":
            value = value[1:]
        key = key.strip()
        value = value.strip()
        if key == "exten":
            parts = value.split(",", 2)
            if len(parts) < 3:
                issues.append((lineno, f"incomplete extension line: {value[:60]!r}"))
                continue
            exten_name, prio_text, rest = parts[0].strip(), parts[1].strip(), parts[2]
            extension = context.extensions.get(exten_name)
            if extension is None:
                extension = context.extensions[exten_name] = Extension(exten_name)
                if exten_name[:1] == "_":
                    context.patterns.append(extension)
            last = extension
        elif key == "same":
            if last is None:
                issues.append((lineno, "'same =>' without an extension before it"))
                continue
            extension = last
            prio_text, _, rest = value.partition(",")
            prio_text = prio_text.strip()
        elif key == "include":
            context.includes.append(value)
            continue
        else:
            continue  # switch, ignorepat: nothing to check here
        if prio_text == "n":
            number, label = last_priority + 1, None
        elif prio_text.isdigit():
            number, label = int(prio_text), None
        elif prio_text == "hint":
            extension.hint = Priority(-1, None, "", rest, lineno)
            continue
        else:
            match = PRIORITY_RE.match(prio_text)
            if match is None:
                issues.append((lineno, f"bad priority {prio_text!r}"))
                continue
            number_text, label = match.group(1), match.group(2)
            if number_text == "hint":
                extension.hint = Priority(-1, None, "", rest, lineno)
                continue
            if number_text == "n":
                number = last_priority + 1
            elif number_text.startswith("n+"):
                number = last_priority + int(number_text[2:])
            else:
                number = int(number_text)
        paren = rest.find("(")
        if paren == -1 or "$" in rest[:paren]:
            app, data = rest.strip(), ""
        else:
            app, data = rest[:paren].strip(), rest[paren + 1:]
            if data[-1:] == ")":
                data = data[:-1]
        if number in extension.priorities:
            issues.append((lineno, f"priority {number} of {extension.name} defined twice"))
        extension.priorities[number] = Priority(number, label, app, data, lineno)
        if label:
            extension.labels[label] = number
        last_priority = number
    if in_block:
        issues.append((lineno, "a block comment is never closed"))
    return Dialplan(contexts, issues)


def context_blocks(text: str) -> dict[str, str]:
    """The text of each section (sections of the same name joined), cheaply, for diffing.

    What comes before the first section is kept under the name ``""``."""
    return _blocks(text)


@functools.lru_cache(maxsize=16)
def _blocks(text: str) -> dict[str, str]:
    spans = section_spans(text)
    blocks: dict[str, str] = {"": text[:text.find("\n[") + 1] if spans else text}
    if spans and text.startswith("["):
        blocks[""] = ""
    for name, block, _line in spans:
        previous = blocks.get(name)
        blocks[name] = block if previous is None else previous + block
    return blocks


@functools.lru_cache(maxsize=16)
def section_spans(text: str) -> tuple[tuple[str, str, int], ...]:
    """Every section as (name, its text, its first line), in file order, cheaply (no parsing).

    Cached for the last few texts: checking and planning the same render share the work."""
    spans: list[tuple[str, str, int]] = []
    starts = []
    position = 0 if text.startswith("[") else text.find("\n[")
    while position != -1:
        start = position if text.startswith("[", position) else position + 1
        starts.append(start)
        position = text.find("\n[", start)
    line = 1
    previous = 0
    for i, start in enumerate(starts):
        line += text.count("\n", previous, start)
        previous = start
        end = starts[i + 1] if i + 1 < len(starts) else len(text)
        block = text[start:end]
        spans.append((block[1:block.find("]")].strip(), block, line))
    return tuple(spans)


@functools.lru_cache(maxsize=16)
def section_starts(text: str) -> list[int]:
    """Where each section of :func:`section_spans` starts in the text."""
    starts = []
    position = len(text) - sum(len(block) for _name, block, _line in section_spans(text))
    for _name, block, _line in section_spans(text):
        starts.append(position)
        position += len(block)
    return starts


TYPE_RE = re.compile(r"^type\s*=\s*(\w+)", re.MULTILINE)


def _section_heads(block: str) -> list[tuple[list[str], bool, str | None]]:
    """(templates, is template, own type) of each section in a block of same-named sections."""
    heads = []
    for part in ("\n" + block).split("\n[")[1:]:
        header = part[:part.find("\n")] if "\n" in part else part
        flags = header[header.find("]") + 1:].strip()
        parents = [f.strip() for f in flags[1:-1].split(",") if f.strip()] if flags.startswith("(") else []
        match = TYPE_RE.search(part)
        heads.append(([p for p in parents if p not in ("!", "+")], "!" in parents, match.group(1) if match else None))
    return heads


class ObjectIndex:
    """(name, type) membership for a typed config file (pjsip.conf), templates resolved, working
    per name on demand: checking references into a big file whose sections did not change."""

    def __init__(self, text: str):
        plan = layout(text)
        # A composed file keeps its templates in the shared head and tail; one section is found on demand.
        self.layout = plan if plan.parts else None
        self.blocks = context_blocks(text) if self.layout is None else {
            **context_blocks(plan.head()), **context_blocks(plan.tail())}
        self.templates: dict[str, tuple[list[str], str | None]] = {}
        for name, block in self.blocks.items():
            if name and "(!" in block[:block.find("\n")]:
                for parents, is_template, own in _section_heads(block):
                    if is_template:
                        self.templates[name] = (parents, own)
        self._types: dict[str, set[str]] = {}

    def _type_of(self, parents: list[str], own: str | None, depth: int = 0) -> str | None:
        if own or depth > 10:
            return own
        for parent in reversed(parents):
            if parent in self.templates:
                found = self._type_of(*self.templates[parent], depth + 1)
                if found:
                    return found
        return None

    def types(self, name: str) -> set[str]:
        if name not in self._types:
            block = self.blocks.get(name) if name else None
            if block is None and name and self.layout is not None:
                found = self.layout.blocks_named(name, everywhere=True)
                block = found[0] if found else None
            self._types[name] = {
                self._type_of(parents, own) or "" for parents, is_template, own in _section_heads(block or "")
                if not is_template
            }
        return self._types[name]

    def __contains__(self, key: tuple[str, str]) -> bool:
        name, kind = key
        return kind in self.types(name)


# -- arguments ----------------------------------------------------------------------------------


ARG_SPECIAL_RE = re.compile(r'[()\[\]{}"\\]')
_SPLIT_RES: dict[str, re.Pattern[str]] = {}


def split_args(data: str, sep: str = ",") -> list[str]:
    """Split application arguments like ast_app_separate_args: (), [], ${}, $[] and quotes nest."""
    if not ARG_SPECIAL_RE.search(data):
        return data.split(sep)
    tokens = _SPLIT_RES.get(sep)
    if tokens is None:
        tokens = _SPLIT_RES[sep] = re.compile(r'\\.|[()\[\]{}"' + re.escape(sep) + "]")
    parts: list[str] = []
    depth = 0
    quote = False
    start = 0
    for match in tokens.finditer(data):
        char = match.group()
        if len(char) == 2:  # a backslash escape
            continue
        if char == '"':
            quote = not quote
        elif quote:
            continue
        elif char == sep:
            if depth == 0:
                parts.append(data[start:match.start()])
                start = match.end()
        elif char in "([{":
            depth += 1
        elif depth:
            depth -= 1
    parts.append(data[start:])
    return parts


def split_condition(data: str) -> tuple[str, str, str]:
    """``cond?iftrue:iffalse`` with nesting respected → (cond, iftrue, iffalse)."""
    cond_and_rest = split_args(data, "?")
    if len(cond_and_rest) < 2:
        return data, "", ""
    cond, rest = cond_and_rest[0], "?".join(cond_and_rest[1:])
    branches = split_args(rest, ":")
    return cond, branches[0], ":".join(branches[1:])


def pattern_regex(pattern: str) -> re.Pattern[str]:
    """An Asterisk extension pattern (``_0X.``, ``_*20XX``, ``_[1-5]!``) as a regex."""
    out = []
    body = pattern[1:].replace("-", "") if "[" not in pattern else pattern[1:]
    i = 0
    while i < len(body):
        char = body[i]
        upper = char.upper()
        if upper == "X":
            out.append("[0-9]")
        elif upper == "Z":
            out.append("[1-9]")
        elif upper == "N":
            out.append("[2-9]")
        elif char == ".":
            out.append(".+")
        elif char == "!":
            out.append(".*")
        elif char == "[":
            end = body.find("]", i)
            if end == -1:
                out.append(re.escape(char))
            else:
                out.append("[" + body[i + 1:end].replace("\\", "\\\\") + "]")
                i = end
        else:
            out.append(re.escape(char))
        i += 1
    return re.compile(r"\A" + "".join(out) + r"\Z")


# ----------------------------------------------------------------------------- composed files

# writer.compose() puts each company's part after a ``; ==== company <id> ====`` line and the shared
# objects after ``; ==== shared ====`` (writer takes the marks from here: parse.py imports nothing of ours).
COMPANY_MARK = "\n; ==== company "
SHARED_MARK = "\n; ==== shared ====\n"
_OWN_NAME_RE = re.compile(r"t(\d+)-")


class Layout:
    """Where the head, each company's part and the tail of a composed file lie, without copying it.

    The regions are the unit of the incremental check and plan: a one-company change leaves every
    other company's part byte-identical, so only the regions that differ are split into sections.
    A file without the marks is one region (its head)."""

    def __init__(self, text: str):
        self.text = text
        shared = text.find(SHARED_MARK)
        self.body_end = len(text) if shared == -1 else shared
        self.parts: dict[int, tuple[int, int]] = {}
        self._starts: list[int] = []
        self._ends: list[int] | None = None
        self._known: list[int] = []  # positions whose line number is known (line_of)
        self._lines: list[int] = []
        self._confined_ids: dict[int, bool] = {}
        self._headers: dict[tuple[int, int], dict[str, list[int]]] = {}
        position = text.find(COMPANY_MARK, 0, self.body_end)
        self.head_end = self.body_end if position == -1 else position
        while position != -1:
            line_end = text.index("\n", position + 1)
            tenant_id = int(text[position + len(COMPANY_MARK):line_end].split(" ", 1)[0])
            following = text.find(COMPANY_MARK, line_end, self.body_end)
            self.parts[tenant_id] = (line_end + 1, self.body_end if following == -1 else following)
            position = following

    def head(self) -> str:
        return self.text[:self.head_end]

    def tail(self) -> str:
        return self.text[self.body_end:]

    def part(self, tenant_id: int) -> str | None:
        span = self.parts.get(tenant_id)
        return None if span is None else self.text[span[0]:span[1]]

    def line_of(self, position: int) -> int:
        """The line number at ``position``, counting from the nearest position already known."""
        index = bisect.bisect_right(self._known, position) - 1
        start, line = (self._known[index], self._lines[index]) if index >= 0 else (0, 1)
        line += self.text.count("\n", start, position)
        if position - start > 65536:  # remember far-apart points only: the lists stay short
            where = bisect.bisect_right(self._known, position)
            self._known.insert(where, position)
            self._lines.insert(where, line)
        return line

    def region_end(self, position: int) -> int:
        """Where the region (head, a company's part, tail) holding ``position`` ends."""
        if position < self.head_end:
            return self.head_end
        if position >= self.body_end:
            return len(self.text)
        if self._ends is None:
            spans = sorted(self.parts.values())
            self._starts, self._ends = [a for a, _b in spans], [b for _a, b in spans]
        index = bisect.bisect_right(self._starts, position) - 1
        return self._ends[index] if index >= 0 else self.head_end

    def blocks_named(self, name: str, *, everywhere: bool = False) -> tuple[str, int] | None:
        """The text of every section called ``name`` (joined, each ending where its region ends) and
        the first one's line, or None (see :meth:`sections_named` for where it looks)."""
        pieces = self.sections_named(name, everywhere=everywhere)
        return ("".join(block for block, _line in pieces), pieces[0][1]) if pieces else None

    def sections_named(self, name: str, *, everywhere: bool = False) -> list[tuple[str, int]]:
        """Each section called ``name`` as (its text, its first line), in file order.

        Where it looks: a company's own name (``t<id>-...``) in that company's part and the shared
        head and tail (the whole file if some other company's part has a section of that company),
        any other name in the head and tail (where the generators put shared sections), and the whole
        file when that finds nothing or ``everywhere`` is asked for."""
        whole = [(0, len(self.text))]
        match = _OWN_NAME_RE.match(name)
        if match and not self._confined(int(match.group(1))):
            return self._find(name, whole)
        if everywhere and not match:
            return self._find(name, whole)
        regions = [(0, self.head_end), (self.body_end, len(self.text))]
        if match and int(match.group(1)) in self.parts:
            regions.insert(1, self.parts[int(match.group(1))])
        return self._find(name, regions) or self._find(name, whole)

    def _confined(self, tenant_id: int) -> bool:
        """Whether every ``t<id>-`` section of the company is in its own part or the shared head and tail:
        only then is looking there alone complete. A few plain searches of the other companies' parts."""
        confined = self._confined_ids.get(tenant_id)
        if confined is None:
            prefix = f"\n[t{tenant_id}-"
            span = self.parts.get(tenant_id)
            others = [(self.head_end, self.body_end)] if span is None else \
                [(self.head_end, span[0]), (span[1], self.body_end)]
            confined = self._confined_ids[tenant_id] = all(self.text.find(prefix, a, b) == -1 for a, b in others)
        return confined

    def _header_index(self, start: int, end: int) -> dict[str, list[int]]:
        """Where each ``\n[<name>]`` of the region starts, by name: one pass over the region."""
        index = self._headers.get((start, end))
        if index is None:
            index = self._headers[(start, end)] = {}
            text = self.text
            position = text.find("\n[", start, end)
            while position != -1:
                close = text.find("]", position + 2, end)
                if close == -1:
                    break
                index.setdefault(text[position + 2:close], []).append(position)
                position = text.find("\n[", position + 2, end)
        return index

    def _next(self, name: str, needle: str, start: int, end: int, region: tuple[int, int] | None) -> int:
        """``text.find(needle, start, end)``; in the shared head or tail (``region``, searched for every
        name the check looks up, and the head holds ``[from-trunk]``'s tens of thousands of lines)
        through an index of its section headers instead of a scan."""
        if region is None:
            return self.text.find(needle, start, end)
        positions = self._header_index(*region).get(name, ())
        where = bisect.bisect_left(positions, start)
        return positions[where] if where < len(positions) else -1

    def _find(self, name: str, regions: list[tuple[int, int]]) -> list[tuple[str, int]]:
        pieces: list[tuple[str, int]] = []
        needle = f"\n[{name}]"
        text = self.text
        shared = {(0, self.head_end), (self.body_end, len(text))} if "]" not in name else set()
        for start, end in regions:
            if start >= end:
                continue
            region = (start, end) if (start, end) in shared else None
            position = 0 if start == 0 and text.startswith(needle[1:]) else self._next(name, needle, start, end, region)
            while position != -1:
                begin = position + (text[position] == "\n")
                stop = min(self.region_end(begin), end)
                following = text.find("\n[", begin, stop)
                following = stop if following == -1 else following + 1
                pieces.append((text[begin:following], begin))
                position = self._next(name, needle, following - 1, end, region)
        pieces.sort(key=lambda piece: piece[1])
        return [(block, self.line_of(begin)) for block, begin in pieces]


@functools.lru_cache(maxsize=16)
def layout(text: str) -> Layout:
    return Layout(text)


@dataclass
class BlockDifference:
    """The sections of two versions of a file that may differ, as :func:`context_blocks` gives them.

    ``old``/``new`` hold every section of the regions (head, company parts, tail) whose text
    differs, joined with their same-named sections elsewhere; sections only in identical regions
    are left out (they cannot differ). ``origin`` says, for each name, the company whose part
    holds it (None: the head or the tail). ``""`` is the text before the first section."""

    old: dict[str, str]
    new: dict[str, str]
    origin: dict[str, int | None]
    whole: bool  # True when the files could not be split (then old/new are complete)

    def changed(self) -> set[str]:
        return {n for n, block in self.new.items() if n and self.old.get(n) != block}

    def removed(self) -> set[str]:
        return {n for n in self.old if n and n not in self.new}


def _preamble_of(text: str) -> str:
    if text.startswith("["):
        return ""
    end = text.find("\n[")
    return text if end == -1 else text[:end + 1]


@functools.lru_cache(maxsize=8)
def block_difference(old: str, new: str) -> BlockDifference:
    """The sections of ``old`` and ``new`` that may differ, cheaply on big composed files."""
    before, after = layout(old), layout(new)
    if not before.parts and not after.parts:
        return BlockDifference(context_blocks(old), context_blocks(new), {}, True)
    pairs: list[tuple[str, str, int | None]] = []  # in file order: head, companies, tail
    shared = before.head() != after.head() or before.tail() != after.tail()
    if shared:
        pairs.append((before.head(), after.head(), None))
    for tenant_id in sorted(set(before.parts) | set(after.parts)):
        a, b = before.part(tenant_id), after.part(tenant_id)
        if a != b:
            pairs.append((a or "", b or "", tenant_id))
    if shared:
        pairs.append((before.tail(), after.tail(), None))
    old_blocks: dict[str, str] = {"": _preamble_of(old)}
    new_blocks: dict[str, str] = {"": _preamble_of(new)}
    origin: dict[str, int | None] = {}
    for a, b, tenant_id in pairs:
        for blocks, text in ((old_blocks, a), (new_blocks, b)):
            for name, block in _blocks(text).items():
                if not name:
                    continue
                blocks[name] = blocks[name] + block if name in blocks else block
                origin.setdefault(name, tenant_id)
    # A section whose name also heads a section in a region that did not change (``[zonemessages](+)``
    # in every company's part) is only whole when all of them are joined: then use the whole files.
    # A company's own name (t<id>-...) is looked for in its part, the head and the tail only.
    for name in origin:
        for text, blocks in ((old, old_blocks), (new, new_blocks)):
            found = layout(text).blocks_named(name, everywhere=True)
            if (found[0] if found else None) != blocks.get(name):
                return BlockDifference(context_blocks(old), context_blocks(new), {}, True)
    return BlockDifference(old_blocks, new_blocks, origin, False)

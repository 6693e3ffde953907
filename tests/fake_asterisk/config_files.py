"""The fake reading generated configuration files the way Asterisk does on a reload (opt-in).

Set ``fake.ami.config_dir`` to the directory the orchestrator writes (Asterisk's ``generated/``) and the fake
follows it like Asterisk 22 follows ``#tryinclude generated/...``:

* ``Reload Module: app_queue.so`` (or a full ``Reload``) reads ``queues.conf``: queues that are new appear
  (empty), queues no longer in the file disappear unless a caller is still waiting, and the dynamic members of
  the queues that stay are kept (app_queue.c ``reload_queues``: members added through AMI survive a reload);
* ``dialplan reload`` reads ``extensions.conf``: every context, extension, priority, include and hint of
  pbx_config is replaced by the file's, so whatever was added through ``DialplanExtensionAdd`` or
  ``dialplan add include`` and is not in the file is gone, and hints are re-created (pbx_config.c: the
  registrar of both is ``pbx_config``);
* ``load_config()`` does both, like a boot.

It also answers the CLI commands the orchestrator sends through ``Action: Command`` to change a running
dialplan (pbx_config.c ``handle_cli_dialplan_add_include`` / ``remove_include`` / ``remove_context``), with
Asterisk's own output lines.

The parser here is independent of the project's (pbx/asterisk/confgen/parse.py) on purpose: a test must not
agree with the generator because both share a mistake. It knows what config.c and pbx_config.c do with the
generated files: ``;`` comments (``\\;`` is a literal semicolon), ``[name]`` / ``[name](template)``, ``exten =>``
with a number, ``n``, ``n(label)`` or ``hint`` priority, ``same =>``, ``include =>``.
"""

from __future__ import annotations

import re
from pathlib import Path

from .state import Hint, Queue

SECTION_RE = re.compile(r"^\[([^\]]+)\]")


def strip_comment(line: str) -> str:
    """config.c: ``;`` starts a comment unless escaped as ``\\;`` (which stays a literal ``;``)."""
    out, i = [], 0
    while i < len(line):
        c = line[i]
        if c == "\\" and i + 1 < len(line) and line[i + 1] == ";":
            out.append(";")
            i += 2
            continue
        if c == ";":
            break
        out.append(c)
        i += 1
    return "".join(out).strip()


def sections(text: str) -> list[tuple[str, list[str]]]:
    """(section name, its non-empty lines without comments), in file order."""
    result: list[tuple[str, list[str]]] = []
    for raw in text.splitlines():
        line = strip_comment(raw)
        if not line:
            continue
        match = SECTION_RE.match(line)
        if match:
            result.append((match.group(1), []))
        elif result:
            result[-1][1].append(line)
    return result


def parse_dialplan(text: str) -> tuple[dict, dict[str, list[str]], list[tuple[str, str, str]]]:
    """extensions.conf → ({(context, exten, priority): (app, data)}, {context: includes}, [(exten, context, hint)])."""
    extensions: dict[tuple[str, str, str], tuple[str, str]] = {}
    includes: dict[str, list[str]] = {}
    hints: list[tuple[str, str, str]] = []
    for context, lines in sections(text):
        if context in ("general", "globals"):
            continue
        includes.setdefault(context, [])
        exten, last = None, 0
        for line in lines:
            key, sep, value = line.partition("=>")
            if not sep:
                key, sep, value = line.partition("=")
            key, value = key.strip().lower(), value.strip()
            if key == "include":
                includes[context].append(value)
                continue
            if key == "exten":
                exten, _, rest = value.partition(",")
            elif key == "same" and exten is not None:
                rest = value
            else:
                continue
            priority, _, command = rest.partition(",")
            priority = priority.strip()
            if priority.lower() == "hint":
                hints.append((exten, context, command))
                extensions[(context, exten, "hint")] = (command, "")
                continue
            label = re.match(r"^(n|\d+)(?:\(([^)]*)\))?$", priority)
            if label is None:
                continue
            number = last + 1 if label.group(1) == "n" else int(label.group(1))
            last = number
            app, _, data = command.partition("(")
            extensions[(context, exten, str(number))] = (app.strip(), data[:-1] if data.endswith(")") else data)
    return extensions, includes, hints


def read(config_dir: Path, name: str) -> str | None:
    path = Path(config_dir) / name
    return path.read_text(encoding="utf-8") if path.is_file() else None


def load_queues(state, config_dir: Path) -> None:
    text = read(config_dir, "queues.conf")
    if text is None:
        return
    wanted: dict[str, tuple[str, int]] = {}
    for name, lines in sections(text):
        if name == "general":
            continue
        options = {v.split("=", 1)[0].strip(): v.split("=", 1)[1].strip() for v in lines if "=" in v}
        level = options.get("servicelevel", "0")
        wanted[name] = (options.get("strategy", "ringall"), int(level) if level.isdigit() else 0)
    for name in list(state.queues):
        if name not in wanted and not state.queues[name].callers:
            del state.queues[name]
    for name, (strategy, level) in wanted.items():
        queue = state.queues.get(name)
        if queue is None:
            state.queues[name] = Queue(name=name, strategy=strategy, servicelevel=level)
        else:
            queue.strategy, queue.servicelevel = strategy, level
    state.snapshot_baseline()


def load_dialplan(state, config_dir: Path) -> None:
    text = read(config_dir, "extensions.conf")
    if text is None:
        return
    extensions, includes, hints = parse_dialplan(text)
    old_hint_keys = {(c, e) for (c, e, p) in state.extensions if p == "hint"}
    state.extensions = extensions
    state.includes = includes
    # Hints of pbx_config (from the file or added through AMI) are re-created from the file; others stay.
    state.hints = [h for h in state.hints if (h.context, h.exten) not in old_hint_keys]
    for exten, context, hint in hints:
        state.hints = [h for h in state.hints if not (h.exten == exten and h.context == context)]
        state.hints.append(Hint(exten, context, hint))
    state.snapshot_baseline()


def contexts(state) -> set[str]:
    return {c for (c, _e, _p) in state.extensions} | set(state.includes)


def cli(srv, words: list[str]) -> tuple[bool, list[str]] | None:
    """``dialplan add include`` / ``remove include`` / ``remove context``; None for any other command."""
    st = srv.state
    low = [w.lower() for w in words]
    if low[:3] == ["dialplan", "add", "include"]:
        if len(words) != 6 or low[4] != "into":
            return False, ["Usage: dialplan add include <context> into <context>",
                           "       Include a context in another context."]
        include, into = words[3], words[5]
        lines = []
        if into not in contexts(st):
            lines.append(f"Context '{into}' did not exist prior to add include - the context will be created.")
        current = st.includes.setdefault(into, [])
        if include in current:
            return False, [*lines, f"Context '{include}' already included in '{into}' context"]
        current.append(include)
        return True, [*lines, f"Context '{include}' included in '{into}' context"]
    if low[:3] == ["dialplan", "remove", "include"]:
        if len(words) != 6 or low[4] != "from":
            return False, ["Usage: dialplan remove include <context> from <context>",
                           "       Remove an included context from another context."]
        include, source = words[3], words[5]
        current = st.includes.get(source, [])
        if include in current:
            current.remove(include)
            return True, [f"We are not including '{include}' into '{source}' now"]
        return False, [f"Failed to remove '{include}' include from '{source}' context"]
    if low[:3] == ["dialplan", "remove", "context"]:
        if len(words) != 4:
            return False, ["Usage: dialplan remove context <context>",
                           "       Removes all extensions from a specified context."]
        name = words[3]
        if name not in contexts(st):
            return True, [f"There is no such context as '{name}'"]
        for key in [k for k in st.extensions if k[0] == name]:
            del st.extensions[key]
        st.includes.pop(name, None)
        st.hints = [h for h in st.hints if h.context != name]
        return True, [f"Removing context '{name}'"]
    return None

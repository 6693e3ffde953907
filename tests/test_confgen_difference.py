"""The incremental check and plan look only at the regions of a file that changed (parse.block_difference):
what they see must be what a whole-file comparison sees, for any edit of any region."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pbx.asterisk.confgen.parse import block_difference, context_blocks, layout
from pbx.asterisk.confgen.writer import SHARED_MARK, compose

NAMES = st.sampled_from(["t1-users", "t1-hints", "t2-users", "t2-inbound", "t3-q1", "pbx-person", "from-trunk",
                         "zonemessages", "abc123", "t1"])
BODY = st.sampled_from(["exten => 1,1,NoOp()\n", "exten => 2,1,Hangup()\n", "", "; a comment\n", "type = aor\n"])
SECTION = st.tuples(NAMES, st.sampled_from(["", "(+)", "(!)"]), BODY).map(lambda s: f"\n[{s[0]}]{s[1]}\n{s[2]}")
REGION = st.lists(SECTION, max_size=4).map("".join)


def composed(head: str, parts: dict[int, str], tail: str) -> str:
    return compose("; generated\n" + head, sorted(parts.items()), SHARED_MARK + tail if tail else "")


def meaning(block: str | None) -> str | None:
    """A section's text without blank and comment lines (the company marks are comments)."""
    if block is None:
        return None
    return "\n".join(line for line in block.splitlines() if line.strip() and not line.lstrip().startswith(";"))


def differing(old: dict[str, str], new: dict[str, str], names) -> set[str]:
    return {n for n in names if n and meaning(old.get(n)) != meaning(new.get(n))}


@settings(max_examples=300, deadline=None)
@given(head=REGION, parts=st.dictionaries(st.integers(1, 3), REGION, max_size=3), tail=REGION,
       new_head=st.one_of(st.none(), REGION), edits=st.dictionaries(st.integers(1, 4), st.one_of(st.none(), REGION)),
       new_tail=st.one_of(st.none(), REGION))
def test_the_regional_difference_is_the_whole_files_difference(head, parts, tail, new_head, edits, new_tail):
    old = composed(head, parts, tail)
    changed_parts = dict(parts)
    for tenant_id, text in edits.items():
        if text is None:
            changed_parts.pop(tenant_id, None)
        else:
            changed_parts[tenant_id] = text
    new = composed(head if new_head is None else new_head, changed_parts, tail if new_tail is None else new_tail)
    difference = block_difference(old, new)
    whole_old, whole_new = context_blocks(old), context_blocks(new)
    everything = set(whole_old) | set(whole_new)
    assert differing(difference.old, difference.new, set(difference.old) | set(difference.new)) == \
        differing(whole_old, whole_new, everything)
    assert difference.removed() == {n for n in whole_old if n and n not in whole_new}


def test_a_company_s_sections_are_found_in_its_part_without_reading_the_others():
    text = composed("\n[from-trunk]\nexten => 1,1,Goto(t2-inbound,s,1)\n",
                    {1: "\n[t1-users]\nexten => 1,1,NoOp()\n", 2: "\n[t2-inbound]\nexten => s,1,NoOp()\n"
                                                             "\n[t2-inbound](+)\nexten => t,1,NoOp()\n"}, "")
    plan = layout(text)
    block, line = plan.blocks_named("t2-inbound")
    assert block == "[t2-inbound]\nexten => s,1,NoOp()\n\n[t2-inbound](+)\nexten => t,1,NoOp()\n"
    assert text.splitlines()[line - 1] == "[t2-inbound]"
    assert plan.blocks_named("from-trunk")[0].startswith("[from-trunk]\nexten => 1,1,Goto(t2-inbound,s,1)")
    assert plan.blocks_named("t1-nothing") is None


def scanned(text: str, name: str, regions: list[tuple[int, int]]) -> list[tuple[str, int]]:
    """Every ``[name]`` section starting in ``regions``, by a plain scan (what the header index replaces)."""
    plan = layout(text)
    found = []
    for start, end in regions:
        position = 0 if start == 0 and text.startswith(f"[{name}]") else text.find(f"\n[{name}]", start, end)
        while position != -1:
            begin = position + (text[position] == "\n")
            stop = min(plan.region_end(begin), end)
            following = text.find("\n[", begin, stop)
            following = stop if following == -1 else following + 1
            found.append((text[begin:following], begin))
            position = text.find(f"\n[{name}]", following - 1, end)
    return [(block, text.count("\n", 0, begin) + 1) for block, begin in sorted(found, key=lambda f: f[1])]


ODD_NAMES = st.sampled_from(["t1-users", "t1-use", "t1-users]", "a]b", "from-trunk", "zonemessages", "t2-inbound"])


@settings(max_examples=300, deadline=None)
@given(head=st.lists(st.tuples(ODD_NAMES, BODY), max_size=5), parts=st.dictionaries(st.integers(1, 3), REGION, max_size=3),
       tail=st.lists(st.tuples(ODD_NAMES, BODY), max_size=5), name=ODD_NAMES)
def test_sections_in_the_head_and_tail_are_found_as_a_scan_finds_them(head, parts, tail, name):
    text = composed("".join(f"\n[{n}]\n{b}" for n, b in head), parts, "".join(f"\n[{n}]\n{b}" for n, b in tail))
    plan = layout(text)
    shared = [(0, plan.head_end), (plan.body_end, len(text))]
    for regions in (shared, [shared[0], *plan.parts.values(), shared[1]], [(0, len(text))]):
        assert plan._find(name, regions) == scanned(text, name, regions)


def test_a_one_company_edit_compares_only_that_company():
    parts = {n: f"\n[t{n}-users]\nexten => 1,1,NoOp()\n" for n in range(1, 200)}
    old = composed("\n[pbx-person]\nexten => s,1,Return()\n", parts, "")
    new = composed("\n[pbx-person]\nexten => s,1,Return()\n", {**parts, 7: "\n[t7-users]\nexten => 2,1,NoOp()\n"}, "")
    difference = block_difference(old, new)
    assert not difference.whole
    assert set(difference.new) == {"", "t7-users"} and difference.changed() == {"t7-users"}
    assert difference.origin == {"t7-users": 7}

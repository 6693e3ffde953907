"""The checker passes the real renders and names precisely what is wrong in broken ones."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings

from pbx.asterisk.checker import Finding, check, stock_prompts
from pbx.asterisk.confgen import render, render_from_db
from tests.confgen_fixtures import tiny_snapshot


@pytest.fixture
def tiny_files() -> dict[str, str]:
    return render(tiny_snapshot())


def edited(files: dict[str, str], name: str, old: str, new: str) -> dict[str, str]:
    assert old in files[name], f"fixture text not found: {old!r}"
    changed = dict(files)
    changed[name] = files[name].replace(old, new, 1)
    return changed


def findings_of(files: dict[str, str], sounds_dir: Path | None = None) -> list[str]:
    return [str(f) for f in check(files, sounds_dir=sounds_dir)]


def line_of(text: str, fragment: str) -> int:
    return text[:text.index(fragment)].count("\n") + 1


def installed_stock_prompts() -> frozenset[str]:
    # `make install` installs Debian's asterisk-core-sounds-en (scripts/system-deps.sh), as the Asterisk image does.
    stock = stock_prompts(settings.ASTERISK_STOCK_SOUNDS_DIR)
    assert stock is not None, f"no stock prompts in {settings.ASTERISK_STOCK_SOUNDS_DIR}: run make install"
    return stock


def test_the_demo_world_checks_clean_with_its_prompt_files(demo, exempel):
    files = render_from_db()
    stock = installed_stock_prompts()
    assert {"beep", "invalid", "digits/1", "vm-enter-num-to-call"} <= stock
    assert check(files, sounds_dir=Path(settings.ASTERISK_SOUNDS_DIR), stock_sounds=stock) == []


def test_a_stock_prompt_that_is_not_installed_is_named(tiny_files):
    stock = installed_stock_prompts()
    broken = edited(tiny_files, "extensions.conf", "Playback(invalid)", "Playback(option-is-invalid)")
    line = line_of(broken["extensions.conf"], "Playback(option-is-invalid)")
    assert [str(f) for f in check(broken, stock_sounds=stock)] == [
        f"extensions.conf:{line}: [missing-prompt] prompt option-is-invalid is not in the installed sound set"]
    assert check(tiny_files, stock_sounds=stock) == []


def test_the_tiny_company_checks_clean(tiny_files):
    assert check(tiny_files) == []


def test_a_finding_reads_file_line_code_and_message():
    assert str(Finding("extensions.conf", 12, "dangling-context", "Goto: context x does not exist")) == (
        "extensions.conf:12: [dangling-context] Goto: context x does not exist"
    )


def test_it_names_a_missing_goto_context_with_its_line(tiny_files):
    files = edited(tiny_files, "extensions.conf", "exten => 1001,1,Goto(t7-user-31,s,1)",
                   "exten => 1001,1,Goto(t7-user-99,s,1)")
    line = line_of(files["extensions.conf"], "Goto(t7-user-99")
    assert findings_of(files) == [f"extensions.conf:{line}: [dangling-context] Goto: context t7-user-99 does not exist"]


def test_it_names_a_missing_extension_and_priority(tiny_files):
    files = edited(tiny_files, "extensions.conf", "exten => 1001,1,Goto(t7-user-31,s,1)",
                   "exten => 1001,1,Goto(t7-user-31,nowhere,1)")
    assert any("[dangling-extension] Goto 't7-user-31,nowhere,1': no extension nowhere in t7-user-31" in f
               for f in findings_of(files))
    files = edited(tiny_files, "extensions.conf", "exten => 1001,1,Goto(t7-user-31,s,1)",
                   "exten => 1001,1,Goto(t7-user-31,s,7)")
    assert any("[dangling-priority] Goto 't7-user-31,s,7': s@t7-user-31 has no priority 7" in f for f in findings_of(files))


def test_a_gotoif_branch_and_a_gotoiftime_target_are_checked(tiny_files):
    files = edited(tiny_files, "extensions.conf", "?t7-menu-81,s,1:t7-voicemail,800,1", "?t7-menu-81,s,1:t7-voicemail,801,1")
    assert any("GotoIf 't7-voicemail,801,1': no extension 801 in t7-voicemail" in f for f in findings_of(files))
    files = edited(tiny_files, "extensions.conf", "mon,*,*,Europe/Stockholm?open,1", "mon,*,*,Europe/Stockholm?opened,1")
    assert any("GotoIfTime 'opened,1': no extension opened in t7-schedule-101" in f for f in findings_of(files))


def test_a_label_target_resolves_and_a_missing_label_is_named(tiny_files):
    ok = edited(tiny_files, "extensions.conf", " same => n,WaitExten(5)", " same => n(wait),WaitExten(5)")
    ok = edited(ok, "extensions.conf", "exten => t,1,GotoIf($[${PBX_TRIES} < 3]?play,1)",
                "exten => t,1,GotoIf($[${PBX_TRIES} < 3]?play,wait)")
    assert findings_of(ok) == []
    bad = edited(ok, "extensions.conf", "?play,wait)", "?play,waiting)")
    assert any("[dangling-priority] GotoIf 'play,waiting': play@t7-menu-81 has no label waiting" in f
               for f in findings_of(bad))


def test_a_queue_not_in_queues_conf_is_named(tiny_files):
    files = edited(tiny_files, "extensions.conf", "Queue(t7-q61,t,,,300)", "Queue(t7-q62,t,,,300)")
    assert any("[unknown-queue] queue t7-q62 is not defined in queues.conf" in f for f in findings_of(files))
    files = edited(tiny_files, "extensions.conf", "QUEUE_MEMBER(t7-q61,logged)", "QUEUE_MEMBER(t7-q9,logged)")
    assert any("[unknown-queue] queue t7-q9 is not defined in queues.conf" in f for f in findings_of(files))


def test_a_goto_into_another_company_is_refused(tiny_files):
    other = "\n[t8-inbound]\nexten => +46900000000,1,Hangup()\n"
    files = edited(tiny_files, "extensions.conf", "exten => 1001,1,Goto(t7-user-31,s,1)",
                   "exten => 1001,1,Goto(t8-inbound,+46900000000,1)")
    files["extensions.conf"] += other
    line = line_of(files["extensions.conf"], "Goto(t8-inbound")
    assert f"extensions.conf:{line}: [cross-tenant] t7-extensions (company 7) reaches t8-inbound" in findings_of(files)


def test_an_include_of_another_company_is_refused(tiny_files):
    files = edited(tiny_files, "extensions.conf", "include => t7-outbound\n", "include => t7-outbound\ninclude => t8-outbound\n")
    files["extensions.conf"] += "\n[t8-outbound]\nexten => _0X.,1,Hangup()\n"
    assert any("[cross-tenant] t7-internal (company 7) reaches t8-outbound" in f for f in findings_of(files))


def test_another_companys_endpoint_queue_or_mailbox_is_refused(tiny_files):
    files = dict(tiny_files)
    files["pjsip.conf"] += "\n[t8-zzz](pbx-endpoint)\ncontext = t8-internal\n"
    files["extensions.conf"] += "\n[t8-internal]\nexten => 1,1,Hangup()\n"
    files = edited(files, "extensions.conf", "exten => 31,1,Gosub(pbx-reachable,s,1(t7-a1b2c3d4e5",
                   "exten => 31,1,Gosub(pbx-reachable,s,1(t8-zzz")
    files = edited(files, "extensions.conf", " same => n,VoiceMail(1001@t7,u)", " same => n,VoiceMail(1001@t8,u)")
    files["voicemail.conf"] += "\n[t8]\n1001 => 1111,X,,,attach=no\n"
    found = findings_of(files)
    assert any("[cross-tenant] t7-agents (company 7) uses endpoint t8-zzz of company 8" in f for f in found)
    assert any("[cross-tenant] company 7 uses voicemail box 1001@t8" in f for f in found)


def test_a_persons_devices_must_be_the_companys_own_endpoints(tiny_files):
    """pbx-person and pbx-reachable get endpoint names (not PJSIP/...): the checker reads them as endpoints."""
    files = dict(tiny_files)
    files["pjsip.conf"] += "\n[t8-zzz](pbx-endpoint)\ncontext = t8-internal\n"
    files["extensions.conf"] += "\n[t8-internal]\nexten => 1,1,Hangup()\n"
    files = edited(files, "extensions.conf", "1(7,32,fixed,t7-0a0b0c0d0e,", "1(7,32,fixed,t7-0a0b0c0d0e&t8-zzz,")
    files = edited(files, "extensions.conf", "1(7,32,mobile,t7-0a0b0c0d0e,", "1(7,32,mobile,t7-gone,")
    found = findings_of(files)
    line = line_of(files["extensions.conf"], "t7-0a0b0c0d0e&t8-zzz")
    assert f"extensions.conf:{line}: [cross-tenant] t7-user-32 (company 7) uses endpoint t8-zzz of company 8" in found
    assert any("[unknown-endpoint] PJSIP/t7-gone: no endpoint t7-gone in pjsip.conf" in f for f in found)


def test_exten_passed_to_dial_unfiltered_is_refused(tiny_files):
    files = edited(tiny_files, "extensions.conf", "exten => _0X.,1,Set(PBX_NUM=+46${FILTER(0123456789,${EXTEN:1})})",
                   "exten => _0X.,1,Dial(PJSIP/${EXTEN}@t7-trunk-151)")
    line = line_of(files["extensions.conf"], "Dial(PJSIP/${EXTEN}")
    assert (f"extensions.conf:{line}: [unfiltered-exten] Dial() is given the dialled number unfiltered "
            "(${EXTEN} or a variable set from it)") in findings_of(files)


def test_a_variable_set_from_exten_is_as_unfiltered_as_exten(tiny_files):
    files = edited(tiny_files, "extensions.conf", "exten => _0X.,1,Set(PBX_NUM=+46${FILTER(0123456789,${EXTEN:1})})",
                   "exten => _0X.,1,Set(PBX_NUM=+46${EXTEN:1})")
    files = edited(files, "extensions.conf", "Dial(PJSIP/${FILTER(+0123456789,${PBX_NUM})}@t7-trunk-151",
                   "Dial(PJSIP/${PBX_NUM}@t7-trunk-151")
    assert any("[unfiltered-exten] Dial() is given the dialled number unfiltered" in f for f in findings_of(files))


def test_exten_of_a_catch_all_pattern_must_be_filtered_anywhere(tiny_files):
    files = edited(tiny_files, "extensions.conf", "Goto(t7-pickup,${FILTER(0123456789,${EXTEN:2})},1)",
                   "Goto(t7-pickup,${EXTEN:2},1)")
    assert any("[unfiltered-exten] Goto() uses ${EXTEN} of _**X., which matches any character, without FILTER()" in f
               for f in findings_of(files))


def test_an_unescaped_semicolon_in_a_name_is_found(tiny_files):
    files = edited(tiny_files, "pjsip.conf", 'callerid = "Anna Åberg" <1001>', 'callerid = "Anna; Åberg" <1001>')
    line = line_of(files["pjsip.conf"], '"Anna; Åberg"')
    found = findings_of(files)
    assert f"pjsip.conf:{line}: [unescaped-text] text after an unescaped ';' is cut off as a comment" in found
    assert any("[unescaped-text] endpoint t7-a1b2c3d4e5: caller ID '\"Anna' is not a plain name and number" in f for f in found)


def test_a_block_comment_smuggled_into_a_value_is_found(tiny_files):
    files = edited(tiny_files, "pjsip.conf", "password = secret-anna\\;desk", "password = secret;--anna")
    line = line_of(files["pjsip.conf"], "secret;--anna")
    found = findings_of(files)
    assert f"pjsip.conf:{line}: [unescaped-text] a block comment (;--) starts here: everything up to --; is ignored" in found
    assert any("a block comment is never closed" in f for f in found)


def test_a_name_put_into_callerid_name_unescaped_is_found(tiny_files):
    files = edited(tiny_files, "extensions.conf", "exten => s,1,Set(__PBX_QUEUE=61)",
                   "exten => s,1,Set(CALLERID(name)=Eve ${SHELL(id)})")
    found = findings_of(files)
    assert any("[unescaped-text] CALLERID(name) is set to 'Eve ${SHELL(id)}', not to plain text" in f for f in found)
    assert any("[unknown-function] ${SHELL(...)} is not a function the generators write" in f for f in found)


def test_an_application_the_generators_never_write_is_found(tiny_files):
    files = edited(tiny_files, "extensions.conf", "exten => busy,1,Busy(10)", "exten => busy,1,System(rm -rf /)")
    assert any("[unknown-application] System() is not an application the generators write" in f for f in findings_of(files))


def test_a_voicemail_line_that_does_not_read_back_is_found(tiny_files):
    files = edited(tiny_files, "voicemail.conf", "1002 => 5678,Björn the boss,,,attach=no|tz=t7",
                   "1002 => 5678,Björn, the boss,,,attach=no|tz=t7")
    assert any("[unescaped-text] mailbox 1002@t7 does not read back as pin,name,email,pager,options" in f
               for f in findings_of(files))


def test_a_missing_prompt_file_is_named(tiny_files, tmp_path):
    (tmp_path / "t7").mkdir()
    (tmp_path / "t7" / "prompt-91.wav").write_bytes(b"RIFF")
    found = findings_of(tiny_files, sounds_dir=tmp_path)
    assert found and all("prompt-92" in f for f in found)
    assert any(f"[missing-prompt] prompt custom/t7/prompt-92: t7/prompt-92.wav is not in {tmp_path}" in f for f in found)
    (tmp_path / "t7" / "prompt-92.wav").write_bytes(b"RIFF")
    assert findings_of(tiny_files, sounds_dir=tmp_path) == []


def test_a_missing_mailbox_endpoint_or_profile_is_named(tiny_files):
    files = edited(tiny_files, "extensions.conf", " same => n,VoiceMail(800@t7,su)", " same => n,VoiceMail(801@t7,su)")
    files = edited(files, "extensions.conf", "exten => 1002,hint,PJSIP/t7-0a0b0c0d0e", "exten => 1002,hint,PJSIP/t7-gone")
    files = edited(files, "extensions.conf", "t7-conf-121-user)", "t7-conf-999-user)")
    found = findings_of(files)
    assert any("[unknown-mailbox] voicemail box 801@t7 is not in voicemail.conf" in f for f in found)
    assert any("[unknown-endpoint] PJSIP/t7-gone: no endpoint t7-gone in pjsip.conf" in f for f in found)
    assert any("[dangling-reference] ConfBridge profile t7-conf-999-user is not in confbridge.conf" in f for f in found)


def test_a_shared_subroutine_may_not_reach_a_company(tiny_files):
    files = edited(tiny_files, "extensions.conf", "[pbx-recording-hook]\n", "[pbx-recording-hook]\n")
    files = edited(files, "extensions.conf", "exten => off,1,Return()\n", "exten => off,1,Goto(t7-internal,*8,1)\n")
    assert any("[cross-tenant] shared subroutine pbx-recording-hook reaches t7-internal" in f for f in findings_of(files))


def test_from_trunk_may_only_hold_exact_numbers(tiny_files):
    files = edited(tiny_files, "extensions.conf", "[from-trunk]\n", "[from-trunk]\nexten => _X.,1,Goto(t7-inbound,+46812340000,1)\n")
    assert any("[cross-tenant] from-trunk must match numbers exactly, not the pattern _X." in f for f in findings_of(files))


def test_a_computed_context_cannot_be_verified(tiny_files):
    files = edited(tiny_files, "extensions.conf", "exten => status,1,Goto(t7-status-fwd,${PBX_ST},1)",
                   "exten => status,1,Goto(t${PBX_TENANT}-status-fwd,${PBX_ST},1)")
    assert any("[dynamic-context] Goto into a computed context 't${PBX_TENANT}-status-fwd' cannot be verified" in f
               for f in findings_of(files))


def test_an_endpoint_or_queue_entering_another_company_is_refused(tiny_files):
    files = edited(tiny_files, "pjsip.conf", "context = t7-internal", "context = from-trunk")
    assert any("[cross-tenant] endpoint t7-a1b2c3d4e5 of company 7 enters from-trunk" in f for f in findings_of(files))
    files = dict(tiny_files)
    files["extensions.conf"] += "\n[t8-qexit-1]\nexten => 1,1,Hangup()\n"
    files = edited(files, "queues.conf", "context = t7-qexit-61", "context = t8-qexit-1")
    assert any("[cross-tenant] queue t7-q61 exits into t8-qexit-1" in f for f in findings_of(files))


def test_a_context_of_no_company_is_refused(tiny_files):
    files = dict(tiny_files)
    files["extensions.conf"] += "\n[default]\nexten => 1,1,Hangup()\n"
    assert any("[cross-tenant] [default] belongs to no company and is not a whitelisted shared context" in f
               for f in findings_of(files))


def test_contexts_of_the_base_config_can_be_referred_to(tiny_files):
    files = edited(tiny_files, "extensions.conf", "exten => busy,1,Busy(10)", "exten => busy,1,Goto(t7-base,s,1)")
    assert any("t7-base does not exist" in f for f in findings_of(files))
    base = {"extensions.conf": "[general]\nstatic=yes\n\n[t7-base]\nexten => s,1,Hangup()\n"}
    assert [str(f) for f in check(files, base=base)] == []


# -- check_changes: only what changed, against a configuration that passed -------------------------


def test_changes_check_clean_when_a_person_is_added(demo):
    from pbx import actions
    from pbx.asterisk.checker import check_changes

    old = render_from_db()
    user = actions.do_create_user(None, demo.tenant, email="inc@demo.example", extension="1098")
    actions.do_create_device(None, user)
    assert check_changes(old, render_from_db(), sounds_dir=Path(settings.ASTERISK_SOUNDS_DIR)) == []


def test_changes_find_a_broken_jump_in_a_changed_context(tiny_files):
    from pbx.asterisk.checker import check_changes

    new = edited(tiny_files, "extensions.conf", "exten => 1001,1,Goto(t7-user-31,s,1)", "exten => 1001,1,Goto(t7-user-99,s,1)")
    line = line_of(new["extensions.conf"], "Goto(t7-user-99")
    assert [str(f) for f in check_changes(tiny_files, new)] == [
        f"extensions.conf:{line}: [dangling-context] Goto: context t7-user-99 does not exist"
    ]


def test_changes_find_what_an_unchanged_context_lost(tiny_files):
    from pbx.asterisk.checker import check_changes

    # t7-conf-121 disappears; t7-extensions, unchanged, still jumps there.
    new = edited(tiny_files, "extensions.conf", "[t7-conf-121]\nexten => s,1,Answer()\n", "[t7-conf-x]\nexten => s,1,Answer()\n")
    found = [str(f) for f in check_changes(tiny_files, new)]
    assert any("[dangling-context] Goto: context t7-conf-121 does not exist" in f for f in found)
    # A device is gone from pjsip.conf; the unchanged hint still names it.
    new = edited(tiny_files, "pjsip.conf", "[t7-0a0b0c0d0e](pbx-endpoint)", "[t7-renamed](pbx-endpoint)")
    found = [str(f) for f in check_changes(tiny_files, new)]
    assert any("[unknown-endpoint] PJSIP/t7-0a0b0c0d0e: no endpoint t7-0a0b0c0d0e in pjsip.conf" in f for f in found)
    # A mailbox is gone; the person's context still passes it to pbx-person.
    new = edited(tiny_files, "voicemail.conf", "1002 => 5678,Björn the boss,,,attach=no|tz=t7\n", "")
    found = [str(f) for f in check_changes(tiny_files, new)]
    assert any("[unknown-mailbox] voicemail box 1002@t7 is not in voicemail.conf" in f for f in found)


def test_changes_find_cross_tenant_and_unfiltered_exten(tiny_files):
    from pbx.asterisk.checker import check_changes

    new = dict(tiny_files)
    new["extensions.conf"] += "\n[t8-x]\nexten => s,1,Hangup()\n"
    new = edited(new, "extensions.conf", "exten => busy,1,Busy(10)", "exten => busy,1,Goto(t8-x,s,1)")
    new = edited(new, "extensions.conf", "Dial(PJSIP/${FILTER(+0123456789,${PBX_NUM})}@t7-trunk-151",
                 "Dial(PJSIP/${PBX_NUM}@t7-trunk-151")
    new = edited(new, "extensions.conf", "exten => _+X.,1,Set(PBX_NUM=+${FILTER(0123456789,${EXTEN:1})})",
                 "exten => _+X.,1,Set(PBX_NUM=${EXTEN})")
    found = [str(f) for f in check_changes(tiny_files, new)]
    assert any("[cross-tenant] t7-person (company 7) reaches t8-x" in f for f in found)
    assert any("[unfiltered-exten] Dial() is given the dialled number unfiltered" in f for f in found)


def test_changes_of_nothing_find_nothing_and_a_new_file_checks_everything(tiny_files):
    from pbx.asterisk.checker import check_changes

    assert check_changes(tiny_files, tiny_files) == []
    old = {k: v for k, v in tiny_files.items() if k != "queues.conf"}
    broken = edited(tiny_files, "queues.conf", "context = t7-qexit-61", "context = t7-nowhere")
    assert any("[dangling-context] queue t7-q61: context t7-nowhere does not exist" in str(f)
               for f in check_changes(old, broken))

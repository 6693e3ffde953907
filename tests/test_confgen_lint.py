"""asterisklint-jjs over the demo world's dialplan, as Asterisk 22 reads it: the base
extensions.conf (asterisk_conf/) with the generated file in generated/."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from pbx.asterisk.confgen import render_from_db

WRAPPER = '[general]\nstatic=yes\nwriteprotect=no\n\n[globals]\n\n#tryinclude generated/extensions.conf\n'


def asterisklint() -> str | None:
    local = Path(sys.executable).with_name("asterisklint")
    return str(local) if local.exists() else shutil.which("asterisklint")


@pytest.mark.skipif(asterisklint() is None, reason="asterisklint-jjs is not installed (requirements-dev.txt)")
def test_the_generated_demo_dialplan_is_clean_for_asterisklint(demo, exempel, tmp_path):
    (tmp_path / "generated").mkdir()
    # A canary at the end proves asterisklint really read the generated file through the include.
    canary = "\n[t0-lint-canary]\nexten => s,1,Set(X=${NO_SUCH_FUNCTION(1)})\n"
    text = render_from_db()["extensions.conf"] + canary
    (tmp_path / "generated" / "extensions.conf").write_text(text)
    base = Path(settings.BASE_DIR) / "asterisk_conf" / "extensions.conf"
    (tmp_path / "extensions.conf").write_text(base.read_text() if base.is_file() else WRAPPER)
    # Hints are fine; asterisklint only says it does not check them yet.
    env = {**os.environ, "ALINT_IGNORE": "I_NOTIMPL_HINT"}
    result = subprocess.run(
        [asterisklint(), "dialplan-check", "--asterisk-version", "22", "extensions.conf"],
        capture_output=True, text=True, env=env, timeout=120, check=False, cwd=tmp_path,
    )
    output = result.stdout + result.stderr
    # The hand-written base file is linted too; only the generated file's lines are ours.
    ours = [line for line in output.splitlines() if line.startswith("generated/")]
    canary_line = text.count("\n")
    assert ours == [
        f"generated/extensions.conf:{canary_line} E_FUNC_MISSING: function 'NO_SUCH_FUNCTION' does not exist "
        "(or func_odbc created?)"
    ]

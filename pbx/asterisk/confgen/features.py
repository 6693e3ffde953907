"""features.conf: the on-demand recording keys (applicationmap).

Transfer keys are the base config's ``[featuremap]`` (blind ``#1``, attended ``*2``), enabled per
call by the Dial/Queue options ``t``/``T``. The recording keys run ``pbx-ondemand-rec`` on the
presser's channel; the devices enable them through ``DYNAMIC_FEATURES`` (pjsip ``set_var``), so a
caller from outside can never trigger them.
"""

from __future__ import annotations

from . import writer as w
from .snapshot import Snapshot

KEYS = (
    ("pbxrec", "*9", "toggle"),  # start / stop recording
    ("pbxrecpause", "*7", "pause"),  # pause / resume
)


def generate(snapshot: Snapshot) -> str:
    out = w.ConfWriter()
    out.section("applicationmap")
    for item, dtmf, action in KEYS:
        out.raw(f"{item} => {dtmf},self,Gosub(pbx-ondemand-rec,{action},1)")
    return out.text()

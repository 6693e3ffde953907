"""What happens in Asterisk after a change commits: the receivers of :mod:`pbx.signals`.

- ``config_changed(tenant_id)`` → :func:`pbx.tasks.request_apply` for the company's node: a debounced
  render + check + apply (many edits → one apply).
- ``state_changed(tenant_id, kind, object_id)`` → :func:`pbx.asterisk.astdb_sync.on_state_changed`: that
  object's AstDB keys, presence and queue membership written through this process's AMI connection
  at once (no reload, no task queue).
- ``request_finished`` → in immediate mode (no worker), the applies the request asked for run now.

Connected once, by ``PbxConfig.ready()``.
"""

from __future__ import annotations

import logging

from django.core.signals import request_finished

from pbx.asterisk.astdb_sync import node_for_tenant, on_state_changed
from pbx.signals import config_changed, state_changed

log = logging.getLogger(__name__)


def on_config_changed(sender, *, tenant_id: int, **kwargs) -> None:
    from pbx.tasks import request_apply

    try:
        node = node_for_tenant(tenant_id)
        request_apply(node.pk, tenant_id)
    except Exception:  # the change is committed; the next apply (or `manage.py apply_asterisk`) takes it
        log.exception("could not request the Asterisk apply for company %s", tenant_id)


def on_request_finished(sender, **kwargs) -> None:
    from huey.contrib.djhuey import HUEY

    if not HUEY.immediate:
        return
    from pbx.tasks import flush_pending_applies, pending

    if not pending().nodes():
        return
    try:
        flush_pending_applies()
    except Exception:
        log.exception("the Asterisk apply after the request failed")


def connect() -> None:
    config_changed.connect(on_config_changed, dispatch_uid="pbx.asterisk.receivers.config")
    state_changed.connect(on_state_changed, dispatch_uid="pbx.asterisk.receivers.state")
    request_finished.connect(on_request_finished, dispatch_uid="pbx.asterisk.receivers.flush")

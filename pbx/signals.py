"""Follow-up work that runs after a change has committed.

``config_changed``: a company's structure changed; the Asterisk configuration must be rendered
and applied (debounced) for its node.
``state_changed``: fast state (presence, profile, queue log-in, overrides) changed; its AstDB
keys must be written through AMI. Receivers live with the Asterisk code.
"""

from django.db import transaction
from django.dispatch import Signal

config_changed = Signal()  # kwargs: tenant_id
state_changed = Signal()  # kwargs: tenant_id, kind, object_id


def config_changed_on_commit(tenant_id: int) -> None:
    transaction.on_commit(lambda: config_changed.send(sender=None, tenant_id=tenant_id))


def state_changed_on_commit(tenant_id: int, kind: str, object_id: int) -> None:
    transaction.on_commit(
        lambda: state_changed.send(sender=None, tenant_id=tenant_id, kind=kind, object_id=object_id)
    )

"""Who sees a company's wallboard, and what a wallboard shows of its configuration.

The seed (2.2.10.2) sells the wallboard to the company ("företag i realtid följa..."), its thresholds set by
the administrator. The product has no separate supervisor role: the people who follow the queues are the
company's operators (telefonister, the call centre's floor leads) and its admins. So: a company's admins and
operators see its wallboards (the same people as the console); agents and users do not (403); another
company's layout is "not found" (404). A TV needs no person at all: a wallboard link (models.WallboardLink).
"""

from __future__ import annotations

from django.utils.translation import gettext as _

from pbx.models import Queue

from .models import Layout, Tile
from .today import COMPANY, tile_key


def can_see_wallboard(user) -> bool:
    return bool(
        user is not None and user.is_authenticated and user.is_active and user.tenant_id
        and (user.is_operator or user.is_company_admin)
    )


def layout_view(tenant_id: int, layout: Layout | None) -> dict:
    """What the page needs to lay the tiles out: names, sizes and thresholds (no figures, no people).

    No layout (the company saved none yet): the whole company, then every queue, nothing watched.
    """
    queues = dict(Queue.objects.filter(tenant_id=tenant_id).values_list("id", "name"))
    if layout is None:
        tiles = [{"key": COMPANY, "label": _("Whole company"), "size": Tile.Size.WIDE, "thresholds": {}}]
        tiles += [{"key": tile_key(pk), "label": name, "size": Tile.Size.NORMAL, "thresholds": {}}
                  for pk, name in sorted(queues.items(), key=lambda item: item[1].lower())]
        return {"id": 0, "name": _("All queues"), "theme": Layout.Theme.DARK, "sound": False, "tiles": tiles}
    tiles = []
    for tile in layout.tiles.filter(tenant_id=tenant_id):
        if tile.queue_id is not None and tile.queue_id not in queues:
            continue
        label = queues[tile.queue_id] if tile.queue_id is not None else _("Whole company")
        tiles.append({"key": tile_key(tile.queue_id), "label": label, "size": tile.size,
                      "thresholds": {k: v for k, v in tile.thresholds().items()
                                     if v["amber"] is not None or v["red"] is not None}})
    return {"id": layout.pk, "name": layout.name, "theme": layout.theme, "sound": layout.sound, "tiles": tiles}


def layouts_of(tenant_id: int) -> list[Layout]:
    return list(Layout.objects.filter(tenant_id=tenant_id))


def default_layout(tenant_id: int) -> Layout | None:
    return Layout.objects.filter(tenant_id=tenant_id).first()  # ordered: the default first, then by name

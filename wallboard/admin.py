"""The company admin's wallboard settings: layouts with their tiles and thresholds, and the TV links."""

from __future__ import annotations

from django.contrib import admin, messages
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from pbx.admin.base import ScopedModelAdmin, ScopedModelForm, ScopedTabularInline

from .actions import do_create_wallboard_link, do_revoke_wallboard_link
from .models import Layout, Tile, WallboardLink


class TileInline(ScopedTabularInline):
    model = Tile
    fields = ("position", "queue", "size", "waiting_amber", "waiting_red", "longest_wait_amber", "longest_wait_red",
              "service_level_amber", "service_level_red", "logged_in_amber", "logged_in_red")
    extra = 1


@admin.register(Layout)
class LayoutAdmin(ScopedModelAdmin):
    list_display = ("name", "theme", "sound", "is_default", "open_link")
    fields = ("tenant", "name", "theme", "sound", "is_default")
    inlines = (TileInline,)

    @admin.display(description=_("Open"))
    def open_link(self, obj):
        from django.utils.html import format_html

        return format_html('<a href="{}">{}</a>', reverse("wallboard:layout", args=[obj.pk]), _("Open"))


class WallboardLinkForm(ScopedModelForm):
    class Meta:
        model = WallboardLink
        fields = ("name", "layout")


@admin.register(WallboardLink)
class WallboardLinkAdmin(ScopedModelAdmin):
    """A link is created (its address shown once) and revoked; it is never edited into another layout."""

    company_admin_permissions = frozenset({"view", "add", "change", "delete"})
    form = WallboardLinkForm
    list_display = ("name", "layout", "created_by", "created_at", "revoked_at")
    list_filter = ("revoked_at",)
    list_select_related = ("layout", "created_by", "tenant")
    actions = ("revoke",)

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            readonly += ["name", "layout", "created_by", "created_at", "revoked_at"]
        return readonly

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["tenant", "name", "layout"] if not self.hides_tenant(request) else ["name", "layout"]
        return ["name", "layout", "created_by", "created_at", "revoked_at"]

    def save_object(self, request, obj, form, change, save_related) -> None:
        if change:
            return  # nothing of a link changes but its revocation (the action)
        token = do_create_wallboard_link(request.user, obj)
        url = request.build_absolute_uri(reverse("wallboard:tv", args=[token]))
        self.message_user(request, _("The TV's address (shown only now, copy it): %(url)s") % {"url": url},
                          messages.WARNING)

    @admin.action(description=_("Revoke the chosen links (their screens go dark at once)"), permissions=["change"])
    def revoke(self, request, queryset):
        count = 0
        for link in queryset:
            if link.revoked_at is None:
                do_revoke_wallboard_link(request.user, link)
                count += 1
        self.message_user(request, ngettext("%(n)d link revoked.", "%(n)d links revoked.", count) % {"n": count},
                          messages.SUCCESS)

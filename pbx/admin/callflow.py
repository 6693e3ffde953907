"""Voice prompts, IVR menus, schedules, voicemail boxes and conferences."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils.formats import number_format
from django.utils.html import format_html
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from pbx.actions import do_set_schedule_override, do_upload_prompt
from pbx.audio import ConvertedPrompt, convert_prompt
from pbx.models import Conference, IvrMenu, IvrOption, Prompt, Schedule, SpecialDay, VoicemailBox, WeeklyHours

from .base import ScopedModelAdmin, ScopedModelForm, ScopedTabularInline

# Prompts -----------------------------------------------------------------------------------


class PromptForm(ScopedModelForm):
    audio_file = forms.FileField(
        label=capfirst(_("audio file")), required=False,
        help_text=_("Any audio file (wav, mp3, m4a, ogg, flac); it is converted for the phones."),
    )

    class Meta:
        model = Prompt
        fields = ("tenant", "name")

    # Set by clean_audio_file: the upload (its bytes, or the path Django spooled a large one to)
    # and its conversion, which the action stores without decoding the file a second time.
    audio_source: bytes | str = b""
    converted: ConvertedPrompt | None = None

    def clean_audio_file(self):
        upload = self.cleaned_data.get("audio_file")
        if not upload:
            if self.instance.pk is None:
                raise ValidationError(_("Choose an audio file to upload."), code="required")
            return upload
        if upload.size > settings.PROMPT_MAX_UPLOAD_BYTES:
            # Refused before a byte of it is read or probed.
            raise ValidationError(
                _("The file is too large; the limit is %(limit)s."), code="too_large",
                params={"limit": filesizeformat(settings.PROMPT_MAX_UPLOAD_BYTES)},
            )
        if hasattr(upload, "temporary_file_path"):
            source: bytes | str = upload.temporary_file_path()
        else:
            upload.seek(0)
            source = upload.read()
        self.converted = convert_prompt(source)  # an AudioError is a ValidationError: shown on the field
        self.audio_source = source
        return upload


@admin.register(Prompt)
class PromptAdmin(ScopedModelAdmin):
    form = PromptForm
    list_display = ("name", "duration", "asterisk_sound", "created")
    search_fields = ("name",)
    fields = ("tenant", "name", "audio_file", "duration", "asterisk_sound", "created")
    readonly_fields = ("duration", "asterisk_sound", "created")

    @admin.display(description=_("duration"), ordering="duration_ms")
    def duration(self, obj: Prompt) -> str:
        # "1,5 s" in Swedish: the decimal mark of the reader's language.
        return _("%(seconds)s s") % {"seconds": number_format(obj.duration_ms / 1000, 1)}

    @admin.display(description=_("sound file in Asterisk"), ordering="sound_name")
    def asterisk_sound(self, obj: Prompt) -> str:
        return obj.sound_name or "–"

    def save_object(self, request, obj, form, change, save_related) -> None:
        upload = form.cleaned_data.get("audio_file")
        if not upload:
            super().save_object(request, obj, form, change, save_related)
            return
        do_upload_prompt(request.user, obj.tenant, name=obj.name, data=form.audio_source, filename=upload.name,
                         prompt=obj, converted=form.converted)
        save_related()


# IVR menus ---------------------------------------------------------------------------------

class IvrOptionInline(ScopedTabularInline):
    model = IvrOption
    fields = ("digit", "destination")
    autocomplete_fields = ("destination",)


@admin.register(IvrMenu)
class IvrMenuAdmin(ScopedModelAdmin):
    inlines = (IvrOptionInline,)
    list_display = ("name", "prompt", "timeout_seconds", "max_attempts", "option_count")
    list_select_related = ("prompt", "tenant")
    search_fields = ("name",)
    autocomplete_fields = ("prompt", "invalid_prompt", "timeout_destination", "invalid_destination")

    @admin.display(description=_("choices"))
    def option_count(self, obj: IvrMenu) -> int:
        return obj.options.count()


# Schedules ---------------------------------------------------------------------------------

class WeeklyHoursInline(ScopedTabularInline):
    model = WeeklyHours
    fields = ("weekday", "open_time", "close_time")


class SpecialDayInline(ScopedTabularInline):
    model = SpecialDay
    fields = ("name", "start_date", "end_date", "is_closed", "open_time", "close_time")


@admin.register(Schedule)
class ScheduleAdmin(ScopedModelAdmin):
    inlines = (WeeklyHoursInline, SpecialDayInline)
    list_display = ("name", "open_now", "override", "override_until")
    list_filter = ("override",)
    search_fields = ("name",)
    # The override is live state (the dialplan reads it from AstDB): set it with the actions.
    readonly_fields = ("override", "override_until", "holidays_link")
    actions = ("force_open", "force_closed", "follow_schedule")

    @admin.display(description=_("public holidays"))
    def holidays_link(self, obj: Schedule | None) -> str:
        if obj is None or obj.pk is None:
            return _("Save the schedule first; then Sweden's public holidays can be filled in.")
        return format_html('<a class="button" href="{}">{}</a>', reverse("admin:pbx_schedule_holidays", args=[obj.pk]),
                           _("Fill in Sweden's public holidays"))

    @admin.display(description=_("open now"), boolean=True)
    def open_now(self, obj: Schedule) -> bool:
        return obj.is_open()

    def _override(self, request, queryset, override: str) -> None:
        for schedule in queryset:
            do_set_schedule_override(request.user, schedule, override)
        self.message_user(request, _("Done."), messages.SUCCESS)

    @admin.action(description=_("Force open now"), permissions=["change"])
    def force_open(self, request, queryset):
        self._override(request, queryset, Schedule.Override.OPEN)

    @admin.action(description=_("Force closed now"), permissions=["change"])
    def force_closed(self, request, queryset):
        self._override(request, queryset, Schedule.Override.CLOSED)

    @admin.action(description=_("Follow the schedule again"), permissions=["change"])
    def follow_schedule(self, request, queryset):
        self._override(request, queryset, Schedule.Override.NONE)


# Voicemail and conferences -----------------------------------------------------------------

@admin.register(VoicemailBox)
class VoicemailBoxAdmin(ScopedModelAdmin):
    list_display = ("number", "name", "kind", "owner", "email", "is_enabled")
    list_filter = ("kind", "is_enabled")
    list_select_related = ("owner", "tenant")
    search_fields = ("number", "name", "email", "owner__first_name", "owner__last_name", "owner__email")
    autocomplete_fields = ("owner", "members", "greeting")


@admin.register(Conference)
class ConferenceAdmin(ScopedModelAdmin):
    list_display = ("name", "extension", "max_members")
    search_fields = ("name", "extension")

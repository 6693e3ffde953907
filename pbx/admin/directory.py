"""People and their phones: departments, offices, cost centres, users, devices."""

from __future__ import annotations

import contextvars
import copy

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminPasswordChangeForm, AdminUserCreationForm
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseRedirect
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from pbx import provisioning
from pbx.actions import (
    ActionRefused,
    do_create_device,
    do_create_user,
    do_regenerate_device_secret,
    do_renew_provisioning_token,
    do_save_object,
    do_send_setup_email,
    sync_staff_flag,
)
from pbx.actions.selfservice import caller_id_choices
from pbx.models import CostCentre, Department, Device, Office, User
from pbx.phone_format import number_html

from .base import ScopedModelAdmin, ScopedModelForm, ScopedTabularInline


class NamedObjectAdmin(ScopedModelAdmin):
    list_display = ("name",)
    search_fields = ("name",)


@admin.register(Department)
class DepartmentAdmin(NamedObjectAdmin):
    list_display = ("name", "member_count")

    @admin.display(description=_("members"))
    def member_count(self, obj: Department) -> int:
        return obj.members.count()


@admin.register(Office)
class OfficeAdmin(NamedObjectAdmin):
    list_display = ("name", "address")
    search_fields = ("name", "address")


@admin.register(CostCentre)
class CostCentreAdmin(NamedObjectAdmin):
    list_display = ("name", "code")
    search_fields = ("name", "code")


# Users -------------------------------------------------------------------------------------

class UserNumbersMixin:
    phone_fields = ("direct_number", "mobile_number")

    def clean_caller_id_number(self):
        """The same choices as the person's own caller-ID page: assigned numbers the person may show."""
        number = self.cleaned_data.get("caller_id_number")
        if number is not None and self.instance.pk and not caller_id_choices(self.instance).filter(pk=number.pk).exists():
            raise ValidationError(
                _("%(number)s cannot be this person's caller ID: the company was not assigned it, or it is not theirs "
                  "to show."), code="caller_id", params={"number": number.e164},
            )
        return number


class UserChangeForm(UserNumbersMixin, ScopedModelForm):
    class Meta:
        model = User
        fields = ("email",)


class UserAddForm(UserNumbersMixin, ScopedModelForm, AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("email",)

    def clean(self):
        cleaned = super().clean()
        tenant = self.company()
        if tenant is not None and User.objects.filter(tenant=tenant).count() >= tenant.max_users:
            raise ValidationError(
                _("The company has used all its user licences (%(n)s)."), code="licences", params={"n": tenant.max_users}
            )
        return cleaned


class AuditedPasswordChangeForm(AdminPasswordChangeForm):
    """Django's password form, saved through the audited action (the hash is never logged)."""

    actor: User | None = None

    def save(self, commit=True):
        user = self.set_password_and_save(self.user, commit=False)
        if commit:
            do_save_object(self.actor, user)
        return user


class DeviceInline(ScopedTabularInline):
    model = Device
    fields = ("kind", "label", "mac_address", "is_enabled", "sip_user")
    readonly_fields = ("sip_user",)
    show_change_link = True

    @admin.display(description=_("SIP user name"))
    def sip_user(self, obj: Device) -> str:
        return obj.endpoint if obj.pk else ""


@admin.register(User)
class UserAdmin(ScopedModelAdmin, DjangoUserAdmin):
    form = UserChangeForm
    add_form = UserAddForm
    change_password_form = AuditedPasswordChangeForm
    inlines = (DeviceInline,)
    list_display = ("email", "first_name", "last_name", "extension", "direct", "department", "is_company_admin",
                    "is_operator", "is_agent", "is_active")
    list_filter = ("is_company_admin", "is_operator", "is_agent", "is_active", "recording_role", "department",
                   "office", "cost_centre")
    list_select_related = ("department", "tenant")
    search_fields = ("email", "first_name", "last_name", "extension", "direct_number", "mobile_number")
    ordering = ("first_name", "last_name", "email")
    autocomplete_fields = ("department", "office", "cost_centre", "caller_id_number", "recording_departments")
    filter_horizontal = ("groups", "user_permissions")
    readonly_fields = ("password_link", "is_staff", "last_login", "date_joined")

    def get_fieldsets(self, request, obj=None):
        superuser = request.user.is_superuser
        if obj is None:
            fields = ["tenant", "email", "first_name", "last_name", "extension", "direct_number", "mobile_number",
                      "department", "is_company_admin", "is_operator", "is_agent"]
            if superuser:
                fields.append("is_superuser")
            fieldsets = [(None, {"classes": ("wide",), "fields": fields}),
                         (_("Password"), {"fields": ("usable_password", "password1", "password2")})]
            return self.strip_hidden_fields(request, fieldsets)
        roles = ["is_active", "is_company_admin", "is_operator", "is_agent", "is_staff", "recording_role",
                 "recording_departments"]
        if superuser:
            roles += ["is_superuser", "groups", "user_permissions"]
        fieldsets = [
            (None, {"fields": ("tenant", "email", "password_link")}),
            (_("Personal info"), {"fields": ("first_name", "last_name", "title", "language")}),
            (_("Telephony"), {"fields": ("extension", "direct_number", "mobile_number", "caller_id_number",
                                         "call_waiting")}),
            (_("Organisation"), {"fields": ("department", "office", "cost_centre")}),
            (_("Roles"), {"fields": roles}),
            (_("Important dates"), {"fields": ("last_login", "date_joined")}),
        ]
        return self.strip_hidden_fields(request, fieldsets)

    @admin.display(description=_("direct number"), ordering="direct_number")
    def direct(self, obj: User) -> str:
        return number_html(obj.direct_number) or "–"

    def get_inlines(self, request, obj):
        # A new person gets devices once they exist (and have a company).
        return self.inlines if obj is not None else ()

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and (obj is None or obj.pk != request.user.pk)

    @admin.display(description=_("password"))
    def password_link(self, obj: User) -> str:
        if obj is None or obj.pk is None:
            return "–"
        state = _("set") if obj.has_usable_password() else _("none (signs in another way, or not at all)")
        url = reverse("admin:auth_user_password_change", args=[obj.pk])
        return format_html('{} – <a href="{}">{}</a>', state, url, _("change the password"))

    def user_change_password(self, request, id, form_url=""):
        # Django's view builds ``self.change_password_form``; hand it who is acting, per request.
        view = copy.copy(self)
        view.change_password_form = type("PasswordForm", (AuditedPasswordChangeForm,), {"actor": request.user})
        return DjangoUserAdmin.user_change_password(view, request, id, form_url)

    def save_object(self, request, obj, form, change, save_related) -> None:
        if obj.is_superuser and not request.user.is_superuser:
            raise PermissionDenied
        sync_staff_flag(obj)
        if change or obj.tenant_id is None:
            # An existing person, or a new superuser (no company, no licence to count).
            super().save_object(request, obj, form, change, save_related)
            return
        password = form.cleaned_data["password1"] if form.cleaned_data.get("set_usable_password") else None
        fields = {f.name: getattr(obj, f.name) for f in User._meta.concrete_fields
                  if f.name in form.cleaned_data and f.name not in ("email", "tenant", "password")}
        user = do_create_user(request.user, obj.tenant, email=obj.email, password=password, **fields)
        vars(obj).update(vars(user))  # the admin goes on (log, redirect) with the row it gave us
        save_related()

    def save_inline_object(self, request, obj) -> None:
        if isinstance(obj, Device) and obj.pk is None:
            do_create_device(request.user, obj.user, kind=obj.kind, label=obj.label,
                             mac_address=obj.mac_address, is_enabled=obj.is_enabled)
        else:
            super().save_inline_object(request, obj)


# Devices -----------------------------------------------------------------------------------

_admin_request_base: contextvars.ContextVar[str | None] = contextvars.ContextVar("admin_request_base", default=None)


@admin.register(Device)
class DeviceAdmin(ScopedModelAdmin):
    list_display = ("__str__", "user", "kind", "endpoint", "masked_secret", "is_enabled")
    list_filter = ("kind", "is_enabled", "user__department")
    list_select_related = ("user", "tenant")
    search_fields = ("label", "sip_username", "mac_address", "user__email", "user__first_name", "user__last_name",
                     "user__extension")
    autocomplete_fields = ("user",)
    readonly_fields = ("endpoint", "sip_secret", "phone_setup", "created")
    actions = ("regenerate_secret", "renew_provisioning", "send_setup_email")

    def get_fields(self, request, obj=None):
        fields = ["user", "kind", "label", "mac_address", "is_enabled"]
        if obj is not None:
            # Generated when the device is saved; before that there is nothing to show.
            fields += ["endpoint", "sip_secret", "phone_setup", "created"]
        return fields

    @admin.display(description=_("set up the phone"))
    def phone_setup(self, obj: Device) -> str:
        """Everything a phone needs: server, port, transport, the provisioning files and a QR code."""
        setup = provisioning.setup_of(obj)
        base = _admin_request_base.get()

        def url(name: str) -> str:
            return provisioning.file_url(obj, name, base=base)

        files = [("Yealink", url("yealink.cfg")), ("Snom", url("snom.xml")), ("Linphone", url("linphone.xml"))]
        if obj.mac_address:
            files.insert(1, (_("Yealink by MAC address"), url(f"{obj.mac_address.replace(':', '').lower()}.cfg")))
        return render_to_string("admin/pbx/_phone_setup.html", {
            "setup": setup, "files": files, "device": obj, "qr": provisioning.qr_data_uri(url("linphone.xml")),
        })

    def change_view(self, request, object_id, form_url="", extra_context=None):
        # The display methods get no request; the provisioning URLs are the address this admin reaches us at.
        token = _admin_request_base.set(provisioning.base_url(request))
        try:
            response = super().change_view(request, object_id, form_url, extra_context)
            if hasattr(response, "render"):  # a TemplateResponse renders lazily: do it while the base is set
                response.render()
            return response
        finally:
            _admin_request_base.reset(token)

    @admin.action(description=_("Renew the provisioning link (the old one stops working)"), permissions=["change"])
    def renew_provisioning(self, request, queryset):
        devices = list(queryset.select_related("user"))
        for device in devices:
            do_renew_provisioning_token(request.user, device)
        self.message_user(request, ngettext(
            "The provisioning link of %(n)d device was renewed.",
            "The provisioning links of %(n)d devices were renewed.", len(devices)) % {"n": len(devices)},
            messages.SUCCESS)

    @admin.action(description=_("Send the set-up e-mail to the person"), permissions=["change"])
    def send_setup_email(self, request, queryset):
        sent = []
        for device in queryset.select_related("user", "tenant"):
            try:
                do_send_setup_email(request.user, device, base=provisioning.base_url(request))
            except ActionRefused as refusal:
                self.message_user(request, str(refusal), messages.ERROR)
            else:
                sent.append(device.user.email)
        if sent:
            self.message_user(request, _("The set-up e-mail is on its way to %(to)s.") % {"to": ", ".join(sent)},
                              messages.SUCCESS)

    def response_change(self, request, obj):
        # The device page's own buttons (renew the link, send the e-mail) post here with the form.
        if "_renew_provisioning" in request.POST:
            self.renew_provisioning(request, self.get_queryset(request).filter(pk=obj.pk))
            return HttpResponseRedirect(request.path)
        if "_send_setup_email" in request.POST:
            self.send_setup_email(request, self.get_queryset(request).filter(pk=obj.pk))
            return HttpResponseRedirect(request.path)
        return super().response_change(request, obj)

    @admin.display(description=_("SIP user name"))
    def endpoint(self, obj: Device) -> str:
        # The phone's SIP user name is its endpoint's name (pbx/asterisk/confgen/pjsip.py says why).
        return obj.endpoint

    @admin.display(description=_("SIP password"))
    def masked_secret(self, obj: Device) -> str:
        return "••••••••"

    @admin.display(description=_("SIP password"))
    def sip_secret(self, obj: Device) -> str:
        # Only this company's admins (and superusers) reach this page: they configure the phone.
        return format_html(
            "<code>{}</code><br>{}", obj.secret,
            _("Enter it in the phone's SIP account together with the SIP user name."),
        )

    @admin.action(description=_("Generate a new SIP password"), permissions=["change"])
    def regenerate_secret(self, request, queryset):
        devices = list(queryset.select_related("user"))
        for device in devices:
            do_regenerate_device_secret(request.user, device)
        self.message_user(request, ngettext(
            "A new SIP password was generated for %(n)d device; the old one stops working at the next apply.",
            "New SIP passwords were generated for %(n)d devices; the old ones stop working at the next apply.",
            len(devices),
        ) % {"n": len(devices)}, messages.SUCCESS)

    def save_object(self, request, obj, form, change, save_related) -> None:
        if change:
            super().save_object(request, obj, form, change, save_related)
            return
        device = do_create_device(request.user, obj.user, kind=obj.kind, label=obj.label,
                                  mac_address=obj.mac_address, is_enabled=obj.is_enabled)
        vars(obj).update(vars(device))
        save_related()

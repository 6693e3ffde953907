"""The sign-in rules in Django admin: a company admin keeps their company's password policy and single
sign-on and sees who accepted the licence agreement; the agreement's text is the operator's (superusers), and
so is removing a person's lost second factor (audited)."""

from __future__ import annotations

from allauth.account.admin import EmailAddressAdmin as BaseEmailAddressAdmin
from allauth.account.models import EmailAddress
from allauth.mfa.admin import AuthenticatorAdmin as BaseAuthenticatorAdmin
from allauth.mfa.models import Authenticator
from allauth.socialaccount.admin import SocialAppAdmin
from allauth.socialaccount.models import SocialApp
from allauth.usersessions.adapter import get_adapter as get_sessions_adapter
from allauth.usersessions.admin import UserSessionAdmin as BaseUserSessionAdmin
from allauth.usersessions.models import UserSession
from django.contrib import admin, messages
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from pbx.actions import do_save_object
from pbx.actions.base import record
from pbx.admin.base import ALL_PERMISSIONS, NO_PERMISSIONS, VIEW_ONLY, ScopedModelAdmin

from .auth import client_ip
from .models import Licence, LicenceAcceptance, PasswordPolicy, SsoConnection
from .signals import recheck_consoles_on_commit


@admin.register(PasswordPolicy)
class PasswordPolicyAdmin(ScopedModelAdmin):
    company_admin_permissions = frozenset({"view", "add", "change"})
    list_display = ("tenant", "min_length", "require_lower", "require_upper", "require_digit", "require_special",
                    "max_age_days", "history_count", "lockout_attempts")
    fieldsets = (
        (None, {"fields": ("tenant", "min_length")}),
        (_("The password must contain"), {"fields": ("require_lower", "require_upper", "require_digit",
                                                      "require_special")}),
        (_("Renewal and reuse"), {"fields": ("max_age_days", "history_count")}),
        (_("Lockout"), {"fields": ("lockout_attempts", "lockout_minutes")}),
    )
    actions = ["use_recording_service_rules"]

    @admin.action(description=_("Use the recording service's rules (8+ characters, a–z, A–Z, 0–9 and a special "
                                "character; renew every 100 days; not one of the last 10)"))
    def use_recording_service_rules(self, request, queryset):
        for policy in queryset:
            for name, value in PasswordPolicy.RECORDING_SERVICE.items():
                setattr(policy, name, value)
            do_save_object(request.user, policy)
        self.message_user(request, _("The recording service's rules apply now."), messages.SUCCESS)

    def get_changeform_initial_data(self, request):
        # A new policy starts from the recording service's rules (the seed's ready preset).
        return {**super().get_changeform_initial_data(request), **PasswordPolicy.RECORDING_SERVICE}


@admin.register(SsoConnection)
class SsoConnectionAdmin(ScopedModelAdmin):
    company_admin_permissions = ALL_PERMISSIONS
    list_display = ("tenant", "app", "issuer", "email_domains", "is_active")
    fields = ("tenant", "app", "issuer", "email_domains", "is_active")
    # Choices that are the deployment's, not a company's: every company chooses among the same sign-in
    # services (they name no company). tests/test_admin_isolation.py holds the form to exactly these.
    deployment_choices = {"app": lambda: SocialApp.objects.filter(provider="openid_connect")}

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name in self.deployment_choices:
            kwargs["queryset"] = self.deployment_choices[db_field.name]()
            return admin.ModelAdmin.formfield_for_foreignkey(self, db_field, request, **kwargs)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(Licence)
class LicenceAdmin(ScopedModelAdmin):
    company_admin_permissions = NO_PERMISSIONS
    list_display = ("title", "version", "tenant", "published_at", "accepted_by")
    list_filter = ("tenant",)
    search_fields = ("title", "version")

    @admin.display(description=_("accepted by"))
    def accepted_by(self, obj: Licence) -> int:
        return obj.acceptances.count()


@admin.register(LicenceAcceptance)
class LicenceAcceptanceAdmin(ScopedModelAdmin):
    """Who accepted which version, when and from where: read-only, for the company's admins too."""

    company_admin_permissions = VIEW_ONLY
    superuser_permissions = VIEW_ONLY
    list_display = ("accepted_at", "user", "licence", "tenant", "ip_address")
    list_filter = ("licence",)
    list_select_related = ("user", "licence", "tenant")
    search_fields = ("user__email", "user__first_name", "user__last_name")
    fields = ("accepted_at", "user", "tenant", "licence", "ip_address")
    readonly_fields = fields


class SignInServiceAdmin(SocialAppAdmin):
    """allauth's sign-in services (the deployment's, superusers only), searchable for autocomplete."""

    search_fields = ("name", "provider_id", "client_id")


admin.site.unregister(SocialApp)
admin.site.register(SocialApp, SignInServiceAdmin)


class AuthenticatorAdmin(BaseAuthenticatorAdmin):
    """A person's second factors (allauth.mfa), for the operator (superusers): seen, and removed when someone
    has lost their phone or key, never made or edited here (a factor is set up by its owner on "Two-factor
    sign-in"). A removal is audited as the person's own is (two_factor_removed, the operator as actor) and an
    open console re-checks whether its role may go on without."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def _removed(self, request, authenticator) -> None:
        record(request.user, "two_factor_removed", authenticator.user, {"factor": authenticator.type},
               {"by": "admin", "ip": client_ip(request)})
        recheck_consoles_on_commit(authenticator.user_id)

    def delete_model(self, request, obj) -> None:
        with transaction.atomic():
            self._removed(request, obj)
            super().delete_model(request, obj)

    def delete_queryset(self, request, queryset) -> None:
        with transaction.atomic():
            for authenticator in queryset.select_related("user"):
                self._removed(request, authenticator)
            super().delete_queryset(request, queryset)


admin.site.unregister(Authenticator)
admin.site.register(Authenticator, AuthenticatorAdmin)


class EmailAddressAdmin(BaseEmailAddressAdmin):
    """Login addresses (allauth), for the operator to look up: read-only. A person's login address is set on the
    person (their company admin, audited, pbx.actions) or by the person through its verification link; a row
    edited or deleted here would bypass both and could leave someone without a login address."""

    actions = None

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


admin.site.unregister(EmailAddress)
admin.site.register(EmailAddress, EmailAddressAdmin)


class UserSessionAdmin(BaseUserSessionAdmin):
    """Signed-in browsers (allauth.usersessions), for the operator: seen, and ended. Deleting the row alone would
    leave the browser signed in (its Django session lives on), so a deletion ends the session, closes the
    consoles opened with it and is audited (sessions_ended, the operator as actor)."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def _end(self, request, sessions) -> None:
        with transaction.atomic():
            get_sessions_adapter().end_sessions(sessions)  # portal.mfa.SessionsAdapter: consoles, audit

    def delete_model(self, request, obj) -> None:
        self._end(request, [obj])

    def delete_queryset(self, request, queryset) -> None:
        self._end(request, queryset.select_related("user"))


admin.site.unregister(UserSession)
admin.site.register(UserSession, UserSessionAdmin)

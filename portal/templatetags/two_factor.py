"""What the account pages show about a person's two-factor."""

from django import template

from portal import mfa

register = template.Library()


@register.filter
def two_factor_required(user) -> bool:
    """Their company requires two-factor of one of their roles."""
    return mfa.required_for_role(user)


@register.filter
def has_email_code(user) -> bool:
    return mfa.has_email_code(user)


@register.filter
def has_two_factor(user) -> bool:
    return mfa.has_two_factor(user)


@register.filter
def pending_login_address(user) -> str:
    """The new login address still waiting for its link, or ''."""
    from allauth.account.models import EmailAddress

    pending = EmailAddress.objects.filter(user_id=user.pk, verified=False).order_by("-pk").first()
    return pending.email if pending else ""


@register.filter
def has_strong_factor(user) -> bool:
    """An authenticator app or a passkey: allauth then refuses a new login address (the admin changes it)."""
    return mfa.has_strong_factor(user)

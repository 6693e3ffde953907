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

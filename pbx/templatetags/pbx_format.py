"""Template filters for reading: ``{{ number|phone }}`` writes an E.164 number the Swedish way."""

from django import template

from pbx.phone_format import format_number

register = template.Library()


@register.filter
def phone(value) -> str:
    return format_number(str(value) if value is not None else "")

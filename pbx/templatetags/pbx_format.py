"""Template filters for reading: ``{{ number|phone }}`` writes an E.164 number the Swedish way."""

from django import template

from pbx.phone_format import format_number, number_html

register = template.Library()


@register.filter
def phone(value) -> str:
    return format_number(str(value) if value is not None else "")


@register.filter
def phone_nowrap(value):
    """The number in a ``<span class="nowrap">``: for a number inside running text that may wrap."""
    return number_html(str(value) if value is not None else "")

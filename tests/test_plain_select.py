"""PlainSelect (portal.forms) renders what Django's Select renders, without a template per option."""

from __future__ import annotations

from html.parser import HTMLParser

from django import forms

from portal.forms import PlainSelect


class Options(HTMLParser):
    def __init__(self):
        super().__init__()
        self.select: dict = {}
        self.options: list[tuple[str, bool, str]] = []
        self._open: list | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "select":
            self.select = dict(attrs)
        elif tag == "option":
            values = dict(attrs)
            self._open = [values.get("value"), "selected" in values, ""]

    def handle_data(self, data):
        if self._open is not None:
            self._open[2] += data

    def handle_endtag(self, tag):
        if tag == "option" and self._open is not None:
            self.options.append(tuple(self._open))
            self._open = None


def parsed(widget, value) -> Options:
    class F(forms.Form):
        who = forms.ChoiceField(required=True, widget=widget, choices=[
            ("", "Alla"), ("1001", "1001 Alice Andersson"), ("1002", '1002 "Olle" <script>alert(1)</script> & Co')])

    out = Options()
    out.feed(str(F({"who": value})["who"]))
    return out


def test_the_options_selection_attributes_and_escaping_are_djangos():
    for value in ("1002", "", "9999"):
        plain, django = parsed(PlainSelect, value), parsed(forms.Select, value)
        assert plain.options == django.options
        assert plain.select == django.select
    hostile = parsed(PlainSelect, "1002")
    assert hostile.options[2] == ("1002", True, '1002 "Olle" <script>alert(1)</script> & Co')  # text, not markup
    assert hostile.select["name"] == "who" and "required" in hostile.select


def test_a_label_is_escaped_in_the_html():
    class F(forms.Form):
        who = forms.ChoiceField(widget=PlainSelect, choices=[("x\"y", "<b>Eva</b>")])

    html = str(F()["who"])
    assert "&lt;b&gt;Eva&lt;/b&gt;" in html and "<b>" not in html and 'value="x&quot;y"' in html

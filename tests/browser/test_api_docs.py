"""The API's documentation pages (Swagger UI and Redoc, from drf-spectacular-sidecar's local files) render
under the site's CSP: no refusal reported by Chromium (``open_as`` fails the test on one), no CDN."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


def test_swagger_ui_and_redoc_render_the_live_schema_under_the_csp(open_as, live_console, people):
    page = open_as(people["alice"].email, "/api/v1/docs/")
    page.wait_for_selector(".swagger-ui .info .title", timeout=20_000)
    assert "Växel API" in page.locator(".swagger-ui .info .title").inner_text()
    page.goto(f"{live_console.url}/api/v1/redoc/")
    page.wait_for_selector("redoc h1, #redoc-container h1, h1", timeout=20_000)
    page.wait_for_function("() => document.body.innerText.includes('Växel API')", timeout=20_000)
    assert open_as.csp_violations == []

"""schemathesis against the live OpenAPI schema: every operation, with valid (positive) and invalid (negative)
data, as a company admin. No answer may be a 5xx, and every answer must be one the schema documents, in the
documented media type and shape. Few examples per operation, to stay within the CI budget (docs/api.md)."""

from __future__ import annotations

import json

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.test import override_settings
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, Phase, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api_fixtures import token_for


def _live_schema() -> dict:
    generated = SchemaGenerator(api_version="v1").get_schema(request=None, public=True)
    return json.loads(OpenApiJsonRenderer().render(generated))


EXAMPLES = 4  # per operation and mode: the CI budget (docs/api.md)
schema = schemathesis.openapi.from_dict(_live_schema())
schema.app = WSGIHandler()
schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE], max_examples=EXAMPLES,
                                no_shrink=True)
schema.config.phases.update(phases=["fuzzing"])

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          negative_data_rejection]


@pytest.fixture
def admin_token(alice):
    """Alice's token; and Django's end-of-request connection closing off, as its test client does (the
    handler would close this test's connection, inside its transaction)."""
    from django.core import signals
    from django.db import close_old_connections

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield token_for(alice)
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck),
          phases=[Phase.explicit, Phase.generate])
@override_settings(API_THROTTLE_RATE="100000/min", ASTERISK_CONTROL_TIMEOUT=0.2)
@pytest.mark.django_db
def test_every_operation_keeps_to_its_schema(case, admin_token):
    case.call_and_validate(headers={"Authorization": f"Bearer {admin_token}"}, checks=CHECKS)

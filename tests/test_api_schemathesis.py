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


@override_settings(API_THROTTLE_RATE="100000/min")
@pytest.mark.django_db
def test_real_recordings_and_statistics_keep_to_their_schema(admin_token, demo, alice):
    """The generated cases above meet empty lists and ids that do not exist; these meet real rows: a stored
    recording with an evaluation form, and a day of replayed queue calls."""
    from pbx.models import AsteriskNode
    from recording.models import EvaluationQuestion
    from tests.helpers import capture_events
    from tests.recording_fixtures import make_recording
    from tests.stats_fixtures import replay_into_db

    recording = make_recording(demo.tenant, alice, queue=demo.queues["Support"])
    question = EvaluationQuestion.objects.create(tenant=demo.tenant, text="Greeted the customer?")
    with capture_events():
        replay_into_db("d_queue_call_answered_by_agent", demo, AsteriskNode.default(), real=False)
    one = {"id": recording.pk}
    day = {"from": "2026-11-23", "to": "2026-11-23"}
    cases = [
        schema["/api/v1/recordings/"]["GET"].Case(query={"period": "today"}),
        schema["/api/v1/recordings/{id}/"]["GET"].Case(path_parameters=one),
        schema["/api/v1/recordings/{id}/media/"]["GET"].Case(path_parameters=one, headers={"Range": "bytes=0-99"}),
        schema["/api/v1/recordings/{id}/evaluation/"]["GET"].Case(path_parameters=one),
        schema["/api/v1/recordings/{id}/evaluation/"]["PATCH"].Case(
            path_parameters=one, headers={"If-Match": "*"}, media_type="application/json",
            body={"flag": "green", "answers": [{"question": question.pk, "answer": "yes"}]}),
        schema["/api/v1/stats/queues/"]["GET"].Case(query=day),
        schema["/api/v1/stats/agents/"]["GET"].Case(query=day),
        schema["/api/v1/stats/volumes/"]["GET"].Case(query=day),
    ]
    for case in cases:
        response = case.call_and_validate(headers={"Authorization": f"Bearer {admin_token}"}, checks=CHECKS[:-1])
        assert response.status_code in (200, 206), (case.path, response.status_code)
    assert recording.answers.get().answer == "yes"

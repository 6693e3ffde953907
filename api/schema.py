"""The OpenAPI schema: every operation also documents the problem-details answers it can give, so a client (and
schemathesis in CI) knows every status code the API may send."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema

PROBLEM = {
    "type": "object",
    "description": "RFC 9457 problem details, in the request's language (Accept-Language: sv or en).",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {"type": "object", "additionalProperties": True,
                   "description": "Per field: what is wrong with it (400 only)."},
    },
    "required": ["type", "title", "status", "detail"],
}

DESCRIPTIONS = {
    "400": "The request is not valid (see errors).",
    "401": "No valid credential.",
    "403": "Not allowed for this credential (role, scope) or refused by the action.",
    "404": "No such thing in your company.",
    "405": "Method not allowed.",
    "406": "Not acceptable.",
    "409": "The first request with this Idempotency-Key is still running.",
    "412": "If-Match does not match: someone changed it since you read it.",
    "415": "Unsupported media type.",
    "416": "The byte range asked for starts beyond the end of the file (Content-Range names its size).",
    "422": "The Idempotency-Key was used for another request.",
    "428": "If-Match is missing.",
    "429": "Too many requests for this credential; see Retry-After.",
    "502": "The switchboard (Asterisk) did not carry the action out.",
}


class ProblemAutoSchema(AutoSchema):
    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        codes = ["400", "401", "403", "404", "405", "406", "415", "429"]
        if self.method in ("PUT", "PATCH", "DELETE"):
            codes += ["412", "428"]
        if self.method == "POST":
            codes += ["409", "422", "502"]
        # A view's own extra answers per action (a recording's media: 416 for a range beyond its end).
        codes += list(getattr(self.view, "problem_statuses", {}).get(getattr(self.view, "action", None), ()))
        for code in codes:
            responses.setdefault(code, {
                "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
                "description": DESCRIPTIONS[code],
            })
        return responses

    def get_tags(self):
        tags = getattr(self.view, "schema_tags", None)
        return list(tags) if tags else super().get_tags()


def add_problem_component(result, generator, request, public):
    """drf-spectacular postprocessing hook: the Problem schema the responses refer to."""
    result.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM
    return result


__all__ = ["ProblemAutoSchema", "add_problem_component"]


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "api.auth.ApiKeyAuthentication"
    name = "bearer"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer",
                "description": "A personal access token or a company API key: `Authorization: Bearer vxl_…`."}

"""The viewset every company resource inherits: the company's rows only, writes through the actions."""

from __future__ import annotations

from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, viewsets
from rest_framework.response import Response

from pbx.actions import do_delete_object

from ..conventions import ETagMixin, StrictOrderingFilter, check_if_match
from ..permissions import is_admin

IF_MATCH = OpenApiParameter("If-Match", OpenApiTypes.STR, OpenApiParameter.HEADER, required=True,
                            description="The ETag of the row as you read it (412 if it changed since, 428 if missing).")
IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key", OpenApiTypes.STR, OpenApiParameter.HEADER, required=False,
    description="Any unique string (≤ 200 characters): a repeat with the same key replays the first answer "
                "instead of acting twice (kept 24 h).")


class CompanyQuerysetMixin:
    """``get_queryset`` is the caller's company's rows, narrowed by ``visible_to`` for people who are no
    company admin (their own phones, their own profiles...)."""

    model = None

    def base_queryset(self):
        return self.model._default_manager.all()

    def get_queryset(self):
        user = self.request.user
        queryset = self.base_queryset()
        if getattr(self, "swagger_fake_view", False) or not getattr(user, "tenant_id", None):
            return queryset.none()
        queryset = queryset.filter(tenant_id=user.tenant_id)
        if not is_admin(user):
            queryset = self.visible_to(queryset, user)
        return queryset

    def visible_to(self, queryset, user):
        return queryset


class ReadOnlyCompanyViewSet(CompanyQuerysetMixin, ETagMixin, viewsets.ReadOnlyModelViewSet):
    filter_backends = (DjangoFilterBackend, StrictOrderingFilter)


@extend_schema_view(update=extend_schema(parameters=[IF_MATCH]), partial_update=extend_schema(parameters=[IF_MATCH]),
                    destroy=extend_schema(parameters=[IF_MATCH]))
class CompanyViewSet(CompanyQuerysetMixin, ETagMixin, mixins.CreateModelMixin, mixins.UpdateModelMixin,
                     mixins.DestroyModelMixin, viewsets.ReadOnlyModelViewSet):
    """Create, read, change (If-Match) and delete (If-Match) a company's rows."""

    filter_backends = (DjangoFilterBackend, StrictOrderingFilter)

    def update(self, request, *args, **kwargs):
        """The body is checked first (400), then If-Match (428/412), then the action runs."""
        instance = self.get_object()
        serializer = self.get_serializer(instance, data=request.data, partial=kwargs.pop("partial", False))
        serializer.is_valid(raise_exception=True)
        check_if_match(request, instance)
        self.perform_update(serializer)
        return self.with_etag(Response(serializer.data), instance)

    def create(self, request, *args, **kwargs):
        response = super().create(request, *args, **kwargs)
        model = self.model
        obj = model._default_manager.filter(pk=response.data.get("id")).first()
        return self.with_etag(response, obj) if obj is not None else response

    def destroy(self, request, *args, **kwargs):
        check_if_match(request, self.get_object())
        return super().destroy(request, *args, **kwargs)

    def perform_destroy(self, instance):
        do_delete_object(self.request.user, instance)

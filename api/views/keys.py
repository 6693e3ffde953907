"""API keys through the API: a person's own tokens, and (company admins) the company's keys.

Creating one needs the browser session (with CSRF): a key cannot mint further keys, so a leaked key cannot
outlive its revocation through another one.
"""

from __future__ import annotations

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.response import Response

from ..auth import do_create_api_key, do_revoke_api_key
from ..models import SCOPES, ApiKey
from ..permissions import CompanyMember, is_admin
from ..serializers import StrictStrings


class ApiKeySerializer(StrictStrings, serializers.ModelSerializer):
    scopes = serializers.ListField(child=serializers.ChoiceField(choices=list(SCOPES)), required=False)

    class Meta:
        model = ApiKey
        fields = ("id", "kind", "name", "user", "scopes", "prefix", "created_at", "last_used_at", "expires_at",
                  "revoked_at")
        read_only_fields = ("user", "prefix", "created_at", "last_used_at", "revoked_at")


class NewApiKeySerializer(ApiKeySerializer):
    key = serializers.CharField(read_only=True, help_text="The secret: shown this once, never again.")

    class Meta(ApiKeySerializer.Meta):
        fields = (*ApiKeySerializer.Meta.fields, "key")


class ApiKeyViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                    mixins.DestroyModelMixin, viewsets.GenericViewSet):
    """Your personal access tokens; for a company admin also the company's API keys. DELETE revokes."""

    serializer_class = ApiKeySerializer
    permission_classes = [CompanyMember]
    schema_tags = ["api-keys"]

    def get_queryset(self):
        user = self.request.user
        if getattr(self, "swagger_fake_view", False) or not getattr(user, "tenant_id", None):
            return ApiKey.objects.none()
        keys = ApiKey.objects.filter(tenant_id=user.tenant_id).order_by("-id")
        if is_admin(user):
            return keys.filter(kind=ApiKey.Kind.COMPANY) | keys.filter(user=user)
        return keys.filter(user=user)

    def _session_only(self, request):
        if isinstance(request.auth, ApiKey):
            raise exceptions.PermissionDenied(_("Create keys signed in with the browser, not with a key."))

    @extend_schema(request=ApiKeySerializer, responses={201: NewApiKeySerializer})
    def create(self, request, *args, **kwargs):
        self._session_only(request)
        data = ApiKeySerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        key, secret = do_create_api_key(request.user, request.user, name=values["name"], kind=values["kind"],
                                        scopes=values.get("scopes", []), expires_at=values.get("expires_at"))
        body = NewApiKeySerializer(key).data
        body["key"] = secret
        return Response(body, status=status.HTTP_201_CREATED)

    def destroy(self, request, *args, **kwargs):
        do_revoke_api_key(request.user, self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

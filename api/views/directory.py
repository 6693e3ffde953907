"""The company, its people and their phones, departments, offices and cost centres."""

from __future__ import annotations

from django.db.models import Prefetch
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from pbx.actions import do_create_device, do_create_user, do_regenerate_device_secret, do_save_object, sync_staff_flag
from pbx.admin.tenants import COMPANY_ADMIN_EDITABLE
from pbx.models import CostCentre, Department, Device, Office, Tenant, User

from ..conventions import check_if_match, etag_of
from ..permissions import CompanyMember
from ..serializers import ActionSerializer, action_serializer
from .base import IF_MATCH, CompanyViewSet

# --------------------------------------------------------------------------------------------- the company


class CompanySerializer(ActionSerializer):
    class Meta(ActionSerializer.Meta):
        model = Tenant
        fields = ("id", "name", "slug", "time_zone", "language", "country_code", "emergency_numbers", "max_users",
                  "max_recording_channels", "recording_retention_days", "is_active")
        read_only_fields = tuple(f for f in fields if f not in COMPANY_ADMIN_EDITABLE)


class CompanyView(APIView):
    """The caller's company. A company admin may change its name, time zone and language (licences, node and
    short name are the platform operator's)."""

    scope_area = "company"
    schema_tags = ["company"]
    serializer_class = CompanySerializer

    def _company(self, request) -> Tenant:
        return Tenant.objects.get(pk=request.user.tenant_id)

    @extend_schema(responses=CompanySerializer)
    def get(self, request):
        company = self._company(request)
        return Response(CompanySerializer(company, context={"request": request}).data,
                        headers={"ETag": etag_of(company)})

    def _change(self, request, partial: bool):
        company = self._company(request)
        serializer = CompanySerializer(company, data=request.data, partial=partial, context={"request": request})
        serializer.is_valid(raise_exception=True)
        check_if_match(request, company)
        serializer.save()
        company = self._company(request)
        return Response(CompanySerializer(company, context={"request": request}).data,
                        headers={"ETag": etag_of(company)})

    @extend_schema(request=CompanySerializer, responses=CompanySerializer, parameters=[IF_MATCH])
    def put(self, request):
        return self._change(request, partial=False)

    @extend_schema(request=CompanySerializer, responses=CompanySerializer, parameters=[IF_MATCH])
    def patch(self, request):
        return self._change(request, partial=True)


CompanyView.permission_classes = [CompanyMember]

# --------------------------------------------------------------------------------------------- organisation

DepartmentSerializer = action_serializer(Department, ("name",))
OfficeSerializer = action_serializer(Office, ("name", "address"))
CostCentreSerializer = action_serializer(CostCentre, ("name", "code"))


class DepartmentViewSet(CompanyViewSet):
    """Departments ("avdelningar")."""

    model, serializer_class, scope_area = Department, DepartmentSerializer, "directory"
    ordering_fields, ordering = ("name", "id"), ("name",)
    filterset_fields = ("name",)


class OfficeViewSet(CompanyViewSet):
    """Offices."""

    model, serializer_class, scope_area = Office, OfficeSerializer, "directory"
    ordering_fields, ordering = ("name", "id"), ("name",)
    filterset_fields = ("name",)


class CostCentreViewSet(CompanyViewSet):
    """Cost centres."""

    model, serializer_class, scope_area = CostCentre, CostCentreSerializer, "directory"
    ordering_fields, ordering = ("name", "code", "id"), ("name",)
    filterset_fields = ("name", "code")


# --------------------------------------------------------------------------------------------- people

PERSON_FIELDS = ("email", "first_name", "last_name", "title", "extension", "direct_number", "mobile_number",
                 "department", "office", "cost_centre", "is_company_admin", "is_operator", "is_agent",
                 "recording_role", "recording_departments", "caller_id_number", "call_waiting", "language",
                 "is_active")


class PersonSerializer(ActionSerializer):
    password = serializers.CharField(write_only=True, required=False, allow_blank=False, max_length=128,
                                     style={"input_type": "password"},
                                     help_text="Only when creating; omitted: the person signs in another way.")

    class Meta(ActionSerializer.Meta):
        model = User
        fields = ("id", *PERSON_FIELDS, "password")
        read_only_fields = ("caller_id_number",)

    def validate_email(self, value):
        return value.lower()

    def create(self, validated_data):
        many = self._split(validated_data)
        password = validated_data.pop("password", None)
        email = validated_data.pop("email")
        tenant = Tenant.objects.get(pk=self.actor.tenant_id)
        if password:
            from django.contrib.auth.password_validation import validate_password

            validate_password(password, User(email=email, **{k: v for k, v in validated_data.items()
                                                            if k in ("first_name", "last_name")}))
        user = do_create_user(self.actor, tenant, email=email, password=password, **validated_data)
        if many:
            do_save_object(self.actor, user, save_related=lambda: [getattr(user, k).set(v) for k, v in many.items()])
        return user

    def update(self, instance, validated_data):
        if "password" in validated_data:
            raise exceptions.ValidationError({"password": [_("Set passwords in the admin or through a reset.")]})
        if instance.pk == self.actor.pk and validated_data.get("is_active") is False:
            raise exceptions.ValidationError({"is_active": [_("You cannot deactivate yourself.")]})
        many = self._split(validated_data)
        for name, value in validated_data.items():
            setattr(instance, name, value)
        sync_staff_flag(instance)
        return self.save_instance(instance, many)


class PersonViewSet(CompanyViewSet):
    """People of the company. Everyone of the company reads the directory; a company admin adds, changes and
    removes people (each through the same action as the admin: licences counted, audit row, apply)."""

    model, serializer_class, scope_area = User, PersonSerializer, "directory"
    ordering_fields, ordering = ("first_name", "last_name", "email", "extension", "id"), ("first_name", "last_name", "id")
    filterset_fields = ("extension", "department", "office", "cost_centre", "is_agent", "is_operator",
                        "is_company_admin", "is_active")

    def base_queryset(self):
        if self.action == "list":  # a page reads only what it shows (a person row is wide: password, flags...)
            columns = [f for f in PERSON_FIELDS if f != "recording_departments"]
            return User.objects.only("id", "tenant_id", *columns).prefetch_related(
                Prefetch("recording_departments", queryset=Department.objects.only("id")))
        return User.objects.prefetch_related("recording_departments")

    def perform_destroy(self, instance):
        if instance.pk == self.request.user.pk:
            raise exceptions.PermissionDenied(_("You cannot delete yourself."))
        super().perform_destroy(instance)


# --------------------------------------------------------------------------------------------- devices


class DeviceSerializer(ActionSerializer):
    endpoint = serializers.CharField(read_only=True, help_text="The PJSIP endpoint, auth and AOR name.")
    sip_password = serializers.CharField(source="secret", read_only=True,
                                         help_text="For provisioning the phone; regenerate to change it.")

    class Meta(ActionSerializer.Meta):
        model = Device
        fields = ("id", "user", "kind", "label", "mac_address", "is_enabled", "sip_username", "endpoint",
                  "sip_password", "created_at")
        read_only_fields = ("sip_username", "created_at")

    def create(self, validated_data):
        user = validated_data.pop("user")
        return do_create_device(self.actor, user, **validated_data)

    def update(self, instance, validated_data):
        if "user" in validated_data and validated_data["user"].pk != instance.user_id:
            raise exceptions.ValidationError({"user": [_("A phone cannot be given to someone else; add a new one.")]})
        return super().update(instance, validated_data)


class DeviceViewSet(CompanyViewSet):
    """Phones (PJSIP endpoints) with what a phone needs to be provisioned: SIP user name and password. A company
    admin sees all of them; anyone else their own (read only)."""

    model, serializer_class, scope_area = Device, DeviceSerializer, "directory"
    ordering_fields, ordering = ("id", "created_at", "label"), ("id",)
    filterset_fields = ("user", "kind", "is_enabled", "mac_address")

    def visible_to(self, queryset, user):
        return queryset.filter(user=user)

    @extend_schema(request=None, responses=DeviceSerializer)
    @action(detail=True, methods=["post"], url_path="regenerate-secret")
    def regenerate_secret(self, request, pk=None):
        """A new SIP password; the old one stops working at the next apply."""
        device = self.get_object()
        do_regenerate_device_secret(request.user, device)
        device.refresh_from_db()
        return self.with_etag(Response(DeviceSerializer(device, context={"request": request}).data), device)

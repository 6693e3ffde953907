"""Serializers: what each resource shows, and what a write may set.

``ActionSerializer`` saves through ``pbx.actions.do_save_object`` (validation, company-admin check, audit row,
config apply on commit), never ``Model.save()``. Related rows are chosen by id among the caller's company's rows
only: another company's id is "does not exist", like a deleted one.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from pbx.actions import do_save_object
from pbx.admin.base import _referenced_fields


class ScopedPrimaryKeyRelatedField(serializers.PrimaryKeyRelatedField):
    """An id among the caller's company's rows (``tenant_id`` or, for the company itself, ``pk``)."""

    default_error_messages = {
        "does_not_exist": _('There is no "{pk_value}" in your company.'),
    }

    def get_queryset(self):
        queryset = super().get_queryset()
        request = self.context.get("request")
        tenant_id = getattr(getattr(request, "user", None), "tenant_id", None)
        if tenant_id is None:
            return queryset.none()
        return queryset.filter(tenant_id=tenant_id)


def plain_constraint_errors(model, error: DjangoValidationError) -> DjangoValidationError:
    """Django names a per-company unique constraint in its message ("Constraint “x” is violated."); say it as
    the admin does: another row of the company already has this value, on the field it is about."""
    if not hasattr(error, "error_dict"):
        return error
    errors = dict(error.error_dict)
    for constraint in model._meta.constraints:
        default = constraint.default_violation_error_message % {"name": constraint.name}
        found = [e for e in errors.get("__all__", []) if default in e.messages]
        if not found:
            continue
        names = _referenced_fields(constraint) - {"tenant", "user"}
        field = sorted(names)[0] if names else "__all__"
        message = gettext("Another %(thing)s in the company already has this %(field)s.") % {
            "thing": model._meta.verbose_name,
            "field": model._meta.get_field(field).verbose_name if field != "__all__" else "value"}
        errors["__all__"] = [e for e in errors["__all__"] if e not in found]
        errors.setdefault(field, []).append(DjangoValidationError(message, code="unique"))
    return DjangoValidationError({k: v for k, v in errors.items() if v})


@extend_schema_field({"type": "string", "pattern": r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]+)?)?$",
                      "example": "08:00:00"})
class LocalTimeField(serializers.TimeField):
    """A time of day in the company's time zone (opening hours): HH:MM[:SS], no UTC offset."""


class StrictStrings:
    """A text field takes text: DRF would turn a JSON number into a string ("1.5"), hiding a client's bug."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            wrong = {name: [gettext("Not a valid string.")] for name, field in self.fields.items()
                     if isinstance(field, serializers.CharField) and not field.read_only
                     and isinstance(data.get(name), int | float) and not isinstance(data.get(name), bool)}
            if wrong:
                raise serializers.ValidationError(wrong)
        return super().to_internal_value(data)


class StrictSerializer(StrictStrings, serializers.Serializer):
    pass


class ActionSerializer(StrictStrings, serializers.ModelSerializer):
    serializer_related_field = ScopedPrimaryKeyRelatedField
    serializer_field_mapping = {**serializers.ModelSerializer.serializer_field_mapping,
                                models.TimeField: LocalTimeField}

    class Meta:
        validators: list = []  # the model's full_clean in the action checks constraints (per company)

    @property
    def actor(self):
        return self.context["request"].user

    def _split(self, validated_data):
        many = {}
        for field in self.Meta.model._meta.many_to_many:
            if field.name in validated_data:
                many[field.name] = validated_data.pop(field.name)
        return many

    def save_instance(self, instance, many):
        def save_related():
            for name, values in many.items():
                getattr(instance, name).set(values)

        try:
            return do_save_object(self.actor, instance, save_related=save_related if many else None)
        except DjangoValidationError as error:
            raise plain_constraint_errors(type(instance), error) from None

    def create(self, validated_data):
        many = self._split(validated_data)
        instance = self.Meta.model(**validated_data)
        if hasattr(instance, "tenant_id") and self.Meta.model._meta.model_name != "tenant":
            instance.tenant_id = self.actor.tenant_id
        return self.save_instance(instance, many)

    def update(self, instance, validated_data):
        many = self._split(validated_data)
        for name, value in validated_data.items():
            setattr(instance, name, value)
        return self.save_instance(instance, many)


def action_serializer(model_class, field_names, *, read_only=(), extra=None, name=None):
    """A plain ``ActionSerializer`` for a model: these fields, these read-only."""
    meta = type("Meta", (ActionSerializer.Meta,), {"model": model_class, "fields": ("id", *field_names),
                                                   "read_only_fields": tuple(read_only)})
    attrs = {"Meta": meta, **(extra or {})}
    return type(name or f"{model_class.__name__}Serializer", (ActionSerializer,), attrs)

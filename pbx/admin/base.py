"""Django admin scoped to a company: the machinery every admin class here inherits.

A superuser sees every company and chooses the company of a new row. A company admin
(``is_company_admin``; ``is_staff`` follows it through ``sync_staff_flag``) sees, searches,
chooses from and changes only rows of their own company. One function, ``scope_queryset``,
decides what a person may see, and everything reads through it:

- the change list, change, delete and history views (``get_queryset``; another company's row
  is "doesn't exist", exactly like a deleted one);
- foreign-key and many-to-many choices, in forms, inlines and autocomplete (the
  autocomplete view reads the target model's admin ``get_queryset``);
- related-field list filters (Django's ``RelatedFieldListFilter`` would list every row);
- bulk actions, which act on the change list's queryset.

Forms set the company before validation, so the per-company unique constraints are checked
and explained in plain words (Django skips a constraint whose field is not on the form).
Saves and deletes go through ``pbx.actions``, so each admin change is one transaction with
its audit row and its follow-ups on commit.
"""

from __future__ import annotations

import re

from django import forms
from django.contrib import admin
from django.contrib.admin.utils import get_fields_from_path, reverse_field_path
from django.core.exceptions import FieldDoesNotExist, ImproperlyConfigured, ObjectDoesNotExist, ValidationError
from django.db import router, transaction
from django.db.models import BooleanField, DateField, F, Model, QuerySet
from django.db.models.constants import LOOKUP_SEP
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _

from pbx.actions import do_delete_object, do_save_object
from pbx.models import Tenant
from pbx.phone_format import PhoneNumberInput
from pbx.validators import normalize_number

ALL_PERMISSIONS = frozenset({"view", "add", "change", "delete"})
VIEW_ONLY = frozenset({"view"})
NO_PERMISSIONS: frozenset[str] = frozenset()


def has_tenant_field(model: type[Model]) -> bool:
    try:
        field = model._meta.get_field("tenant")
    except FieldDoesNotExist:
        return False
    return field.is_relation and field.related_model is Tenant


def owning_tenant_id(obj: Model) -> int | None:
    if isinstance(obj, Tenant):
        return obj.pk
    return getattr(obj, "tenant_id", None)


def scope_queryset(queryset: QuerySet, user) -> QuerySet:
    """What ``user`` may see of ``queryset``: everything for a superuser, else their company's rows.

    Rows that belong to no company (Asterisk nodes, auth groups...) are the superusers' alone.
    """
    if user.is_superuser:
        return queryset
    tenant_id = getattr(user, "tenant_id", None)
    if tenant_id is None:
        return queryset.none()
    if queryset.model is Tenant:
        return queryset.filter(pk=tenant_id)
    if has_tenant_field(queryset.model):
        return queryset.filter(tenant_id=tenant_id)
    return queryset.none()


def clean_phone_number(value: str, tenant: Tenant | None) -> str:
    """What a Swede types (08-123 456 78, 070-123 45 67) → +46812345678; letters are refused."""
    if not value:
        return value
    number = normalize_number(value, tenant.country_code if tenant else "46")
    if not re.fullmatch(r"\+?[0-9]+", number):
        raise ValidationError(
            _("A phone number has digits only (spaces and hyphens are fine), e.g. 08-123 456 78."),
            code="bad_characters",
        )
    return number


def _referenced_fields(constraint) -> set[str]:
    names = set(getattr(constraint, "fields", ()) or ())
    for expression in getattr(constraint, "expressions", ()) or ():
        nodes = expression.flatten() if hasattr(expression, "flatten") else [expression]
        names |= {node.name for node in nodes if isinstance(node, F)}
    condition = getattr(constraint, "condition", None)
    if condition is not None:
        names |= condition.referenced_base_fields
    return names


class ScopedModelForm(forms.ModelForm):
    """The base of every admin form here.

    ``scope_tenant`` is set per request by the admin (``None`` for a superuser, who chooses the
    company on the form); a new row gets it before validation.
    """

    scope_tenant: Tenant | None = None
    # Phone numbers: shown the Swedish way (08-123 456 78), typed either way, stored as E.164 (clean_phone).
    phone_fields: tuple[str, ...] = ()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        model = self._meta.model
        if self.scope_tenant is not None and has_tenant_field(model) and self.instance.tenant_id is None:
            self.instance.tenant = self.scope_tenant
        for name in self.phone_fields:
            if name in self.fields:
                self.fields[name].widget = PhoneNumberInput(attrs=self.fields[name].widget.attrs)

    def _clean_fields(self):
        super()._clean_fields()
        for name in self.phone_fields:
            if name in self.cleaned_data:
                try:
                    self.cleaned_data[name] = self.clean_phone(name)
                except ValidationError as error:
                    self.add_error(name, error)

    @cached_property
    def changed_data(self) -> list[str]:
        """Django's, less a number saved back as it was shown (08-123 456 78 for +46812345678 is no change)."""
        return [name for name in super().changed_data if not self._same_number(name)]

    def _same_number(self, name: str) -> bool:
        if name not in self.phone_fields:
            return False
        try:
            typed = clean_phone_number(self[name].data or "", self.company())
        except ValidationError:
            return False
        return typed == (self.get_initial_for_field(self.fields[name], name) or "")

    def company(self) -> Tenant | None:
        """The company this row belongs to, as far as the form knows it yet."""
        instance = self.instance
        if getattr(instance, "tenant_id", None):
            return instance.tenant
        if isinstance(instance, Tenant):
            return instance
        parent_name = getattr(instance, "tenant_parent", None)
        if parent_name:  # an inline row of a superuser's form: the parent knows
            try:
                parent = getattr(instance, parent_name)
            except ObjectDoesNotExist:
                parent = None
            if parent is not None and parent.tenant_id:
                return parent.tenant
        tenant = getattr(self, "cleaned_data", {}).get("tenant")
        return tenant if isinstance(tenant, Tenant) else None

    def clean_phone(self, name: str) -> str:
        return clean_phone_number(self.cleaned_data.get(name, ""), self.company())

    def _get_validation_exclusions(self):
        exclude = super()._get_validation_exclusions()
        if has_tenant_field(self._meta.model):
            # Checked by the form field (superuser) or set by us (company admin); the
            # constraints that involve it are validated below, in plain words.
            exclude.add("tenant")
        return exclude

    def _post_clean(self):
        super()._post_clean()
        if getattr(self.instance, "tenant_id", None) is not None:
            self._validate_company_constraints()
            self._validate_same_company_choices()

    def _validate_company_constraints(self) -> None:
        instance = self.instance
        exclude = self._get_validation_exclusions() - {"tenant"}
        using = router.db_for_write(type(instance), instance=instance)
        for model_class, constraints in instance.get_constraints():
            for constraint in constraints:
                names = _referenced_fields(constraint)
                if "tenant" not in names or names & exclude:
                    continue
                try:
                    constraint.validate(model_class, instance, exclude=exclude, using=using)
                except ValidationError as error:
                    self._add_constraint_error(constraint, error, sorted(names - {"tenant"}))

    def _add_constraint_error(self, constraint, error: ValidationError, names: list[str]) -> None:
        field = names[0] if len(names) == 1 and names[0] in self.fields else None
        opts = self._meta.model._meta
        if constraint.violation_error_message != constraint.default_violation_error_message:
            error = ValidationError(constraint.get_violation_error_message(), code="unique")
        elif field:
            # Django's default names the constraint or the hidden company field; say it plainly.
            error = ValidationError(
                _("Another %(thing)s in the company already has this %(field)s."),
                code="unique",
                params={"thing": opts.verbose_name, "field": opts.get_field(field).verbose_name},
            )
        self.add_error(field, error)

    def _validate_same_company_choices(self) -> None:
        """A many-to-many choice must be of the same company (a superuser sees all of them)."""
        tenant_id = self.instance.tenant_id
        for field in self._meta.model._meta.many_to_many:
            if field.name not in self.cleaned_data or not has_tenant_field(field.related_model):
                continue
            foreign = [obj for obj in self.cleaned_data[field.name] if obj.tenant_id != tenant_id]
            if foreign:
                self.add_error(field.name, ValidationError(
                    _("%(target)s belongs to another company and cannot be used here."),
                    code="other_tenant",
                    params={"target": foreign[0]},
                ))


class ScopedRelatedFieldListFilter(admin.RelatedFieldListFilter):
    """A related-field filter that offers only the rows the person may see."""

    def field_choices(self, field, request, model_admin):
        queryset = scope_queryset(field.related_model._default_manager.all(), request.user)
        ordering = self.field_admin_ordering(field, request, model_admin)
        if ordering:
            queryset = queryset.order_by(*ordering)
        return [(obj.pk, str(obj)) for obj in queryset]


class ScopedAllValuesFieldListFilter(admin.AllValuesFieldListFilter):
    """Distinct values of a field across a relation (``user__title``): Django reads them from
    every row of the related model; here only from the rows the person may see."""

    def __init__(self, field, request, params, model, model_admin, field_path):
        super().__init__(field, request, params, model, model_admin, field_path)
        parent_model, _path = reverse_field_path(model, field_path)
        queryset = scope_queryset(parent_model._default_manager.all(), request.user)
        self.lookup_choices = queryset.distinct().order_by(field.name).values_list(field.name, flat=True)


class ScopedAdminMixin:
    """Scoping shared by model admins and inlines: rows, choices, permissions, the tenant field.

    ``company_admin_permissions`` says what a company admin may do with this model in their
    own company (no Django auth permissions needed); ``superuser_permissions`` limits even a
    superuser (the audit log is read-only for everyone).
    """

    company_admin_permissions: frozenset[str] = ALL_PERMISSIONS
    superuser_permissions: frozenset[str] = ALL_PERMISSIONS
    # Fields a company admin sees but only a superuser (the platform's operator) changes.
    superuser_only_fields: tuple[str, ...] = ()

    # Permissions -------------------------------------------------------------------------

    def _may(self, request, permission: str, obj: Model | None = None) -> bool:
        user = request.user
        if not (user.is_active and user.is_staff):
            return False
        if user.is_superuser:
            return permission in self.superuser_permissions
        if not (user.is_company_admin and user.tenant_id):
            return False
        if permission not in self.company_admin_permissions:
            return False
        return obj is None or owning_tenant_id(obj) == user.tenant_id

    def has_view_permission(self, request, obj=None):
        return self._may(request, "view", obj) or self._may(request, "change", obj)

    # ModelAdmin calls it with (request), an inline with (request, parent).
    def has_add_permission(self, request, obj=None):
        return self._may(request, "add", obj)

    def has_change_permission(self, request, obj=None):
        return self._may(request, "change", obj)

    def has_delete_permission(self, request, obj=None):
        return self._may(request, "delete", obj)

    def has_module_permission(self, request):
        user = request.user
        if user.is_superuser:
            return bool(self.superuser_permissions) and user.is_active and user.is_staff
        return any(self._may(request, permission) for permission in ALL_PERMISSIONS)

    # Rows and choices --------------------------------------------------------------------

    def get_queryset(self, request):
        return scope_queryset(super().get_queryset(request), request.user)

    def _scoped_choices(self, db_field, request, kwargs) -> QuerySet:
        queryset = kwargs.get("queryset")
        if queryset is None:
            queryset = self.get_field_queryset(kwargs.get("using"), db_field, request)
        if queryset is None:
            queryset = db_field.remote_field.model._default_manager.using(kwargs.get("using"))
        return scope_queryset(queryset, request.user)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        kwargs["queryset"] = self._scoped_choices(db_field, request, kwargs)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        kwargs["queryset"] = self._scoped_choices(db_field, request, kwargs)
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    # The tenant field ----------------------------------------------------------------------

    def hides_tenant(self, request) -> bool:
        """Company admins never see it; a child row (menu option, device) takes its parent's."""
        return has_tenant_field(self.model) and (
            not request.user.is_superuser
            or bool(getattr(self.model, "tenant_parent", None))
            or isinstance(self, admin.options.InlineModelAdmin)
        )

    def strip_hidden_fields(self, request, fieldsets):
        if not self.hides_tenant(request):
            return fieldsets
        stripped = []
        for name, options in fieldsets:
            fields = [f for f in options.get("fields", ()) if f != "tenant"]
            stripped.append((name, {**options, "fields": fields}))
        return stripped

    def get_exclude(self, request, obj=None):
        exclude = list(super().get_exclude(request, obj) or ())
        if self.hides_tenant(request):
            exclude.append("tenant")
        return exclude

    def get_fields(self, request, obj=None):
        fields = list(super().get_fields(request, obj))
        return [f for f in fields if f != "tenant"] if self.hides_tenant(request) else fields

    def get_fieldsets(self, request, obj=None):
        return self.strip_hidden_fields(request, super().get_fieldsets(request, obj))

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            readonly += self.superuser_only_fields
        # Moving a row to another company would break every reference to it.
        if obj is not None and has_tenant_field(self.model) and not self.hides_tenant(request):
            readonly.append("tenant")
        return readonly

    def bind_form(self, request, form_class):
        if not issubclass(form_class, ScopedModelForm):
            raise ImproperlyConfigured(f"{type(self).__name__}.form must derive from ScopedModelForm.")
        # modelform_factory made a fresh class for this request, so this stays per request.
        form_class.scope_tenant = None if request.user.is_superuser else request.user.tenant
        return form_class


class ScopedModelAdmin(ScopedAdminMixin, admin.ModelAdmin):
    form = ScopedModelForm

    # A model's ``created_at`` without a verbose name read "Created at" in every language; admins show this,
    # in the reader's time zone and format (a callable's datetime on a change page would be printed raw, UTC).
    @admin.display(description=_("created"), ordering="created_at")
    def created(self, obj) -> str:
        if obj is None or obj.created_at is None:
            return "–"
        return date_format(timezone.localtime(obj.created_at), "DATETIME_FORMAT")

    def get_form(self, request, obj=None, change=False, **kwargs):
        return self.bind_form(request, super().get_form(request, obj, change=change, **kwargs))

    def get_list_display(self, request):
        columns = list(super().get_list_display(request))
        if request.user.is_superuser and has_tenant_field(self.model) and "tenant" not in columns:
            columns.append("tenant")
        return columns

    def get_list_filter(self, request):
        filters = list(super().get_list_filter(request))
        if request.user.is_superuser and has_tenant_field(self.model) and "tenant" not in filters:
            filters.insert(0, "tenant")
        return [self._scoped_filter(item) for item in filters]

    def _scoped_filter(self, item):
        if not isinstance(item, str):
            return item
        field = get_fields_from_path(self.model, item)[-1]
        if field.is_relation:
            return (item, ScopedRelatedFieldListFilter)
        if LOOKUP_SEP in item and not (field.flatchoices or isinstance(field, BooleanField | DateField)):
            return (item, ScopedAllValuesFieldListFilter)
        return item

    # Saving through the actions ------------------------------------------------------------

    def save_model(self, request, obj, form, change):
        """Deferred to ``save_related``: the row, its many-to-many fields and its inlines are saved
        in one action (one transaction, audited with the final state)."""

    def save_related(self, request, form, formsets, change):
        def save_related_rows():
            form.save_m2m()
            for formset in formsets:
                self.save_formset(request, form, formset, change=change)

        self.save_object(request, form.instance, form, change, save_related_rows)

    def save_object(self, request, obj, form, change, save_related) -> None:
        do_save_object(request.user, obj, save_related=save_related)

    def save_formset(self, request, form, formset, change):
        instances = formset.save(commit=False)
        for obj in formset.deleted_objects:
            do_delete_object(request.user, obj)
        for obj in instances:
            self.save_inline_object(request, obj)
        formset.save_m2m()

    def save_inline_object(self, request, obj) -> None:
        do_save_object(request.user, obj)

    def delete_model(self, request, obj):
        do_delete_object(request.user, obj)

    def delete_queryset(self, request, queryset):
        with transaction.atomic(using=router.db_for_write(self.model)):
            for obj in queryset:
                do_delete_object(request.user, obj)

    def get_deleted_objects(self, objs, request):
        deletable, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        # Rows of admins that are not company-scoped (e.g. allauth's e-mail addresses of a
        # deleted person) go with their company row; only our own admins' permissions count.
        foreign = {
            model._meta.verbose_name
            for model, model_admin in self.admin_site._registry.items()
            if not isinstance(model_admin, ScopedAdminMixin)
        }
        return deletable, counts, perms_needed - foreign, protected


class ScopedInlineFormSet(forms.BaseInlineFormSet):
    def add_fields(self, form, index):
        super().add_fields(form, index)
        # Django's hidden row-id field accepts the id of any row of the model; only the rows of
        # this parent (already scoped by the inline's get_queryset) are valid here.
        id_field = form.fields.get(self._pk_field.name)
        if isinstance(id_field, forms.ModelChoiceField):
            id_field.queryset = self.get_queryset()


class ScopedInlineMixin(ScopedAdminMixin):
    form = ScopedModelForm
    formset = ScopedInlineFormSet
    extra = 0

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        self.bind_form(request, formset.form)
        return formset


class ScopedTabularInline(ScopedInlineMixin, admin.TabularInline):
    pass


class ScopedStackedInline(ScopedInlineMixin, admin.StackedInline):
    pass

"""Composite foreign keys that make PostgreSQL refuse a cross-tenant reference.

Django has no composite foreign keys, so this migration operation adds, for a reference
``model.field → target``: ``UNIQUE (tenant_id, id)`` on the target and
``FOREIGN KEY (tenant_id, field_id) REFERENCES target (tenant_id, id)`` on the model. With
MATCH SIMPLE a NULL in either column skips the check, which is what optional references need.
Other databases (the embedded SQLite) rely on the model validation alone.
"""

from django.db import migrations


class TenantForeignKey(migrations.operations.base.Operation):
    reduces_to_sql = True
    reversible = True

    def __init__(self, model_name: str, field_name: str):
        self.model_name = model_name
        self.field_name = field_name

    def state_forwards(self, app_label, state):
        pass

    def _names(self, app_label, state):
        model = state.apps.get_model(app_label, self.model_name)
        field = model._meta.get_field(self.field_name)
        target = field.related_model
        table, column = model._meta.db_table, field.column
        return table, column, target._meta.db_table, f"{table}_{column}_same_tenant"[:63]

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            return
        table, column, target, name = self._names(app_label, to_state)
        unique = f"{target}_tenant_id_uniq"[:63]
        # Identifiers come from model metadata, never from input.
        schema_editor.execute(
            f"""DO $$ BEGIN
                IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = '{unique}') THEN
                    ALTER TABLE "{target}" ADD CONSTRAINT "{unique}" UNIQUE (tenant_id, id);
                END IF;
            END $$;"""  # noqa: S608
        )
        schema_editor.execute(
            f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" FOREIGN KEY (tenant_id, "{column}") '
            f'REFERENCES "{target}" (tenant_id, id) DEFERRABLE INITIALLY DEFERRED'
        )

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            return
        table, _column, _target, name = self._names(app_label, from_state)
        schema_editor.execute(f'ALTER TABLE "{table}" DROP CONSTRAINT IF EXISTS "{name}"')

    def describe(self):
        return f"Same-tenant foreign key {self.model_name}.{self.field_name}"

    def deconstruct(self):
        return (self.__class__.__qualname__, [self.model_name, self.field_name], {})

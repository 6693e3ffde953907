"""A device's provisioning token (its secret provisioning URL), the colour's #rrggbb check, the audit's
"person" column.

The token is unique: existing devices get one each (a callable default is evaluated once per AddField)."""

import secrets

import django.core.validators
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

import pbx.models.directory


def fill_tokens(apps, schema_editor):
    Device = apps.get_model("pbx", "Device")
    for device in Device.objects.filter(provisioning_token="").only("pk"):
        device.provisioning_token = secrets.token_urlsafe(24)
        device.save(update_fields=["provisioning_token"])


class Migration(migrations.Migration):
    dependencies = [
        ("pbx", "0010_tenant_mfa_required"),
    ]

    operations = [
        migrations.AddField(
            model_name="device",
            name="provisioning_token",
            field=models.CharField(default="", editable=False, max_length=64, verbose_name="provisioning token"),
            preserve_default=False,
        ),
        migrations.RunPython(fill_tokens, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="device",
            name="provisioning_token",
            field=models.CharField(
                default=pbx.models.directory.generate_provisioning_token, editable=False, max_length=64, unique=True,
                verbose_name="provisioning token",
            ),
        ),
        migrations.AlterField(
            model_name="auditlog",
            name="actor",
            field=models.ForeignKey(
                blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+",
                to=settings.AUTH_USER_MODEL, verbose_name="person",
            ),
        ),
        migrations.AlterField(
            model_name="presencestatus",
            name="color",
            field=models.CharField(
                default="#d97706", help_text="How the status is shown in the console and on My pages.", max_length=7,
                validators=[django.core.validators.RegexValidator(
                    "\\A#[0-9a-fA-F]{6}\\Z", "A colour is written #rrggbb, e.g. #1a7f37.")],
                verbose_name="colour",
            ),
        ),
    ]

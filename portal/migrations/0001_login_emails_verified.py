# The login address a company admin set is the person's one verified address (portal/emails.py); people
# created before that have no EmailAddress row, or an unverified one allauth made on its e-mail page.

from django.db import migrations


def vouch_for_login_emails(apps, schema_editor):
    User = apps.get_model("pbx", "User")
    EmailAddress = apps.get_model("account", "EmailAddress")
    for user_id, email in User.objects.exclude(email="").values_list("pk", "email").iterator():
        email = email.lower()
        EmailAddress.objects.filter(user_id=user_id).exclude(email__iexact=email).update(primary=False)
        EmailAddress.objects.update_or_create(user_id=user_id, email=email,
                                              defaults={"verified": True, "primary": True})


class Migration(migrations.Migration):

    dependencies = [
        ("account", "0009_emailaddress_unique_primary_email"),
        ("pbx", "0004_user_names_plain_text"),
    ]

    operations = [
        migrations.RunPython(vouch_for_login_emails, migrations.RunPython.noop),
    ]

from django.db import migrations

from pbx.dbconstraints import TenantForeignKey


class Migration(migrations.Migration):
    """On PostgreSQL, references between a company's rows cannot leave the company."""

    dependencies = [("pbx", "0001_initial")]

    operations = [
        TenantForeignKey("ivrmenu", "prompt"),
        TenantForeignKey("ivrmenu", "invalid_prompt"),
        TenantForeignKey("ivrmenu", "timeout_destination"),
        TenantForeignKey("ivrmenu", "invalid_destination"),
        TenantForeignKey("ivroption", "menu"),
        TenantForeignKey("ivroption", "destination"),
        TenantForeignKey("weeklyhours", "schedule"),
        TenantForeignKey("specialday", "schedule"),
        TenantForeignKey("voicemailbox", "owner"),
        TenantForeignKey("voicemailbox", "greeting"),
        TenantForeignKey("destination", "user"),
        TenantForeignKey("destination", "queue"),
        TenantForeignKey("destination", "menu"),
        TenantForeignKey("destination", "voicemail_box"),
        TenantForeignKey("destination", "conference"),
        TenantForeignKey("user", "department"),
        TenantForeignKey("user", "office"),
        TenantForeignKey("user", "cost_centre"),
        TenantForeignKey("user", "caller_id_number"),
        TenantForeignKey("device", "user"),
        TenantForeignKey("number", "user"),
        TenantForeignKey("number", "destination"),
        TenantForeignKey("number", "schedule"),
        TenantForeignKey("number", "closed_destination"),
        TenantForeignKey("number", "welcome_prompt"),
        TenantForeignKey("number", "trunk"),
        TenantForeignKey("presencestatus", "forward_to"),
        TenantForeignKey("userpresence", "user"),
        TenantForeignKey("userpresence", "status"),
        TenantForeignKey("forwardingprofile", "user"),
        TenantForeignKey("forwardingprofile", "schedule"),
        TenantForeignKey("forwardingrule", "profile"),
        TenantForeignKey("queue", "periodic_prompt"),
        TenantForeignKey("queue", "overflow_destination"),
        TenantForeignKey("queue", "no_agents_destination"),
        TenantForeignKey("queueagent", "queue"),
        TenantForeignKey("queueagent", "user"),
    ]

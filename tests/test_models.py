import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from pbx.models import Destination, Device, IvrOption, Number, QueueAgent, User


def test_a_queue_of_demo_cannot_get_an_agent_from_exempel(demo, dave):
    agent = QueueAgent(queue=demo.queues["Support"], user=dave)
    with pytest.raises(ValidationError) as err:
        agent.full_clean()
    assert "belongs to another company" in str(err.value.message_dict["user"])


@pytest.mark.skipif(connection.vendor != "postgresql", reason="composite foreign keys are PostgreSQL's")
def test_the_database_refuses_a_cross_tenant_reference_even_past_validation(demo, dave):
    agent = QueueAgent.objects.filter(queue=demo.queues["Support"]).first()
    with pytest.raises(IntegrityError), transaction.atomic():
        QueueAgent.objects.filter(pk=agent.pk).update(user=dave)
        connection.check_constraints()  # the constraint is deferred to commit; force it now


def test_extension_is_unique_within_a_company_but_not_across(demo, exempel, bob):
    twin = User(tenant=demo.tenant, email="twin@demo.example", extension=bob.extension)
    with pytest.raises(ValidationError) as err:
        twin.full_clean(exclude=["password"])
    assert "already taken" in str(err.value)
    other = User(tenant=exempel.tenant, email="twin@exempel.example", extension="1099")
    other.full_clean(exclude=["password"])


@pytest.mark.parametrize("bad", ["0812345678", "+46 8 123", "+46abc1234", "+0812345678", "", "+4681234567890123"])
def test_a_number_must_be_e164(demo, bad):
    with pytest.raises(ValidationError) as err:
        Number(tenant=demo.tenant, e164=bad, kind="main").full_clean()
    assert "international form" in str(err.value) or "cannot be blank" in str(err.value)


@pytest.mark.parametrize("hostile", ["Evil;Dial(PJSIP/x)", "line\nbreak", "${SHELL(rm -rf /)}"])
def test_hostile_extension_is_refused(demo, hostile):
    user = User(tenant=demo.tenant, email="h@demo.example", extension=hostile)
    with pytest.raises(ValidationError) as err:
        user.full_clean(exclude=["password"])
    assert "2–8 digits" in str(err.value.message_dict["extension"])


def test_a_name_with_a_newline_is_refused(demo):
    with pytest.raises(ValidationError) as err:
        Destination(tenant=demo.tenant, kind="hangup", label="ok\n[t2-inbound]").full_clean()
    assert "Line breaks" in str(err.value)


def test_a_destination_needs_the_target_of_its_kind(demo):
    with pytest.raises(ValidationError) as err:
        Destination(tenant=demo.tenant, kind="queue").full_clean()
    assert "queue" in err.value.message_dict


def test_the_database_refuses_a_destination_without_its_target(demo):
    with pytest.raises(IntegrityError), transaction.atomic():
        Destination.objects.create(tenant=demo.tenant, kind="queue")


def test_an_external_destination_takes_digits_only(demo):
    with pytest.raises(ValidationError) as err:
        Destination(tenant=demo.tenant, kind="external", external_number="070-123 45&67").full_clean()
    assert "digits only" in str(err.value)


def test_a_menu_key_is_used_once(demo):
    option = demo.menu.options.first()
    with pytest.raises(ValidationError) as err:
        IvrOption(menu=demo.menu, digit=option.digit, destination=option.destination).full_clean()
    assert "already used" in str(err.value)


def test_devices_get_strong_generated_secrets(demo, bob):
    secrets = list(Device.objects.filter(tenant=demo.tenant).values_list("secret", flat=True))
    assert len(set(secrets)) == len(secrets)
    assert all(len(s) >= 32 for s in secrets)


def test_a_child_row_takes_its_tenant_from_its_parent(demo, bob):
    agent = QueueAgent(queue=demo.queues["Sales"], user=demo.agents[2])
    agent.full_clean()
    agent.save()
    assert agent.tenant_id == demo.tenant.pk


def test_every_same_tenant_foreign_key_is_declared():
    """A foreign key between two companies' rows that is not in tenant_references would escape
    both the form check and the database constraint."""
    from django.apps import apps

    missing = []
    for model in [*apps.get_app_config("pbx").get_models(), *apps.get_app_config("recording").get_models()]:
        if "tenant" not in {f.name for f in model._meta.fields} or model._meta.model_name in ("auditlog",):
            continue
        declared = set(getattr(model, "tenant_references", ()))
        for field in model._meta.fields:
            target = field.related_model
            if field.name == "tenant" or target is None:
                continue
            if "tenant" in {f.name for f in target._meta.fields} and field.name not in declared:
                missing.append(f"{model.__name__}.{field.name}")
    assert missing == []


def test_a_persons_name_with_a_line_break_is_refused(demo):
    user = User(tenant=demo.tenant, email="nl@demo.example", first_name="Eve\n[t2-internal]")
    with pytest.raises(ValidationError) as err:
        user.full_clean(exclude=["password"])
    assert "Line breaks" in str(err.value.message_dict["first_name"])

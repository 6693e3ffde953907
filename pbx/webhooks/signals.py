"""Keep the in-process list of who wants which event fresh where an endpoint is saved."""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from .emit import subscriptions
from .models import WebhookEndpoint


@receiver([post_save, post_delete], sender=WebhookEndpoint)
def endpoint_changed(sender, instance: WebhookEndpoint, **kwargs) -> None:
    subscriptions.forget(instance.tenant_id)

"""Tenant-scoped reads of recordings: what each recording role may see.

The roles are the guide's ("Roll för UC-analys"): no access; "My Console" (own recordings); super user
(all of the company's recordings and the settings); restricted user (listen only, chosen departments).
The company always comes from the signed-in person, never from the request.
"""

from __future__ import annotations

from django.db.models import QuerySet

from pbx.models import User

from .models import Recording

Role = User.RecordingRole


def may_use_recording_web(user) -> bool:
    return bool(getattr(user, "tenant_id", None)) and user.recording_role != Role.NONE


def is_recording_super(user) -> bool:
    return bool(getattr(user, "tenant_id", None)) and user.recording_role == Role.SUPER


def recordings_visible_to(user) -> QuerySet[Recording]:
    """The recordings this person may list, hear, download, evaluate and share (deleted ones never)."""
    if not may_use_recording_web(user):
        return Recording.objects.none()
    rows = Recording.objects.filter(tenant_id=user.tenant_id, deleted_at__isnull=True)
    if user.recording_role == Role.SUPER:
        return rows
    if user.recording_role == Role.OWN:
        return rows.filter(user_id=user.pk)
    if user.recording_role == Role.DEPARTMENTS:
        return rows.filter(department_id__in=list(user.recording_departments.values_list("pk", flat=True)))
    return Recording.objects.none()


def running_recordings(user) -> QuerySet[Recording]:
    """The company's recordings running now, as the database knows them (the bridge opened them and has not
    seen them end), for super users only; the oldest first."""
    if not is_recording_super(user):
        return Recording.objects.none()
    return (Recording.objects.filter(tenant_id=user.tenant_id, status=Recording.Status.RECORDING,
                                     ended_at__isnull=True, deleted_at__isnull=True)
            .select_related("user", "requested_by", "queue").order_by("started_at", "id"))

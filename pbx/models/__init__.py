from .audit import AuditLog
from .base import TenantOwned, TenantQuerySet
from .callbacks import CallbackRequest
from .callflow import Conference, IvrMenu, IvrOption, Prompt, Schedule, SpecialDay, VoicemailBox, WeeklyHours
from .destinations import Destination
from .directory import CostCentre, Department, Device, Office, User
from .numbers import Number, NumberAssignment, SipTrunk
from .presence import ForwardingProfile, ForwardingRule, PresenceStatus, UserPresence
from .queues import Queue, QueueAgent
from .tenants import AsteriskNode, Tenant

__all__ = [
    "AsteriskNode", "AuditLog", "CallbackRequest", "Conference", "CostCentre", "Department", "Destination", "Device",
    "ForwardingProfile", "ForwardingRule", "IvrMenu", "IvrOption", "Number", "NumberAssignment", "Office",
    "PresenceStatus",
    "Prompt", "Queue", "QueueAgent", "Schedule", "SipTrunk", "SpecialDay", "Tenant", "TenantOwned",
    "TenantQuerySet", "User", "UserPresence", "VoicemailBox", "WeeklyHours",
]

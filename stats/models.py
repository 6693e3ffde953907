"""What happened to calls, kept: the call log and the queue log, written by the event bridge.

Rows are written when a call ends, keyed by what Asterisk called the call on its node (its Linkedid;
a queue row by the caller's channel, the visit and the kind), so writing the same call again updates
its row and never adds a second one.
"""

from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from pbx.models import TenantOwned
from pbx.phone_format import format_number
from pbx.validators import validate_plain_text


class CallLog(TenantOwned):
    class Direction(models.TextChoices):
        IN = "in", _("Incoming")
        OUT = "out", _("Outgoing")
        INTERNAL = "internal", _("Internal")

    class Result(models.TextChoices):
        ANSWERED = "answered", _("Answered")
        ABANDONED = "abandoned", _("Abandoned")
        NO_ANSWER = "no_answer", _("No answer")
        BUSY = "busy", _("Busy")
        FAILED = "failed", _("Failed")
        VOICEMAIL = "voicemail", _("Voicemail")

    class ForwardReason(models.TextChoices):
        STATUS = "status", _("Status")
        ALWAYS = "always", _("Profile: always")
        BUSY = "busy", _("Profile: busy")
        NO_ANSWER = "no_answer", _("Profile: no answer")
        UNREACHABLE = "unreachable", _("Profile: unreachable")

    class QueueResult(models.TextChoices):
        ANSWERED = "answered", _("Answered")
        ABANDONED = "abandoned", _("Abandoned")
        NO_AGENTS = "noagents", _("No agents")
        CLOSED = "closed", _("Closed")
        OVERFLOW = "overflow", _("Overflow (queue full)")
        TIMEOUT = "timeout", _("Maximum wait reached")
        CALLBACK = "callback", _("Left for a callback")

    node = models.ForeignKey("pbx.AsteriskNode", on_delete=models.PROTECT, related_name="+", verbose_name=_("node"))
    linkedid = models.CharField(_("call id"), max_length=64)
    started_at = models.DateTimeField(_("started"))
    answered_at = models.DateTimeField(_("answered"), null=True, blank=True)
    ended_at = models.DateTimeField(_("ended"))
    direction = models.CharField(_("direction"), max_length=8, choices=Direction.choices)
    from_number = models.CharField(_("from"), max_length=40, blank=True)
    from_name = models.CharField(_("caller name"), max_length=80, blank=True)
    to_number = models.CharField(_("to"), max_length=40, blank=True)
    dialled_number = models.CharField(
        _("dialled number"), max_length=40, blank=True,
        help_text=_("What the caller dialled: for an incoming call the company's number (DDI)."),
    )
    caller = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("calling user"),
    )
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("answered by"),
    )
    users = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="call_log", verbose_name=_("users"),
        help_text=_("Everyone whose phone took part: called, rang, answered or was transferred to."),
    )
    queue = models.ForeignKey(
        "pbx.Queue", on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("queue")
    )
    wait_s = models.FloatField(
        _("wait (s)"), default=0,
        help_text=_("In a queue: from joining it to an agent answering (or hanging up). Otherwise: until answered."),
    )
    queue_result = models.CharField(
        _("queue result"), max_length=10, choices=QueueResult.choices, blank=True,
        help_text=_("How the call's first queue ended for it (empty: no queue)."),
    )
    talk_s = models.FloatField(_("talk (s)"), default=0)
    result = models.CharField(_("result"), max_length=10, choices=Result.choices)
    forwarded_from = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("forwarded by"), help_text=_("The person whose status or forwarding profile sent the call on."),
    )
    forwarded_to = models.CharField(_("forwarded to"), max_length=80, blank=True)
    forward_reason = models.CharField(_("forward reason"), max_length=12, choices=ForwardReason.choices, blank=True)
    voicemail_box = models.CharField(_("voicemail box"), max_length=20, blank=True)
    hangup_cause = models.SmallIntegerField(_("hangup cause"), null=True, blank=True)
    transfers = models.JSONField(_("transfers"), default=list, blank=True)
    recorded = models.BooleanField(_("recorded"), default=False)
    complete = models.BooleanField(
        _("complete"), default=True,
        help_text=_("Unticked when the switchboard lost sight of part of the call (Asterisk restarted, "
                    "the connection dropped): its times are the best known."),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    tenant_references = ("caller", "answered_by", "queue", "forwarded_from")

    class Meta:
        verbose_name = _("call")
        verbose_name_plural = _("calls")
        ordering = ["-started_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["node", "linkedid"], name="calllog_once_per_node_call")]
        indexes = [models.Index(fields=["tenant", "-started_at"])]

    def __str__(self) -> str:
        # In the reader's time zone (the company's, see pbx.middleware), as the fields below the title are.
        return (f"{timezone.localtime(self.started_at):%Y-%m-%d %H:%M} {format_number(self.from_number)} → "
                f"{format_number(self.to_number)}")


class QueueEvent(TenantOwned):
    """One line of the queue log: a caller entered, was connected, abandoned, completed, timed out, or met
    the queue without agents, closed or full (those calls never entered it: one row, no "enter")."""

    class Kind(models.TextChoices):
        ENTER = "enter", _("Entered")
        CONNECT = "connect", _("Connected")
        ABANDON = "abandon", _("Abandoned")
        COMPLETE = "complete", _("Completed")
        TIMEOUT = "timeout", _("Left unanswered")
        CALLBACK = "callback", _("Left for a callback")
        RING_NO_ANSWER = "ringnoanswer", _("Agent did not answer")
        NO_AGENTS = "noagents", _("No agents")
        CLOSED = "closed", _("Closed")
        OVERFLOW = "overflow", _("Overflow (queue full)")

    node = models.ForeignKey("pbx.AsteriskNode", on_delete=models.PROTECT, related_name="+", verbose_name=_("node"))
    # <caller's Uniqueid>:<queue>:<visit>:<kind>:<seq> (pbx.asterisk.bridge.domain.QueueLogEntry.key)
    key = models.CharField(_("key"), max_length=255)
    call = models.ForeignKey(CallLog, on_delete=models.CASCADE, null=True, blank=True, related_name="queue_events",
                             verbose_name=_("call"))
    linkedid = models.CharField(_("call id"), max_length=64)
    uniqueid = models.CharField(_("caller channel"), max_length=64)
    queue = models.ForeignKey("pbx.Queue", on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
                              verbose_name=_("queue"))
    queue_name = models.CharField(_("queue name in Asterisk"), max_length=80)
    kind = models.CharField(_("event"), max_length=12, choices=Kind.choices)
    at = models.DateTimeField(_("when"))
    position = models.SmallIntegerField(_("position"), null=True, blank=True)
    wait_s = models.FloatField(_("wait (s)"), null=True, blank=True)
    talk_s = models.FloatField(_("talk (s)"), null=True, blank=True)
    agent = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                              related_name="+", verbose_name=_("agent"))
    agent_interface = models.CharField(_("agent interface"), max_length=120, blank=True)

    tenant_references = ("call", "queue", "agent")

    class Meta:
        verbose_name = _("queue event")
        verbose_name_plural = _("queue log")
        ordering = ["at", "id"]
        constraints = [models.UniqueConstraint(fields=["node", "key"], name="queueevent_once_per_node_key")]
        indexes = [models.Index(fields=["tenant", "queue", "at"]),
                   models.Index(fields=["tenant", "at"], name="queueevent_tenant_at")]  # rebuilds read by time

    def __str__(self) -> str:
        # The entry page's title: in the reader's time zone, the queue by its name, the event in words.
        queue = self.queue.name if self.queue_id and self.queue else self.queue_name
        return f"{timezone.localtime(self.at):%Y-%m-%d %H:%M:%S} {queue}: {self.get_kind_display()}"


class AgentEvent(TenantOwned):
    """An agent's membership changing in one queue: logged in or out, paused (with its reason) or resumed.

    Written by the event bridge as Asterisk reports it (QueueMemberAdded / Removed / Pause); a report of the
    state it already had (a resynchronisation lists every member again) adds no row.
    """

    class Kind(models.TextChoices):
        LOGIN = "login", _("Logged in")
        LOGOUT = "logout", _("Logged out")
        PAUSE = "pause", _("Paused")
        UNPAUSE = "unpause", _("Resumed")

    node = models.ForeignKey("pbx.AsteriskNode", on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                             verbose_name=_("node"))
    agent = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+",
                              verbose_name=_("agent"))
    queue = models.ForeignKey("pbx.Queue", on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
                              verbose_name=_("queue"))
    queue_name = models.CharField(_("queue name in Asterisk"), max_length=80)
    kind = models.CharField(_("event"), max_length=8, choices=Kind.choices)
    reason = models.CharField(_("pause reason"), max_length=80, blank=True)
    at = models.DateTimeField(_("when"))

    tenant_references = ("agent", "queue")

    class Meta:
        verbose_name = _("agent event")
        verbose_name_plural = _("agent log")
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["tenant", "at"]), models.Index(fields=["agent", "queue_name", "at"])]

    def __str__(self) -> str:
        return f"{timezone.localtime(self.at):%Y-%m-%d %H:%M:%S} {self.queue_name}: {self.get_kind_display()}"


class QueueInterval(TenantOwned):
    """One queue's figures for one 15-minute interval (``stats.definitions.QueueFigures``), rebuilt from the
    queue log; ``start`` is the interval's first instant in UTC."""

    queue = models.ForeignKey("pbx.Queue", on_delete=models.CASCADE, related_name="+", verbose_name=_("queue"))
    start = models.DateTimeField(_("interval start"))
    offered = models.PositiveIntegerField(default=0)
    answered = models.PositiveIntegerField(default=0)
    answered_in_sl = models.PositiveIntegerField(default=0)
    abandoned = models.PositiveIntegerField(default=0)
    short_abandoned = models.PositiveIntegerField(default=0)
    timeouts = models.PositiveIntegerField(default=0)
    left_for_callback = models.PositiveIntegerField(default=0)
    overflows = models.PositiveIntegerField(default=0)
    no_agents = models.PositiveIntegerField(default=0)
    closed = models.PositiveIntegerField(default=0)
    wait_answered_s = models.FloatField(default=0)
    wait_max_s = models.FloatField(default=0)
    talk_s = models.FloatField(default=0)
    callbacks_requested = models.PositiveIntegerField(default=0)
    callbacks_made = models.PositiveIntegerField(default=0)

    tenant_references = ("queue",)

    class Meta:
        verbose_name = _("queue interval")
        verbose_name_plural = _("queue intervals")
        constraints = [models.UniqueConstraint(fields=["tenant", "queue", "start"], name="queueinterval_once")]
        indexes = [models.Index(fields=["tenant", "start"])]


class AgentInterval(TenantOwned):
    """One agent's figures for one 15-minute interval: call figures per queue (``queue`` set), time in states
    across all queues (``queue`` empty); ``stats.definitions.AgentFigures``."""

    agent = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+",
                              verbose_name=_("agent"))
    queue = models.ForeignKey("pbx.Queue", on_delete=models.CASCADE, null=True, blank=True, related_name="+",
                              verbose_name=_("queue"))
    start = models.DateTimeField(_("interval start"))
    offered = models.PositiveIntegerField(default=0)
    answered = models.PositiveIntegerField(default=0)
    rang_no_answer = models.PositiveIntegerField(default=0)
    talk_s = models.FloatField(default=0)
    wrapup_s = models.FloatField(default=0)
    logged_in_s = models.FloatField(default=0)
    paused_s = models.FloatField(default=0)

    tenant_references = ("agent", "queue")

    class Meta:
        verbose_name = _("agent interval")
        verbose_name_plural = _("agent intervals")
        indexes = [models.Index(fields=["tenant", "start"])]


class AgentPauseInterval(TenantOwned):
    """Paused seconds of one agent in one interval, per pause reason."""

    agent = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+",
                              verbose_name=_("agent"))
    start = models.DateTimeField(_("interval start"))
    reason = models.CharField(_("pause reason"), max_length=80, blank=True)
    paused_s = models.FloatField(default=0)

    tenant_references = ("agent",)

    class Meta:
        verbose_name = _("agent pause interval")
        verbose_name_plural = _("agent pause intervals")
        indexes = [models.Index(fields=["tenant", "start"])]


class VolumeInterval(TenantOwned):
    """Calls of one direction in one interval, for the company, a person, a company number or a queue
    (``dimension`` and ``key``: the person's or queue's id, the number as dialled; the company's key is "")."""

    class Dimension(models.TextChoices):
        COMPANY = "company", _("Company")
        USER = "user", _("Person")
        NUMBER = "number", _("Number")
        QUEUE = "queue", _("Queue")

    start = models.DateTimeField(_("interval start"))
    dimension = models.CharField(max_length=8, choices=Dimension.choices)
    key = models.CharField(max_length=40, blank=True)
    direction = models.CharField(max_length=8, choices=CallLog.Direction.choices)
    calls = models.PositiveIntegerField(default=0)
    answered = models.PositiveIntegerField(default=0)
    talk_s = models.FloatField(default=0)

    class Meta:
        verbose_name = _("call volume interval")
        verbose_name_plural = _("call volume intervals")
        indexes = [models.Index(fields=["tenant", "dimension", "start"])]


class Report(TenantOwned):
    """A saved report: which figures, for which queues and people, over which period; who may see it, and
    whether the worker e-mails it (with its PDF) on a schedule in the company's time zone."""

    class Period(models.TextChoices):
        DAY = "day", _("Yesterday")
        WEEK = "week", _("Last week")
        MONTH = "month", _("Last month")

    class Schedule(models.TextChoices):
        NONE = "", _("Not e-mailed")
        DAILY = "daily", _("Daily")
        WEEKLY = "weekly", _("Weekly (Mondays)")
        MONTHLY = "monthly", _("Monthly (the 1st)")

    name = models.CharField(_("name"), max_length=80, validators=[validate_plain_text])
    figures = models.JSONField(_("figures"), default=list)
    queues = models.ManyToManyField("pbx.Queue", blank=True, related_name="+", verbose_name=_("queues"))
    agents = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+",
                                    verbose_name=_("people"))
    period = models.CharField(_("period"), max_length=8, choices=Period.choices, default=Period.WEEK)
    viewers = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="stats_reports",
                                     verbose_name=_("who may see it"),
                                     help_text=_("Company admins always may. The e-mailed report goes to these people."))
    schedule = models.CharField(_("e-mail"), max_length=8, choices=Schedule.choices, blank=True, default="")
    send_hour = models.PositiveSmallIntegerField(_("at hour"), default=7, validators=[MaxValueValidator(23)],
                                                 help_text=_("In the company's time zone."))
    last_sent_at = models.DateTimeField(_("last e-mailed"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("report")
        verbose_name_plural = _("reports")
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

"""Queues ("svarsgrupper") and their agents."""

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

from pbx.validators import validate_e164, validate_extension, validate_plain_text

from .base import TenantOwned


class Queue(TenantOwned):
    class Strategy(models.TextChoices):
        # Values are Asterisk's own strategy names.
        SEQUENTIAL = "linear", _("Sequential, in priority order")
        RING_ALL = "ringall", _("Ring all at once")
        LEAST_RECENT = "leastrecent", _("ACD: longest since last call")
        FEWEST_CALLS = "fewestcalls", _("ACD: fewest calls answered")
        ROUND_ROBIN = "rrmemory", _("ACD: round robin")
        RANDOM = "random", _("ACD: random")

    name = models.CharField(_("name"), max_length=80, validators=[validate_plain_text])
    extension = models.CharField(_("extension"), max_length=8, blank=True, validators=[validate_extension])
    strategy = models.CharField(_("ring strategy"), max_length=12, choices=Strategy.choices, default=Strategy.RING_ALL)
    agent_ring_seconds = models.PositiveSmallIntegerField(
        _("agent ring time (s)"), default=20, validators=[MinValueValidator(5), MaxValueValidator(300)]
    )
    retry_seconds = models.PositiveSmallIntegerField(
        _("pause before ringing again (s)"), default=3, validators=[MaxValueValidator(60)]
    )
    wrapup_seconds = models.PositiveSmallIntegerField(
        _("wrap-up time (s)"), default=10, validators=[MaxValueValidator(600)],
        help_text=_("After a call the agent gets no new call for this long (efterbearbetningstid)."),
    )
    max_wait_seconds = models.PositiveIntegerField(
        _("maximum wait (s)"), default=300, validators=[MaxValueValidator(7200)],
        help_text=_("0 means wait for ever."),
    )
    max_callers = models.PositiveSmallIntegerField(_("maximum callers waiting"), default=0, help_text=_("0 means no limit."))
    announce_position = models.BooleanField(_("announce position"), default=True)
    announce_wait_time = models.BooleanField(_("announce estimated wait"), default=True)
    announce_every_seconds = models.PositiveSmallIntegerField(
        _("repeat announcements every (s)"), default=60, validators=[MaxValueValidator(600)]
    )
    periodic_prompt = models.ForeignKey(
        "pbx.Prompt", on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("repeated message"),
    )
    periodic_prompt_seconds = models.PositiveSmallIntegerField(
        _("repeat message every (s)"), default=45, validators=[MaxValueValidator(600)]
    )
    music_on_hold = models.CharField(_("music on hold class"), max_length=40, default="default", validators=[validate_plain_text])
    overflow_destination = models.ForeignKey(
        "pbx.Destination", on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("after maximum wait, go to"),
    )
    no_agents_destination = models.ForeignKey(
        "pbx.Destination", on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("when no agent is logged in, go to"),
    )
    callback_enabled = models.BooleanField(
        _("offer callback"), default=False,
        help_text=_("Callers may press a key to be called back and keep their place in the queue."),
    )
    # The queue's contacts, told once when the last agent logs out while callers can still come.
    notify_last_agent_logout = models.EmailField(
        _("notify when the last agent logs out"), blank=True,
        help_text=_("E-mailed when the last logged-in agent logs out while the queue is open."),
    )
    notify_last_agent_logout_sms = models.CharField(
        _("notify by SMS when the last agent logs out"), max_length=16, blank=True, validators=[validate_e164],
        help_text=_("Texted to this mobile number at the same moment."),
    )

    # The statistics' thresholds (docs/statistics.md): a call answered within service_level_seconds
    # counts towards the service level (also written to queues.conf as servicelevel, so app_queue's own
    # figure uses the same boundary); a caller who hangs up within short_abandon_seconds is not "missed".
    service_level_seconds = models.PositiveSmallIntegerField(
        _("service level threshold (seconds)"), default=20,
        help_text=_("A call answered within this many seconds counts as answered in time."),
    )
    short_abandon_seconds = models.PositiveSmallIntegerField(
        _("short abandon threshold (seconds)"), default=5,
        help_text=_("A caller who hangs up within this many seconds is not counted as a missed call."),
    )

    tenant_references = ("periodic_prompt", "overflow_destination", "no_agents_destination")

    class Meta:
        verbose_name = _("queue")
        verbose_name_plural = _("queues")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint("tenant", Lower("name"), name="queue_name_per_tenant"),
            models.UniqueConstraint(
                fields=["tenant", "extension"], condition=~models.Q(extension=""), name="queue_extension_per_tenant",
                violation_error_message=_("This extension is already taken in the company."),
            ),
        ]

    def __str__(self) -> str:
        return self.name


class QueueAgent(TenantOwned):
    """A person who answers a queue; ``logged_in``/``paused`` are the state AstDB is rebuilt from."""

    queue = models.ForeignKey(Queue, on_delete=models.CASCADE, related_name="agents", verbose_name=_("queue"))
    user = models.ForeignKey("pbx.User", on_delete=models.CASCADE, related_name="queue_memberships", verbose_name=_("user"))
    priority = models.PositiveSmallIntegerField(
        _("priority"), default=0, validators=[MaxValueValidator(99)],
        help_text=_("Lower rings first (Asterisk penalty)."),
    )
    logged_in = models.BooleanField(_("logged in"), default=False)
    paused = models.BooleanField(_("paused"), default=False)
    pause_reason = models.CharField(_("pause reason"), max_length=80, blank=True, validators=[validate_plain_text])

    tenant_references = ("queue", "user")
    tenant_parent = "queue"

    class Meta:
        verbose_name = _("queue agent")
        verbose_name_plural = _("queue agents")
        ordering = ["queue", "priority", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["queue", "user"], name="agent_once_per_queue",
                violation_error_message=_("This person is already an agent of the queue."),
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.queue}"

"""Call recording ("Samtalsinspelning Plus"): who is recorded, and the recordings themselves.

The policy rows are what a company's super user sets ("Regelverk / Policyregler"); the dialplan and AstDB
are generated from them, so Asterisk decides at answer time (docs/recording.md). A ``Recording`` row is
written by the event bridge when Asterisk starts MixMonitor and closed when it stops; the worker turns its
raw files into the stored form.

The licence count and the retention are the company's own fields (``Tenant.max_recording_channels``,
``Tenant.recording_retention_days``).
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from pbx.models import TenantOwned
from pbx.validators import validate_e164, validate_plain_text


class RecordingSettings(TenantOwned):
    """The company's switches for the service (one row per company)."""

    enabled = models.BooleanField(
        _("call recording service"), default=False,
        help_text=_("Off: nothing is recorded automatically."),
    )
    kill_switch = models.BooleanField(
        _("stop all automatic recording now"), default=False,
        help_text=_("Turns every automatic recording off at once (for the evening, say) without touching the "
                    "rules. Recordings started by hand still work."),
    )
    kill_switch_changed_at = models.DateTimeField(_("stop switch changed"), null=True, blank=True, editable=False)
    announcement = models.ForeignKey(
        "pbx.Prompt", on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("\"this call is recorded\" message"),
        help_text=_("Played when a recording starts: to the caller before a queue that always records; to both "
                    "parties when a direct or forwarded call that will be recorded is answered (to the caller only "
                    "once per call); otherwise to the person, or to the customer of an outbound call. Empty: no "
                    "message."),
    )

    tenant_references = ("announcement",)

    class Meta:
        verbose_name = _("recording settings")
        verbose_name_plural = _("recording settings")
        constraints = [models.UniqueConstraint(fields=["tenant"], name="recordingsettings_one_per_tenant")]

    def __str__(self) -> str:
        return str(_("Recording settings"))


class QueuePolicy(TenantOwned):
    """Group policy for inbound calls ("Gruppolicy för inkommande samtal") of one queue."""

    class Policy(models.TextChoices):
        NOT_APPLICABLE = "na", _("Not applicable")
        ALWAYS = "always", _("Always record")
        NEVER = "never", _("Never record")

    queue = models.ForeignKey("pbx.Queue", on_delete=models.CASCADE, related_name="+", verbose_name=_("queue"))
    policy = models.CharField(_("policy"), max_length=8, choices=Policy.choices, default=Policy.NOT_APPLICABLE)

    tenant_references = ("queue",)
    tenant_parent = "queue"

    class Meta:
        verbose_name = _("queue recording policy")
        verbose_name_plural = _("queue recording policies")
        constraints = [models.UniqueConstraint(fields=["queue"], name="queuepolicy_one_per_queue")]

    def __str__(self) -> str:
        return f"{self.queue}: {self.get_policy_display()}"


class DepartmentRule(TenantOwned):
    """Department policy ("Avdelningspolicy"): which kinds of calls of the department's people are recorded,
    whether the call reaches the person directly or through a queue."""

    department = models.ForeignKey(
        "pbx.Department", on_delete=models.CASCADE, related_name="+", verbose_name=_("department")
    )
    inbound_external = models.BooleanField(_("record inbound external calls"), default=False)
    outbound_external = models.BooleanField(_("record outbound external calls"), default=False)
    internal = models.BooleanField(_("record internal calls"), default=False)

    tenant_references = ("department",)
    tenant_parent = "department"

    class Meta:
        verbose_name = _("department recording rule")
        verbose_name_plural = _("department recording rules")
        constraints = [models.UniqueConstraint(fields=["department"], name="departmentrule_one_per_department")]

    def __str__(self) -> str:
        return str(self.department)


class ExcludedNumber(TenantOwned):
    """A customer number never recorded ("Exkludera kundnummer: Spela aldrig in")."""

    e164 = models.CharField(_("number"), max_length=16, validators=[validate_e164])
    note = models.CharField(_("note"), max_length=120, blank=True, validators=[validate_plain_text])

    class Meta:
        verbose_name = _("excluded customer number")
        verbose_name_plural = _("excluded customer numbers")
        ordering = ["e164"]
        constraints = [models.UniqueConstraint(fields=["tenant", "e164"], name="excludednumber_once_per_tenant")]

    def __str__(self) -> str:
        return self.e164

    def clean(self) -> None:
        from .astdb import MAX_EXCLUDED

        super().clean()
        others = ExcludedNumber.objects.filter(tenant_id=self.tenant_id).exclude(pk=self.pk)
        if self.tenant_id is not None and others.count() >= MAX_EXCLUDED:
            raise ValidationError(_("A company can exclude at most %(max)d numbers."), params={"max": MAX_EXCLUDED},
                                  code="too_many")


class ApprovedNumber(TenantOwned):
    """An approved direct number ("Godkänt direktnummer"): every call to or from it is recorded."""

    number = models.ForeignKey("pbx.Number", on_delete=models.CASCADE, related_name="+", verbose_name=_("number"))
    active = models.BooleanField(_("record continuously"), default=True)

    tenant_references = ("number",)
    tenant_parent = "number"

    class Meta:
        verbose_name = _("approved direct number")
        verbose_name_plural = _("approved direct numbers")
        constraints = [models.UniqueConstraint(fields=["number"], name="approvednumber_once")]

    def __str__(self) -> str:
        return str(self.number)


class RecordedPerson(TenantOwned):
    """A person's "Aktivera samtalsinspelning": without it, no automatic recording of their calls."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", verbose_name=_("user")
    )
    enabled = models.BooleanField(_("activate call recording"), default=True)

    tenant_references = ("user",)
    tenant_parent = "user"

    class Meta:
        verbose_name = _("recorded person")
        verbose_name_plural = _("recorded people")
        constraints = [models.UniqueConstraint(fields=["user"], name="recordedperson_once_per_user")]

    def __str__(self) -> str:
        return str(self.user)


class LicenceRefusal(TenantOwned):
    """A recording or listen-in Asterisk did not start because every licence of the company was in use."""

    class Kind(models.TextChoices):
        AUTOMATIC = "automatic", _("Automatic recording")
        ON_DEMAND = "on_demand", _("Recording on demand")
        LISTEN_IN = "listen_in", _("Listen-in")

    node = models.ForeignKey("pbx.AsteriskNode", on_delete=models.PROTECT, related_name="+", verbose_name=_("node"))
    at = models.DateTimeField(_("when"))
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    linkedid = models.CharField(_("call id"), max_length=64, blank=True)
    channel = models.CharField(_("channel"), max_length=120, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("person"),
    )
    in_use = models.PositiveIntegerField(_("licences in use"), default=0)
    limit = models.PositiveIntegerField(_("licences"), default=0)

    tenant_references = ("user",)

    class Meta:
        verbose_name = _("licence refusal")
        verbose_name_plural = _("licence refusals")
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["tenant", "-at"])]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.get_kind_display()}"


class Recording(TenantOwned):
    """One MixMonitor of one person's leg of a call, from Asterisk's raw files to the stored recording."""

    class Status(models.TextChoices):
        RECORDING = "recording", _("Recording")
        RAW = "raw", _("Waiting for processing")
        PROCESSING = "processing", _("Processing")
        STORED = "stored", _("Stored")
        FAILED = "failed", _("Failed")

    class Reason(models.TextChoices):
        QUEUE = "queue", _("Queue policy")
        DEPARTMENT = "department", _("Department policy")
        APPROVED_NUMBER = "approved_number", _("Approved direct number")
        ON_DEMAND = "on_demand", _("Recorded on demand")

    class Direction(models.TextChoices):
        IN = "in", _("Incoming")
        OUT = "out", _("Outgoing")
        INTERNAL = "internal", _("Internal")

    class Flag(models.TextChoices):
        GREEN = "green", _("Green")
        BLUE = "blue", _("Blue")
        RED = "red", _("Red")

    node = models.ForeignKey("pbx.AsteriskNode", on_delete=models.PROTECT, related_name="+", verbose_name=_("node"))
    # What Asterisk called it: the call (Linkedid), the recorded channel (Uniqueid) and this MixMonitor's own
    # key on that channel (a channel may be recorded twice: stopped and started again on demand).
    linkedid = models.CharField(_("call id"), max_length=64, db_index=True)
    uniqueid = models.CharField(_("recorded channel"), max_length=64)
    key = models.CharField(_("recording key"), max_length=160)
    call = models.ForeignKey(
        "stats.CallLog", on_delete=models.SET_NULL, null=True, blank=True, related_name="recordings",
        verbose_name=_("call"),
    )
    # Paths exactly as Asterisk wrote them: the person's side (what their phone sent) and the other
    # party's side (what their phone heard), two mono files written frame by frame in step.
    raw_person_path = models.CharField(_("raw file: person"), max_length=255, blank=True)
    raw_other_path = models.CharField(_("raw file: other party"), max_length=255, blank=True)
    stored_path = models.CharField(_("stored file"), max_length=255, blank=True)
    started_at = models.DateTimeField(_("started"))
    ended_at = models.DateTimeField(_("ended"), null=True, blank=True)
    duration_s = models.FloatField(_("duration (s)"), null=True, blank=True)
    # Seconds from started_at: [[from, to], ...]; "to" is null while a pause is still going on. Filled from
    # Asterisk's MixMonitorMute events (recording.capture.on_recording_paused).
    paused = models.JSONField(_("paused intervals"), default=list, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("person"),
    )
    extension = models.CharField(_("extension"), max_length=8, blank=True)
    other_number = models.CharField(_("other party"), max_length=40, blank=True)
    other_name = models.CharField(_("other party's name"), max_length=80, blank=True)
    dialled_number = models.CharField(_("dialled number (DDI)"), max_length=40, blank=True)
    direction = models.CharField(_("direction"), max_length=8, choices=Direction.choices)
    queue = models.ForeignKey(
        "pbx.Queue", on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("queue")
    )
    # The person's place when the call was recorded (they may move later; the recording stays where it was).
    department = models.ForeignKey(
        "pbx.Department", on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("department"),
    )
    office = models.ForeignKey(
        "pbx.Office", on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("office")
    )
    cost_centre = models.ForeignKey(
        "pbx.CostCentre", on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("cost centre"),
    )
    reason = models.CharField(_("recorded because"), max_length=16, choices=Reason.choices)
    # Recording on demand: who started it (*9 on their phone, the console, the API); none for automatic ones.
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("started by"),
    )
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.RECORDING)
    error = models.CharField(_("error"), max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # The stored form and what the worker measured (recording.tasks.process_recording).
    stored_size = models.PositiveBigIntegerField(_("stored size (bytes)"), default=0)
    attempts = models.PositiveSmallIntegerField(_("processing attempts"), default=0)
    peaks = models.JSONField(_("waveform"), default=dict, blank=True)
    talk_person_s = models.FloatField(_("person's talk (s)"), null=True, blank=True)
    talk_other_s = models.FloatField(_("other party's talk (s)"), null=True, blank=True)
    overtalk_s = models.FloatField(_("overtalk (s)"), null=True, blank=True)
    longest_silence_s = models.FloatField(_("longest silence (s)"), null=True, blank=True)
    other_share = models.PositiveSmallIntegerField(_("other party's share of the talk (%)"), null=True, blank=True)
    # The evaluation ("Samtalsanteckningar"), saved by whoever may see the recording.
    tag = models.CharField(_("call tag"), max_length=60, blank=True, validators=[validate_plain_text])
    flag = models.CharField(_("call flag"), max_length=5, choices=Flag.choices, blank=True)
    call_result = models.ForeignKey(
        "recording.EvaluationChoice", on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("call result"),
    )
    customer_response = models.ForeignKey(
        "recording.EvaluationChoice", on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("customer response"),
    )
    notes = models.TextField(_("notes"), blank=True, max_length=4000)
    score = models.PositiveSmallIntegerField(_("score (%)"), null=True, blank=True)
    # Deleted from the web: hidden at once, file and row purged by the next hourly job.
    deleted_at = models.DateTimeField(_("deleted"), null=True, blank=True)

    tenant_references = ("call", "user", "queue", "department", "office", "cost_centre", "call_result",
                         "customer_response", "requested_by")

    class Meta:
        verbose_name = _("recording")
        verbose_name_plural = _("recordings")
        ordering = ["-started_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["node", "key"], name="recording_once_per_node_key")]
        indexes = [
            models.Index(fields=["tenant", "-started_at"]),
            # The recording web's list: a role's slice of a period, newest first (bench/bench_recording.py).
            models.Index(fields=["tenant", "user", "-started_at"], name="recording_user_started"),
            models.Index(fields=["tenant", "department", "-started_at"], name="recording_dept_started"),
            models.Index(fields=["tenant", "flag", "-started_at"], name="recording_flag_started"),
        ]

    def __str__(self) -> str:
        return f"{self.started_at:%Y-%m-%d %H:%M} {self.extension} {self.other_number}"


from .review import EvaluationAnswer, EvaluationChoice, EvaluationQuestion, ShareLink  # noqa: E402

__all__ = [
    "ApprovedNumber", "DepartmentRule", "EvaluationAnswer", "EvaluationChoice", "EvaluationQuestion",
    "ExcludedNumber", "LicenceRefusal", "QueuePolicy", "RecordedPerson", "Recording", "RecordingSettings",
    "ShareLink",
]

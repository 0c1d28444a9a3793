"""E&S incidents reported by POs, their notification to the Bank and the corrective actions."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from core.models import District, PartnerOrganization
from core.validators import past_event
from enterprises.models import CommonServiceFacility, Enterprise
from safeguards.models.screening import SafeguardsQuerySet
from subprojects.models import SubProject, WorkflowObject


class IncidentKind(models.TextChoices):
    ACCIDENT = "accident", _("accident or injury")
    POLLUTION = "pollution", _("pollution event")
    COMMUNITY = "community", _("community health, safety or conflict")
    LABOUR = "labour", _("labour or working conditions")
    OTHER = "other", _("other")


class Severity(models.TextChoices):
    """The Bank's Environmental and Social Incident Response Toolkit classes."""

    INDICATIVE = "indicative", _("indicative")
    SERIOUS = "serious", _("serious")
    SEVERE = "severe", _("severe")


# Serious and severe incidents are notified to the Bank within 48 hours (SPEC 8).
NOTIFIABLE = (Severity.SERIOUS, Severity.SEVERE)


class IncidentStatus(models.TextChoices):
    REPORTED = "reported", _("reported")
    UNDER_FOLLOW_UP = "under_follow_up", _("under follow-up")
    CLOSED = "closed", _("closed")


class IncidentQuerySet(SafeguardsQuerySet):
    def notifiable(self) -> IncidentQuerySet:
        return self.filter(severity__in=NOTIFIABLE)

    def bank_notification_overdue(self, now=None) -> IncidentQuerySet:
        from django.utils import timezone

        return self.notifiable().filter(bank_notified_at__isnull=True, bank_due_at__lt=now or timezone.now())


class Incident(WorkflowObject):
    REFERENCE_PREFIX = "INC"

    partner_organization = models.ForeignKey(
        PartnerOrganization, on_delete=models.PROTECT, related_name="+", verbose_name=_("PO")
    )
    sub_project = models.ForeignKey(
        SubProject,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("sub-project"),
    )
    enterprise = models.ForeignKey(
        Enterprise,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("enterprise"),
    )
    facility = models.ForeignKey(
        CommonServiceFacility,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("common service facility"),
    )
    kind = models.CharField(_("kind"), max_length=12, choices=IncidentKind.choices)
    severity = models.CharField(_("severity"), max_length=12, choices=Severity.choices)
    title = models.CharField(_("what happened, in a line"), max_length=200)
    description = models.TextField(_("description"))
    occurred_on = models.DateField(_("occurred on"), validators=[past_event(_("The incident date"))])
    learned_on = models.DateField(
        _("the PO learned of it on"), validators=[past_event(_("The date the PO learned of it"))]
    )
    district = models.ForeignKey(
        District,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("district"),
    )
    location = models.CharField(_("place"), max_length=250, blank=True)
    people_injured = models.PositiveSmallIntegerField(_("people injured"), default=0)
    fatalities = models.PositiveSmallIntegerField(_("deaths"), default=0)
    immediate_actions = models.TextField(_("immediate actions taken"), blank=True)
    reported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("reported by")
    )
    reported_at = models.DateTimeField(_("reported at"))
    # Reported later than settings.INCIDENT_REPORTING_DAYS after the PO learned of it.
    reported_late = models.BooleanField(_("reported late"), default=False)
    # Serious and severe: due to the Bank 48 hours after the start of the day the project learned of it.
    bank_due_at = models.DateTimeField(_("due to the Bank by"), null=True, blank=True)
    bank_notified_at = models.DateTimeField(_("notified to the Bank at"), null=True, blank=True)
    bank_notified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    root_cause = models.TextField(
        _("root cause"), blank=True, help_text=_("Required for serious and severe incidents before closing.")
    )
    status = models.CharField(
        _("status"), max_length=20, choices=IncidentStatus.choices, default=IncidentStatus.REPORTED
    )

    history = HistoricalRecords(excluded_fields=["updated_at"])
    objects = IncidentQuerySet.as_manager()

    class Meta:
        ordering = ["-reported_at", "-pk"]
        verbose_name = _("E&S incident")
        verbose_name_plural = _("E&S incidents")
        constraints = [
            models.CheckConstraint(
                condition=Q(learned_on__gte=models.F("occurred_on")),
                name="incident_learned_after_it_happened",
                violation_error_message=_("The PO cannot have learned of the incident before it happened."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reference} · {self.title}"

    @property
    def reference(self) -> str:
        return f"{self.REFERENCE_PREFIX}-{self.pk:04d}" if self.pk else f"{self.REFERENCE_PREFIX}-new"

    def get_absolute_url(self) -> str:
        return reverse("safeguards:incident-detail", args=[self.pk])

    @property
    def is_notifiable(self) -> bool:
        return self.severity in NOTIFIABLE

    @property
    def bank_notification_overdue(self) -> bool:
        """The 48-hour flag: serious or severe, not notified to the Bank, and past its due time."""
        from django.utils import timezone

        return (
            self.is_notifiable
            and self.bank_notified_at is None
            and self.bank_due_at is not None
            and self.bank_due_at < timezone.now()
        )


class CorrectiveActionStatus(models.TextChoices):
    OPEN = "open", _("open")
    DONE = "done", _("done, awaiting PMU check")
    VERIFIED = "verified", _("verified")


class CorrectiveActionQuerySet(models.QuerySet):
    def visible_to(self, user) -> CorrectiveActionQuerySet:
        """The actions of the incidents this user may see."""
        return self.filter(incident__in=Incident.objects.visible_to(user).values("pk"))

    def overdue(self, today=None) -> CorrectiveActionQuerySet:
        """Past their due date and not yet verified by the PMU."""
        from django.utils import timezone

        return self.exclude(status=CorrectiveActionStatus.VERIFIED).filter(
            due_on__lt=today or timezone.localdate()
        )


class CorrectiveAction(WorkflowObject):
    """One action of an incident's corrective action plan, tracked to closure: the PO reports it done
    with evidence, the PMU verifies it (or sends it back); the incident closes when all are verified."""

    incident = models.ForeignKey(
        Incident, on_delete=models.CASCADE, related_name="corrective_actions", verbose_name=_("incident")
    )
    description = models.TextField(_("action"))
    responsible = models.CharField(_("responsible party"), max_length=200)
    due_on = models.DateField(_("due on"))
    evidence = models.TextField(_("evidence"), blank=True)
    status = models.CharField(
        _("status"),
        max_length=12,
        choices=CorrectiveActionStatus.choices,
        default=CorrectiveActionStatus.OPEN,
    )
    position = models.PositiveSmallIntegerField(_("order"), default=0, validators=[MinValueValidator(0)])

    history = HistoricalRecords(excluded_fields=["updated_at"])
    objects = CorrectiveActionQuerySet.as_manager()

    class Meta:
        ordering = ["incident", "position", "pk"]
        verbose_name = _("corrective action")
        verbose_name_plural = _("corrective actions")

    def __str__(self) -> str:
        return self.description[:80]

    @property
    def partner_organization_id(self) -> int:
        return self.incident.partner_organization_id

    @property
    def reference(self) -> str:
        return f"CA-{self.pk:04d}" if self.pk else "CA-new"

    @property
    def is_overdue(self) -> bool:
        from django.utils import timezone

        return self.status != CorrectiveActionStatus.VERIFIED and self.due_on < timezone.localdate()

    def get_absolute_url(self) -> str:
        return self.incident.get_absolute_url()

"""Results framework (SPEC 6): indicators with targets and yearly milestones, dated snapshots of their
values with breakdowns, and the runs that compute them.

Dashboards read snapshots only; monitoring.aggregation writes them.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from core.reference_names import translated_name
from core.validators import past_event


class Unit(models.TextChoices):
    ENTERPRISES = "enterprises", _("MEs")
    FACILITIES = "facilities", _("facilities")
    USD = "usd", _("USD")
    PERCENT = "percent", _("%")
    JOBS = "jobs", _("jobs")


class Level(models.TextChoices):
    """Where an indicator sits in the World Bank results framework."""

    PDO = "pdo", _("Development objective (PDO)")
    INTERMEDIATE = "intermediate", _("Intermediate results")
    TRACKED = "tracked", _("Also tracked")


class Frequency(models.TextChoices):
    MONTHLY = "monthly", _("monthly")
    QUARTERLY = "quarterly", _("quarterly")
    SEMI_ANNUAL = "semi_annual", _("every six months")
    ANNUAL = "annual", _("yearly")


class Indicator(models.Model):
    """One indicator of the results framework. Its definition is code (monitoring.indicators);
    its name, target and milestones are data the PMU maintains."""

    code = models.CharField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=200)
    definition = models.TextField(_("what is counted"))
    unit = models.CharField(_("unit"), max_length=20, choices=Unit.choices)
    target = models.DecimalField(
        _("end-of-project target"),
        max_digits=16,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
    )
    parent = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="parts",
        verbose_name=_("part of"),
        help_text=_("E.g. revenue-generating CSFs are part of all CSFs."),
    )
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    # The results framework's columns (ISR table), maintained by the PMU.
    level = models.CharField(_("level"), max_length=20, choices=Level.choices, default=Level.TRACKED)
    baseline_value = models.DecimalField(
        _("baseline"),
        max_digits=16,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
    )
    baseline_date = models.DateField(
        _("baseline date"), null=True, blank=True, validators=[past_event(_("The baseline date"))]
    )
    data_source = models.CharField(_("data source"), max_length=250, blank=True)
    frequency = models.CharField(
        _("frequency"), max_length=20, choices=Frequency.choices, default=Frequency.QUARTERLY
    )
    responsible_unit = models.CharField(_("responsible"), max_length=150, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True, db_index=True)
    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["position", "code"]
        verbose_name = _("indicator")
        verbose_name_plural = _("indicators")

    def __str__(self) -> str:
        return translated_name(self.name)

    def clean(self) -> None:
        super().clean()
        if (self.baseline_value is None) != (self.baseline_date is None):
            raise ValidationError(
                {"baseline_date": _("Give the baseline value and its date together, or neither.")}
            )


class Milestone(models.Model):
    """The value an indicator should reach by the end of a year."""

    indicator = models.ForeignKey(Indicator, on_delete=models.CASCADE, related_name="milestones")
    year = models.PositiveSmallIntegerField(_("year"))
    target = models.DecimalField(
        _("target by the end of the year"), max_digits=16, decimal_places=2, validators=[MinValueValidator(0)]
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["indicator", "year"]
        verbose_name = _("yearly milestone")
        verbose_name_plural = _("yearly milestones")
        constraints = [
            models.UniqueConstraint(
                fields=["indicator", "year"],
                name="one_milestone_per_indicator_and_year",
                violation_error_message=_("This indicator already has a milestone for that year."),
            )
        ]

    def __str__(self) -> str:
        return f"{self.indicator.code} {self.year}: {self.target}"


class RunStatus(models.TextChoices):
    QUEUED = "queued", _("queued")
    RUNNING = "running", _("running")
    SUCCEEDED = "succeeded", _("succeeded")
    FAILED = "failed", _("failed")
    SKIPPED = "skipped", _("skipped: another run was in progress")


class RunTrigger(models.TextChoices):
    SCHEDULE = "schedule", _("nightly schedule")
    BUTTON = "button", _("PMU request")
    API = "api", _("API request")
    COMMAND = "command", _("management command")
    BACKFILL = "backfill", _("backfill")
    ON_DEMAND = "on_demand", _("figures asked for a date without a snapshot")
    REPORT = "report", _("results report")


class AggregationRun(models.Model):
    as_of = models.DateField(_("as of"))
    status = models.CharField(_("status"), max_length=20, choices=RunStatus.choices, default=RunStatus.QUEUED)
    trigger = models.CharField(_("trigger"), max_length=20, choices=RunTrigger.choices)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    requested_at = models.DateTimeField(_("requested at"), default=timezone.now)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    # The worker's last sign of life while the run is running (core.jobs: the sweeper).
    heartbeat_at = models.DateTimeField(_("last sign of life"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    rows_written = models.PositiveIntegerField(_("values written"), default=0)
    error = models.TextField(_("error"), blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True, db_index=True)

    class Meta:
        ordering = ["-requested_at", "-pk"]
        verbose_name = _("aggregation run")
        verbose_name_plural = _("aggregation runs")

    def __str__(self) -> str:
        return f"{self.as_of} · {self.get_status_display()}"

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None


class AggregationLock(models.Model):
    """A single row naming the run that computes now. Without PostgreSQL it is the lock itself: a run
    takes it with a compare-and-set update, so two runs never overlap, and the sweeper frees it when
    it fails a run whose worker died. On PostgreSQL the lock is an advisory lock of the run's own
    database connection (core.jobs), and this row only says which run holds it."""

    name = models.CharField(max_length=40, unique=True)
    held_by = models.ForeignKey(
        AggregationRun, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    held_until = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.name


class Dimension(models.TextChoices):
    TOTAL = "total", _("total")
    BUSINESS_AREA = "business_area", _("business area")
    SECTOR = "sector", _("sector")
    SUB_SECTOR = "sub_sector", _("sub-sector")
    DIVISION = "division", _("division")
    DISTRICT = "district", _("district")
    PARTNER_ORGANIZATION = "po", _("Partner Organization")
    GENDER = "gender", _("owner gender")
    CLIMATE = "climate", _("climate-vulnerable area")


class IndicatorValueQuerySet(models.QuerySet):
    def for_dashboard(self, *, as_of, po_id: int | None = None) -> IndicatorValueQuerySet:
        """Every value of one snapshot for one scope (the programme, or one PO)."""
        return self.filter(as_of=as_of, scope_po_id=po_id)

    def trend(self, *, po_code: str | None = None) -> IndicatorValueQuerySet:
        """Totals of every snapshot: for the programme, or for one PO (its row of the PO breakdown)."""
        if po_code is None:
            return self.filter(scope_po__isnull=True, dimension=Dimension.TOTAL)
        return self.filter(scope_po__isnull=True, dimension=Dimension.PARTNER_ORGANIZATION, key=po_code)


class IndicatorValue(models.Model):
    """One figure of a snapshot: an indicator's value as of a date, in total or for one group of a
    breakdown, for the whole programme or within one PO (scope_po)."""

    # The rows are derived: one INSERT ... SELECT writes a snapshot's 27,000 values (at 80,000 MEs) from
    # ids it has just joined. Database constraints on the three links would re-check every row at
    # commit (0.4 s of an incremental run); Django still cascades deletes of what they point at.
    as_of = models.DateField(_("as of"), db_index=True)
    indicator = models.ForeignKey(
        Indicator, on_delete=models.CASCADE, related_name="values", db_constraint=False
    )
    scope_po = models.ForeignKey(
        "core.PartnerOrganization",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
        db_index=False,  # value_scope_date_dimension starts with it
    )
    dimension = models.CharField(_("breakdown"), max_length=20, choices=Dimension.choices)
    # The group's natural key: a sector or PO code, a P-code, a gender, "true"/"false" for climate.
    key = models.CharField(_("group"), max_length=40, blank=True)
    label = models.CharField(_("label"), max_length=200, blank=True)
    value = models.DecimalField(_("value"), max_digits=18, decimal_places=4)
    # For shares: the counts behind the percentage.
    numerator = models.DecimalField(max_digits=18, decimal_places=4, null=True, blank=True)
    denominator = models.DecimalField(max_digits=18, decimal_places=4, null=True, blank=True)
    # Not indexed: a rerun updates the figures that moved in place, naming its run, and a row whose
    # indexed columns stay as they were is rewritten on its own page without touching any index
    # (PostgreSQL's HOT update; the table keeps room on its pages for it, migration 0015). Runs are
    # never deleted by the portal; deleting one by hand reads the values to unlink them.
    run = models.ForeignKey(
        AggregationRun,
        on_delete=models.SET_NULL,
        null=True,
        related_name="values",
        db_constraint=False,
        db_index=False,
    )

    objects = IndicatorValueQuerySet.as_manager()

    class Meta:
        ordering = ["as_of", "indicator", "dimension", "label"]
        verbose_name = _("indicator value")
        verbose_name_plural = _("indicator values")
        indexes = [models.Index(fields=["scope_po", "as_of", "dimension"], name="value_scope_date_dimension")]

    def __str__(self) -> str:
        return f"{self.indicator.code} {self.as_of} {self.dimension}:{self.key} = {self.value}"


class Snapshot(models.Model):
    """The dates for which a complete set of values exists, with when they were computed."""

    as_of = models.DateField(_("as of"), unique=True)
    computed_at = models.DateTimeField(_("computed at"))
    run = models.ForeignKey(AggregationRun, on_delete=models.SET_NULL, null=True, related_name="+")

    class Meta:
        ordering = ["-as_of"]
        get_latest_by = "as_of"
        verbose_name = _("snapshot")
        verbose_name_plural = _("snapshots")

    def __str__(self) -> str:
        return str(self.as_of)


class OutcomeValue(models.Model):
    """Environmental outcomes of a snapshot (monitoring.outcomes): for one KPI (or the emissions
    avoided, `quantity == "CO2E"`), the MEs with a baseline and a later reading, their baseline and
    latest monthly values summed, and the change, in total or for one sector, PO or district, for the
    programme or within one PO."""

    as_of = models.DateField(_("as of"), db_index=True)
    quantity = models.CharField(_("quantity"), max_length=30)
    unit = models.CharField(_("unit"), max_length=30)
    scope_po = models.ForeignKey(
        "core.PartnerOrganization", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    dimension = models.CharField(_("breakdown"), max_length=20, choices=Dimension.choices)
    key = models.CharField(_("group"), max_length=40, blank=True)
    label = models.CharField(_("label"), max_length=200, blank=True)
    mes = models.PositiveIntegerField(_("MEs with a baseline and a later reading"))
    mes_improved = models.PositiveIntegerField(_("MEs improved"))
    # Sums of monthly values; null where the quantity does not add up across MEs (a concentration).
    baseline_total = models.DecimalField(max_digits=20, decimal_places=3, null=True, blank=True)
    latest_total = models.DecimalField(max_digits=20, decimal_places=3, null=True, blank=True)
    # Positive is better: a saving (lower-is-better KPIs) or a gain (higher-is-better ones).
    improvement = models.DecimalField(max_digits=20, decimal_places=3, null=True, blank=True)
    run = models.ForeignKey(AggregationRun, on_delete=models.SET_NULL, null=True, related_name="+")

    class Meta:
        ordering = ["as_of", "quantity", "dimension", "label"]
        verbose_name = _("environmental outcome")
        verbose_name_plural = _("environmental outcomes")
        indexes = [
            models.Index(fields=["scope_po", "as_of", "dimension"], name="outcome_scope_date_dimension")
        ]

    def __str__(self) -> str:
        return f"{self.quantity} {self.as_of} {self.dimension}:{self.key}"


class ReportKind(models.TextChoices):
    ISR = "isr", _("ISR results table")
    PO = "po", _("PO results report")


class ReportFormat(models.TextChoices):
    XLSX = "xlsx", _("Excel (.xlsx)")
    PDF = "pdf", _("PDF")


class ReportJob(models.Model):
    """A results report generated in the background (monitoring.reports), read from snapshots."""

    kind = models.CharField(_("report"), max_length=10, choices=ReportKind.choices)
    file_format = models.CharField(_("format"), max_length=4, choices=ReportFormat.choices)
    as_of = models.DateField(_("reporting date"))
    previous_as_of = models.DateField(_("previous reporting date"), null=True, blank=True)
    partner_organization = models.ForeignKey(
        "core.PartnerOrganization",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("PO"),
    )
    # Indicator code → the comment written for this report (the ISR's "comment" column).
    comments = models.JSONField(_("comments"), default=dict, blank=True)
    status = models.CharField(_("status"), max_length=20, choices=RunStatus.choices, default=RunStatus.QUEUED)
    file = models.FileField(_("file"), upload_to="reports/%Y/%m/", max_length=200, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    requested_at = models.DateTimeField(_("requested at"), default=timezone.now)
    # The worker's last sign of life while the report is being made (core.jobs: the sweeper).
    heartbeat_at = models.DateTimeField(_("last sign of life"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    error = models.TextField(_("error"), blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True, db_index=True)

    class Meta:
        ordering = ["-requested_at", "-pk"]
        verbose_name = _("results report")
        verbose_name_plural = _("results reports")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.as_of} ({self.get_file_format_display()})"


class EnterpriseFacts(models.Model):
    """What each counted ME has done, as the first date it qualified for each ME indicator
    (monitoring.facts): an ME counts "as of D" when its date is on or before D. Kept by
    monitoring.facts from the rows that changed (FactChange) before each aggregation run, or
    recounted from scratch (`aggregate_indicators --full`); only MEs with at least one date have a row.
    Read by the aggregation only; never shown as such."""

    enterprise = models.OneToOneField(
        "enterprises.Enterprise",
        on_delete=models.DO_NOTHING,  # monitoring.facts removes the facts of an ME deleted
        db_constraint=False,  # ...or raw-deleted (the scale generator): no constraint to trip over
        primary_key=True,
        related_name="facts",
    )
    financed_on = models.DateField(null=True)  # first project financing (from the programme start)
    climate_trained_on = models.DateField(null=True)  # first climate session passed (post > pre)
    recp_verified_two_on = models.DateField(null=True)  # second distinct practice verified independently
    recp_reported_two_on = models.DateField(null=True)  # second distinct practice reported adopted
    kpi_tracking_on = models.DateField(null=True)  # first reading later than a baseline of its KPI
    profile_validated_on = models.DateField(null=True)  # first validated RECP profile

    class Meta:
        verbose_name = _("ME facts")
        verbose_name_plural = _("ME facts")

    def __str__(self) -> str:
        return str(self.enterprise_id)


class OutcomePair(models.Model):
    """A baseline reading of an ME and KPI with the latest reading of that KPI, when it is later: the
    pair the environmental outcomes compare (monitoring.outcomes), as of any date on or after the
    latest reading's month. Kept by monitoring.facts with the ME facts, from the same changes; read by
    the aggregation only."""

    id = models.BigAutoField(primary_key=True)
    enterprise = models.ForeignKey(
        "enterprises.Enterprise",
        on_delete=models.DO_NOTHING,  # monitoring.facts removes the pairs of readings deleted
        db_constraint=False,
        db_index=False,  # the unique (enterprise, kpi) index serves
        related_name="+",
    )
    kpi = models.ForeignKey(
        "enterprises.Kpi", on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    baseline_period = models.DateField()
    baseline_value = models.DecimalField(max_digits=14, decimal_places=3)
    latest_period = models.DateField()
    latest_value = models.DecimalField(max_digits=14, decimal_places=3)

    class Meta:
        verbose_name = _("outcome pair")
        verbose_name_plural = _("outcome pairs")
        constraints = [models.UniqueConstraint(fields=["enterprise", "kpi"], name="one_outcome_pair_per_kpi")]

    def __str__(self) -> str:
        return f"{self.enterprise_id} {self.kpi_id}"


class FactChange(models.Model):
    """An enterprise record whose facts may have changed: written by database triggers on every
    insert, update and delete of the rows the facts are read from (monitoring.facts), whatever wrote
    them (a form, the API, an import's COPY, a raw statement), and consumed by the next catch-up."""

    # The facts a change may move, by the table it was made in (monitoring.facts.FACTS_OF_TABLE): a
    # sum of these bits. The catch-up recomputes only those.
    FINANCED, CLIMATE, PRACTICES, READINGS, PROFILE = 1, 2, 4, 8, 16
    ALL_FACTS = FINANCED | CLIMATE | PRACTICES | READINGS | PROFILE

    id = models.BigAutoField(primary_key=True)
    enterprise_id = models.BigIntegerField()
    facts = models.PositiveSmallIntegerField(_("facts it may move"), default=ALL_FACTS)

    class Meta:
        verbose_name = _("ME facts change")
        verbose_name_plural = _("ME facts changes")

    def __str__(self) -> str:
        return str(self.enterprise_id)

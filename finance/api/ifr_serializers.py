"""API shapes of the funds received and the interim financial reports. The rules are in finance.ifr and
the lifecycle engine; serializers check the shape only."""

from __future__ import annotations

from decimal import Decimal

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from finance import ifr
from finance.models import FinancialReport, ForecastLine, FundReceipt, ReportStatus
from subprojects.api.serializers import ActionsMixin
from subprojects.models import BudgetCategory, Financier


class FundReceiptSerializer(serializers.ModelSerializer):
    recorded_by = serializers.SerializerMethodField()
    quarter = serializers.SerializerMethodField(
        help_text=_("The calendar quarter received in, e.g. 2025-Q3.")
    )
    locked = serializers.SerializerMethodField(
        help_text=_("Its quarter's current IFR is finalised or sent: it cannot change.")
    )

    class Meta:
        model = FundReceipt
        fields = [
            "id",
            "source",
            "received_on",
            "amount",
            "reference",
            "description",
            "quarter",
            "locked",
            "recorded_by",
            "recorded_at",
            "updated_at",
        ]
        read_only_fields = ["id", "quarter", "locked", "recorded_by", "recorded_at"]
        # The rules (the unique reference, dates, closed quarters) are finance.ifr's, with its messages.
        validators: list = []

    def get_recorded_by(self, obj) -> str:
        return obj.recorded_by.get_display_name()

    def get_quarter(self, obj) -> str:
        return ifr.quarter_label(ifr.quarter_end_of(obj.received_on))

    def get_locked(self, obj) -> bool:
        locked = self.context.get("locked_quarters")
        if locked is None:
            locked = self.context["locked_quarters"] = ifr.locked_quarters()
        return ifr.quarter_end_of(obj.received_on) in locked

    def create(self, validated_data):
        return ifr.record_receipt(self.context["request"].user, validated_data)

    def update(self, instance, validated_data):
        return ifr.update_receipt(instance, self.context["request"].user, validated_data)


class FinancialReportSerializer(ActionsMixin, serializers.ModelSerializer):
    api_prefix = "financial-reports"
    reference = serializers.CharField(read_only=True)
    quarter = serializers.SerializerMethodField(help_text=_("E.g. 2025-Q3."))
    superseded_by = serializers.SerializerMethodField(
        help_text=_("The version that corrects this one, if any.")
    )
    is_current = serializers.SerializerMethodField(help_text=_("No correction supersedes this version."))
    due_on = serializers.SerializerMethodField(help_text=_("Due to the Bank by this day."))
    overdue = serializers.SerializerMethodField(
        help_text=_("Past its due day and no version of the quarter's report was sent.")
    )
    prepared_by = serializers.SerializerMethodField()
    xlsx_url = serializers.SerializerMethodField()
    pdf_url = serializers.SerializerMethodField()

    class Meta:
        model = FinancialReport
        fields = [
            "id",
            "reference",
            "quarter_end",
            "quarter",
            "version",
            "supersedes",
            "superseded_by",
            "is_current",
            "status",
            "status_changed_at",
            "notes",
            "due_on",
            "overdue",
            "finalised_at",
            "sent_on",
            "prepared_by",
            "xlsx_url",
            "pdf_url",
            "available_actions",
            "updated_at",
        ]
        read_only_fields = fields

    def get_quarter(self, obj) -> str:
        return ifr.quarter_label(obj.quarter_end)

    def _newer(self, obj):
        try:
            return obj.superseded_by
        except FinancialReport.superseded_by.RelatedObjectDoesNotExist:
            return None

    def get_superseded_by(self, obj) -> int | None:
        newer = self._newer(obj)
        return newer.pk if newer else None

    def get_is_current(self, obj) -> bool:
        return self._newer(obj) is None

    def get_due_on(self, obj) -> str:
        return ifr.due_on(obj.quarter_end).isoformat()

    def get_overdue(self, obj) -> bool:
        sent = self.context.get("sent_quarters")
        if sent is None:
            sent = self.context["sent_quarters"] = set(
                FinancialReport.objects.filter(status=ReportStatus.SENT).values_list("quarter_end", flat=True)
            )
        return obj.quarter_end not in sent and timezone.localdate() > ifr.due_on(obj.quarter_end)

    def get_prepared_by(self, obj) -> str:
        return obj.prepared_by.get_display_name()

    def get_xlsx_url(self, obj) -> str:
        return f"/api/v1/financial-reports/{obj.pk}/xlsx/"

    def get_pdf_url(self, obj) -> str:
        return f"/api/v1/financial-reports/{obj.pk}/pdf/"


class FinancialReportDetailSerializer(FinancialReportSerializer):
    figures = serializers.SerializerMethodField(
        help_text=_(
            "The report's figures (amounts in BDT as strings): live while draft or reviewed, frozen once "
            "finalised. See finance.ifr.compute."
        )
    )

    class Meta(FinancialReportSerializer.Meta):
        fields = [*FinancialReportSerializer.Meta.fields, "figures"]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_figures(self, obj) -> dict:
        return ifr.figures_for(obj)


class FinancialReportCreateSerializer(serializers.Serializer):
    quarter_end = serializers.DateField(
        help_text=_("The last day of an ended calendar quarter without a report.")
    )
    notes = serializers.CharField(required=False, allow_blank=True, default="")


class NotesSerializer(serializers.Serializer):
    notes = serializers.CharField(allow_blank=True)


class SendSerializer(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, default="")
    sent_on = serializers.DateField(help_text=_("The day it was sent to the Bank (not in the future)."))


class ForecastLineSerializer(serializers.ModelSerializer):
    quarter_end = serializers.DateField()
    category = serializers.ChoiceField(choices=BudgetCategory.choices)
    financier = serializers.ChoiceField(choices=Financier.choices)
    amount = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=Decimal("0"))

    class Meta:
        model = ForecastLine
        fields = ["quarter_end", "category", "financier", "amount"]
        validators: list = []


class ForecastSerializer(serializers.Serializer):
    lines = ForecastLineSerializer(many=True)

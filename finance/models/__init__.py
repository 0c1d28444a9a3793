"""Money (issue 14): release schedules and releases to POs, spending against budget lines, the ME
loan portfolio, interim financial reports, exchange rates and PO scorecards. Every status moves
through core.lifecycle."""

from finance.models.common import MoneyQuerySet, is_pmu_finance, sees_all_money
from finance.models.loans import Instalment, Repayment, WriteOff
from finance.models.reports import (
    ExchangeRate,
    FinancialReport,
    ForecastLine,
    FundReceipt,
    FundSource,
    ReportStatus,
)
from finance.models.scorecards import Scorecard, ScorecardMeasure, ScorecardWeight
from finance.models.spending import (
    REPORTED_STATUSES,
    Expenditure,
    ExpenditureQuerySet,
    SpendingReport,
    SpendingReportStatus,
)
from finance.models.tranches import (
    ACTIVE_RELEASE_STATUSES,
    Milestone,
    MilestoneStatus,
    Release,
    ReleaseQuerySet,
    ReleaseStatus,
    Tranche,
)

__all__ = [
    "ACTIVE_RELEASE_STATUSES",
    "REPORTED_STATUSES",
    "ExchangeRate",
    "Expenditure",
    "ExpenditureQuerySet",
    "FinancialReport",
    "ForecastLine",
    "FundReceipt",
    "FundSource",
    "Instalment",
    "Milestone",
    "MilestoneStatus",
    "MoneyQuerySet",
    "Release",
    "ReleaseQuerySet",
    "ReleaseStatus",
    "Repayment",
    "ReportStatus",
    "Scorecard",
    "ScorecardMeasure",
    "ScorecardWeight",
    "SpendingReport",
    "SpendingReportStatus",
    "Tranche",
    "WriteOff",
    "is_pmu_finance",
    "sees_all_money",
]

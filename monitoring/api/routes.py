from monitoring.api import views

ROUTES = [
    ("indicators", views.IndicatorViewSet, "indicator"),
    ("aggregation-runs", views.AggregationRunViewSet, "aggregation-run"),
    ("environmental-outcomes", views.OutcomeViewSet, "environmental-outcome"),
]

# Results reports and the data-quality panel.
from monitoring.api import reports as report_views  # noqa: E402

ROUTES += [
    ("results-reports", report_views.ReportJobViewSet, "results-report"),
    ("data-quality", report_views.DataQualityViewSet, "data-quality"),
]

# The results framework's yearly milestones, as the targets page edits them (issue 16).
from monitoring.api import milestones as milestone_views  # noqa: E402

ROUTES += [
    ("indicator-milestones", milestone_views.IndicatorMilestoneViewSet, "indicator-milestone"),
]

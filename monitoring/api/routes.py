from monitoring.api import views

ROUTES = [
    ("indicators", views.IndicatorViewSet, "indicator"),
    ("aggregation-runs", views.AggregationRunViewSet, "aggregation-run"),
]

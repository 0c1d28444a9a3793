from finance.api import scorecard_views as views

ROUTES = [
    ("scorecards", views.ScorecardViewSet, "scorecard"),
    ("scorecard-weights", views.ScorecardWeightViewSet, "scorecard-weight"),
]

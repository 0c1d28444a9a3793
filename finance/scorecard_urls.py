from django.urls import path

from finance import scorecard_views as views

urlpatterns = [
    path("finance/scorecards/", views.scorecard_ranking, name="scorecard-ranking"),
    path("finance/scorecards/recompute/", views.scorecard_recompute, name="scorecard-recompute"),
    path("finance/scorecards/ours/", views.scorecard_own, name="scorecard-own"),
    path("finance/scorecards/weights/", views.scorecard_weights, name="scorecard-weights"),
    path("finance/scorecards/po/<int:pk>/", views.scorecard_detail, name="scorecard-detail"),
]

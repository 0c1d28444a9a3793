from finance.api import release_views as views

ROUTES = [
    ("milestones", views.MilestoneViewSet, "milestone"),
    ("tranches", views.TrancheViewSet, "tranche"),
    ("releases", views.ReleaseViewSet, "release"),
]

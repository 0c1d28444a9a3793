from finance.api import milestone_edits
from finance.api import release_views as views

ROUTES = [
    ("milestones", milestone_edits.MilestoneViewSet, "milestone"),
    ("tranches", views.TrancheViewSet, "tranche"),
    ("releases", views.ReleaseViewSet, "release"),
]

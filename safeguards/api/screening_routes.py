from safeguards.api import screening_views

ROUTES = [
    ("me-screenings", screening_views.ScreeningViewSet, "me-screening"),
    ("clearances", screening_views.ClearanceViewSet, "clearance"),
]

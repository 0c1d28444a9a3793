from safeguards.api import incident_views as views

ROUTES = [
    ("incidents", views.IncidentViewSet, "incident"),
    ("corrective-actions", views.CorrectiveActionViewSet, "corrective-action"),
]

from django.urls import path

from safeguards import incident_views as views

urlpatterns = [
    path("safeguards/incidents/", views.incident_list, name="incident-list"),
    path("safeguards/incidents/report/", views.incident_report, name="incident-report"),
    path("safeguards/incidents/<int:pk>/", views.incident_detail, name="incident-detail"),
    path("safeguards/incidents/<int:pk>/root-cause/", views.incident_root_cause, name="incident-root-cause"),
    path(
        "safeguards/incidents/<int:pk>/corrective-actions/",
        views.corrective_action_add,
        name="corrective-action-add",
    ),
    path(
        "safeguards/incidents/<int:pk>/<slug:action>/",
        views.incident_transition,
        name="incident-transition",
    ),
    path(
        "safeguards/corrective-actions/<int:pk>/<slug:action>/",
        views.corrective_action_transition,
        name="corrective-action-transition",
    ),
]

from django.urls import path

from safeguards import clearance_views, screening_views

urlpatterns = [
    path("safeguards/screenings/", screening_views.screening_list, name="screening-list"),
    path(
        "safeguards/enterprises/<int:enterprise_pk>/screenings/new/",
        screening_views.screening_create,
        name="screening-create",
    ),
    path("safeguards/screenings/<int:pk>/", screening_views.screening_detail, name="screening-detail"),
    path("safeguards/screenings/<int:pk>/edit/", screening_views.screening_edit, name="screening-edit"),
    path("safeguards/screenings/<int:pk>/delete/", screening_views.screening_delete, name="screening-delete"),
    path(
        "safeguards/screenings/<int:pk>/<slug:action>/",
        screening_views.screening_action,
        name="screening-action",
    ),
    path("safeguards/clearances/", clearance_views.clearance_list, name="clearance-list"),
    path("safeguards/clearances/expired/", clearance_views.clearance_expired, name="clearance-expired"),
    path("safeguards/clearances/new/", clearance_views.clearance_create, name="clearance-create"),
    path("safeguards/clearances/<int:pk>/", clearance_views.clearance_detail, name="clearance-detail"),
    path("safeguards/clearances/<int:pk>/edit/", clearance_views.clearance_edit, name="clearance-edit"),
    path(
        "safeguards/clearances/<int:pk>/document/",
        clearance_views.clearance_document,
        name="clearance-document",
    ),
]

from django.urls import path

from finance import release_views as views

urlpatterns = [
    path("finance/sub-projects/", views.subproject_finance_list, name="subproject-finance-list"),
    path("finance/sub-projects/<int:pk>/", views.subproject_finance, name="subproject-finance"),
    path("finance/sub-projects/<int:pk>/schedule/", views.schedule_edit, name="schedule-edit"),
    path("finance/sub-projects/<int:pk>/schedule/default/", views.schedule_create, name="schedule-create"),
    path("finance/tranches/<int:pk>/request/", views.release_request, name="release-request"),
    path("finance/releases/", views.release_list, name="release-list"),
    path("finance/releases/<int:pk>/", views.release_detail, name="release-detail"),
    path("finance/releases/<int:pk>/transfer/", views.release_transfer, name="release-transfer"),
    path("finance/releases/<int:pk>/<slug:action>/", views.release_transition, name="release-transition"),
    path("finance/milestones/<int:pk>/report/", views.milestone_report, name="milestone-report"),
    path(
        "finance/milestones/<int:pk>/<slug:action>/", views.milestone_transition, name="milestone-transition"
    ),
]

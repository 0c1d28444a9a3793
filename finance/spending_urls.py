from django.urls import path

from finance import spending_views as views

urlpatterns = [
    path("finance/spending/", views.report_list, name="spending-report-list"),
    path("finance/spending/new/", views.report_create, name="spending-report-create"),
    path("finance/spending/lines/", views.expenditure_list, name="expenditure-list"),
    path("finance/spending/<int:pk>/", views.report_detail, name="spending-report"),
    path(
        "finance/spending/<int:pk>/<slug:action>/", views.report_transition, name="spending-report-transition"
    ),
    path("finance/progress/", views.progress_list, name="progress-list"),
]

from django.urls import path

from monitoring.views import dashboard as views

app_name = "monitoring"

urlpatterns = [
    path("dashboard/", views.dashboard_page, name="dashboard"),
    path("dashboard/targets/", views.targets_page, name="targets"),
    path("dashboard/framework/", views.framework_page, name="framework"),
    path("dashboard/indicators/<str:code>/", views.indicator_page, name="indicator"),
    path("dashboard/indicators/<str:code>/edit/", views.framework_edit, name="framework-edit"),
    path("dashboard/outcomes/", views.outcomes_page, name="outcomes"),
    path("dashboard/runs/", views.runs_page, name="runs"),
    path("dashboard/runs/new/", views.run_now, name="run-now"),
]

# Results reports and the data-quality panel (monitoring.views.reports, monitoring.views.quality).
from monitoring.views import quality as quality_views  # noqa: E402
from monitoring.views import reports as report_views  # noqa: E402

urlpatterns += [
    path("dashboard/reports/", report_views.reports_page, name="reports"),
    path("dashboard/reports/comments/", report_views.report_comments, name="report-comments"),
    path("dashboard/reports/<int:pk>/download/", report_views.report_download, name="report-download"),
    path("dashboard/reports/<int:pk>/again/", report_views.report_again, name="report-again"),
    path("dashboard/data-quality/", quality_views.quality_page, name="data-quality"),
]

from django.urls import path

from monitoring import views

app_name = "monitoring"

urlpatterns = [
    path("dashboard/", views.dashboard_page, name="dashboard"),
    path("dashboard/targets/", views.targets_page, name="targets"),
    path("dashboard/runs/", views.runs_page, name="runs"),
    path("dashboard/runs/new/", views.run_now, name="run-now"),
]

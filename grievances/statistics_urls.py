from django.urls import path

from grievances import statistics_views

urlpatterns = [
    path("grievances/statistics/", statistics_views.statistics_page, name="statistics"),
    path("grievances/statistics/export/", statistics_views.statistics_export, name="statistics-export"),
]

from django.urls import path

from finance import portfolio_views as views

urlpatterns = [
    path("finance/portfolio/", views.portfolio, name="portfolio"),
    path("finance/loans/", views.loan_list, name="loan-list"),
    path("finance/loans/<int:pk>/", views.loan_detail, name="loan-detail"),
    path("finance/loans/<int:pk>/schedule/", views.loan_schedule, name="loan-schedule"),
    path("finance/loans/<int:pk>/repayments/", views.repayment_add, name="repayment-add"),
    path("finance/loans/<int:pk>/write-off/", views.loan_write_off, name="loan-write-off"),
    path("finance/repayments/<int:pk>/delete/", views.repayment_delete, name="repayment-delete"),
]

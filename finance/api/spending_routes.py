from finance.api import spending_views as views

ROUTES = [
    ("spending-reports", views.SpendingReportViewSet, "spending-report"),
    ("expenditures", views.ExpenditureViewSet, "expenditure"),
    ("financial-progress", views.FinancialProgressViewSet, "financial-progress"),
]

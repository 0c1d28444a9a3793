from finance.api import ifr_views as views

ROUTES = [
    ("fund-receipts", views.FundReceiptViewSet, "fund-receipt"),
    ("financial-reports", views.FinancialReportViewSet, "financial-report"),
]

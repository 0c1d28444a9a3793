from finance.api import portfolio_views as views

ROUTES = [
    ("loans", views.LoanViewSet, "loan"),
    ("instalments", views.InstalmentViewSet, "instalment"),
    ("repayments", views.RepaymentViewSet, "repayment"),
    ("write-offs", views.WriteOffViewSet, "write-off"),
    ("loan-portfolio", views.PortfolioViewSet, "loan-portfolio"),
]

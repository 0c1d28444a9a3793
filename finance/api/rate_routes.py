from finance.api import rate_views as views

ROUTES = [("exchange-rates", views.ExchangeRateViewSet, "exchange-rate")]

from finance import ifr_urls, portfolio_urls, rate_urls, release_urls, scorecard_urls, spending_urls

app_name = "finance"

urlpatterns = [
    *release_urls.urlpatterns,
    *spending_urls.urlpatterns,
    *portfolio_urls.urlpatterns,
    *ifr_urls.urlpatterns,
    *scorecard_urls.urlpatterns,
    *rate_urls.urlpatterns,
]

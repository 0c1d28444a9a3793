from safeguards import incident_urls, review_urls, screening_urls

app_name = "safeguards"

urlpatterns = [*review_urls.urlpatterns, *screening_urls.urlpatterns, *incident_urls.urlpatterns]

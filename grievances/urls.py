from grievances import statistics_urls, views

app_name = "grievances"

urlpatterns = [*views.urlpatterns, *statistics_urls.urlpatterns]

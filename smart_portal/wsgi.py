import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smart_portal.settings")

application = get_wsgi_application()

# Load the URL configuration now, so the first request after a start (or a health probe) is not slow.
from django.urls import get_resolver  # noqa: E402

get_resolver().url_patterns  # noqa: B018 - the attribute loads the URL modules

"""Settings of the worker and web server processes the fault tests start: the portal's own settings
(from the environment the tests give them), plus what only a test needs to observe them."""

import os

from smart_portal.settings import *  # noqa: F403
from smart_portal.settings import STORAGES

# Emails go to files the test reads (EMAIL_BACKEND=...filebased.EmailBackend in the environment).
EMAIL_FILE_PATH = os.environ.get("FAULTS_EMAIL_DIR", "")
# The web server runs with DEBUG off; its pages need their static files without a collectstatic run.
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
WHITENOISE_USE_FINDERS = True

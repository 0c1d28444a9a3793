"""The Celery application. Tasks are thin: they take ids and call the same functions pages use."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smart_portal.settings")

app = Celery("smart_portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

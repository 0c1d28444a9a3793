"""The Celery application. Tasks are thin: they take ids and call the same functions pages use."""

import logging
import os

from celery import Celery, Task

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smart_portal.settings")

log = logging.getLogger(__name__)


class PortalTask(Task):
    """Every portal task: a task queued through core.outbox that already ran to its end is not run
    again when the broker delivers it a second time (at-least-once delivery: a worker that died
    before acknowledging it, a message the relay published again)."""

    def __call__(self, *args, **kwargs):
        task_id = getattr(self.request, "id", None)
        if task_id and not self.request.is_eager and _already_done(task_id):
            log.info("task %s (%s) already done: delivered again, skipped", self.name, task_id)
            return None
        return super().__call__(*args, **kwargs)


def _already_done(task_id: str) -> bool:
    from django.core.exceptions import ValidationError

    from core.models import OutboxMessage

    try:
        return OutboxMessage.objects.filter(uuid=task_id, done_at__isnull=False).exists()
    except ValidationError:  # not a uuid: not one of the outbox's messages
        return False


app = Celery("smart_portal", task_cls=PortalTask)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

import pytest

from core.tasks import ping


@pytest.mark.real_services
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_task_runs_on_the_real_worker_against_the_same_database():
    result = ping.delay().get(timeout=30)

    assert result["pong"] is True
    assert result["divisions"] == 8
    assert result["worker"] != "in-process"

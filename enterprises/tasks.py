"""Background work of the field-data app. Tasks are thin: they take ids and call the services."""

from __future__ import annotations

from celery import shared_task


@shared_task
def run_import_job(job_id: int, commit: bool = False) -> str:
    """Check (commit=False) or write (commit=True) one uploaded spreadsheet."""
    from enterprises.imports.jobs import run_job

    return run_job(job_id, commit=commit)


@shared_task
def run_bulk_job(job_id: int) -> str:
    """Check the items of a large bulk request (an import job's file), then import them at once."""
    from enterprises.bulk import run_job

    return run_job(job_id)


@shared_task
def suggest_clusters() -> int:
    """Recompute the cluster suggestions the PMU reviews (about a second at 80,000 MEs)."""
    from enterprises.clusters import suggest

    return suggest()


@shared_task
def refresh_climate_flags(district_ids: list[int] | None = None) -> int:
    """Re-derive enterprises' climate flag after the PMU changed an area's flag."""
    from enterprises.services import refresh_climate_flags as refresh

    return refresh(district_ids=district_ids)


@shared_task
def reflag_duplicates(enterprise_ids: list[int]) -> int:
    """Look for duplicates again once the entering transaction has committed: two POs entering the
    same ME at the same moment cannot see each other's uncommitted row, but the later commit's
    re-check sees the earlier one."""
    from django.db import transaction

    from enterprises.duplicates import flag_duplicates

    with transaction.atomic():
        return flag_duplicates(enterprise_ids)


@shared_task
def sweep_duplicates() -> int:
    """Nightly safety net: re-check every enterprise for duplicates (set-based, in chunks)."""
    from django.db import transaction

    from enterprises.duplicates import flag_duplicates
    from enterprises.models import Enterprise

    ids = list(Enterprise.objects.values_list("pk", flat=True).order_by("pk"))
    flagged = 0
    for start in range(0, len(ids), 5000):
        with transaction.atomic():
            flagged += flag_duplicates(ids[start : start + 5000])
    return flagged

"""An import shows how far it is, chunk by chunk, whatever runs it: the job's row while the file is
checked, the cache while its rows are written (their transaction hides the row), and the status
fragment the page polls draws the bar from them."""

from __future__ import annotations

import pytest

from enterprises.imports import IMPORTERS, base
from enterprises.imports.base import Importer
from enterprises.models import Enterprise, ImportJob, ImportStatus
from tests.enterprises.test_import_pages import upload
from tests.enterprises.test_imports import as_csv, enterprise_row

pytestmark = pytest.mark.django_db


def test_progress_is_updated_after_each_chunk_and_the_fragment_draws_the_bar(
    client, po1, sp_one, monkeypatch
):
    monkeypatch.setattr(base, "CHUNK_SIZE", 2)
    monkeypatch.setattr(base, "WRITE_BATCH", 2)
    seen: list[tuple[str, str, int, int]] = []
    fragments: dict[str, str] = {}
    plan_chunk = Importer.plan_chunk
    importer = IMPORTERS["enterprises"]
    write = importer.write

    def look() -> None:
        # What the page would show now (the job as the fragment reads it).
        job = ImportJob.objects.get().with_live_progress()
        seen.append((job.status, job.phase, job.rows_done, job.rows_total))
        if job.rows_done == 2:
            fragments.setdefault(
                job.phase, client.get(f"/field-data/imports/{job.pk}/progress/").content.decode()
            )

    def watching_plan_chunk(self, chunk, seen_keys, report):
        look()  # before each chunk is checked
        return plan_chunk(self, chunk, seen_keys, report)

    def watching_write(self, plans, report):
        look()  # before each batch is written
        return write(self, plans, report)

    monkeypatch.setattr(Importer, "plan_chunk", watching_plan_chunk)
    monkeypatch.setattr(importer, "write", watching_write)
    client.force_login(po1)

    upload(client, "mes.csv", as_csv([enterprise_row(i, sp_one) for i in range(1, 6)]))
    job = ImportJob.objects.get()
    client.post(f"/field-data/imports/{job.pk}/commit/")

    checking = [(done, total) for status, phase, done, total in seen if status == ImportStatus.VALIDATING]
    rechecking = [
        (done, total)
        for status, phase, done, total in seen
        if status == ImportStatus.COMMITTING and phase != "writing"
    ]
    writing = [(done, total) for status, phase, done, total in seen if phase == "writing"]
    # Checked: 2 rows, then 4, of the 5 (the first chunk starts from nothing).
    assert checking == [(0, 0), (2, 5), (4, 5)]
    # Imported: checked once more from the start (the rows it keeps are then written as checked),
    # then written 2 rows at a time.
    assert [done for done, _total in rechecking] == [0, 2, 4]
    assert writing == [(0, 5), (2, 5), (4, 5)]
    assert Enterprise.objects.count() == 5
    job.refresh_from_db()
    assert (job.status, job.rows_done, job.rows_total) == (ImportStatus.DONE, 5, 5)

    checked, written = fragments["checking"], fragments["writing"]
    for fragment in (checked, written):
        assert 'role="progressbar"' in fragment
        assert 'aria-valuenow="40"' in fragment
        assert 'aria-valuemin="0" aria-valuemax="100"' in fragment
        assert "40%" in fragment
        assert 'hx-trigger="every 1s"' in fragment  # the page keeps polling
    assert "2 of about 5 rows checked" in checked
    assert "Checking every row" in checked
    assert "2 of about 5 rows written" in written
    assert "Writing the rows to the portal" in written

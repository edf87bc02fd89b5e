"""Queued imports' job rows, without a queue: claiming, progress, a worker taking over."""

from __future__ import annotations

from findme.cases import import_jobs
from findme.cases.records import open_records
from findme.config import Settings


def test_a_job_is_claimed_once_taken_over_while_running_and_never_after_it_ends(
        ws_settings: Settings) -> None:
    records = open_records(ws_settings)
    folder = import_jobs.keep_files(ws_settings, "../../cases list.csv", b"ref,name\n", b"PK")
    assert folder.parent == import_jobs.upload_folder(ws_settings)
    assert sorted(p.name for p in folder.iterdir()) == ["cases_list.csv", "photos.zip"]
    assert all(p.stat().st_mode & 0o077 == 0 for p in [folder, *folder.iterdir()])
    job = import_jobs.create(records, "cases list.csv", str(folder), False, "inv")
    first = import_jobs.claim(records, job, "host:1")
    assert first is not None and first.status == "queued"
    import_jobs.progress(records, job, 16, 80)
    import_jobs.save_rows(records, job, [{"row": 2, "ref": "A", "case_id": 1,
                                          "status": "imported", "reasons": []}])
    running = import_jobs.get(records, job)
    assert (running.status, running.worker, running.fraction) == ("running", "host:1", 0.2)
    second = import_jobs.claim(records, job, "host:2")  # the queue redelivered it: host:1 died
    assert second is not None and second.rows[0]["status"] == "imported"
    import_jobs.finish(records, job, [], [])
    assert import_jobs.claim(records, job, "host:3") is None
    assert import_jobs.get(records, 999) is None
    records.engine.dispose()


def test_rows_the_dead_worker_wrote_keep_their_result() -> None:
    def row(n: int, ref: str, status: str) -> dict:
        return {"row": n, "ref": ref, "case_id": n, "status": status, "reasons": []}

    earlier = [row(2, "A", "imported"), row(3, "B", "updated"), row(4, "C", "rejected")]
    now = [row(2, "A", "unchanged"), row(3, "B", "unchanged"), row(4, "C", "imported"),
           row(5, "D", "unchanged"), row(6, "E", "imported")]
    merged = import_jobs.merge_rows(earlier, now)
    assert [r["status"] for r in merged] == ["imported", "updated", "imported", "unchanged",
                                             "imported"]
    # a row whose case number changed between the runs is reported as found now
    assert import_jobs.merge_rows([row(2, "X", "imported")], [row(2, "A", "unchanged")]) == [
        row(2, "A", "unchanged")]
    assert import_jobs.merge_rows(None, now) == now


def test_an_import_whose_dashboard_process_ended_is_marked_failed(ws_settings: Settings) -> None:
    """An import run in a dashboard thread cannot be handed to another worker: once its
    process is gone (or its thread, in this process) the job says so instead of showing as
    running forever; live processes' jobs and queue workers' jobs are left alone."""
    import os
    import socket
    import subprocess

    records = open_records(ws_settings)
    ended = subprocess.Popen(["true"])
    ended.wait()
    host = socket.gethostname()
    workers = {"dead": f"{import_jobs.LOCAL} {host}:{ended.pid}",
               "this process, no thread": import_jobs.local_worker(),
               "alive": f"{import_jobs.LOCAL} {host}:{os.getppid()}",
               "another host": f"{import_jobs.LOCAL} elsewhere:{ended.pid}",
               "queue worker": f"{host}:{ended.pid}"}
    jobs, folders = {}, {}
    for what, worker in workers.items():
        folders[what] = import_jobs.keep_files(ws_settings, "c.csv", b"ref,name\n", None)
        jobs[what] = import_jobs.create(records, "c.csv", str(folders[what]), False, "inv")
        assert import_jobs.claim(records, jobs[what], worker) is not None
    assert import_jobs.fail_orphans(records) == 2
    for what in workers:
        job = import_jobs.get(records, jobs[what])
        orphan = what in ("dead", "this process, no thread")
        assert job.status == ("failed" if orphan else "running"), what
        assert (job.error == import_jobs.ORPHANED) is orphan
        assert folders[what].exists() is not orphan, "an orphan's kept files are removed"
    assert import_jobs.fail_orphans(records) == 0
    records.engine.dispose()

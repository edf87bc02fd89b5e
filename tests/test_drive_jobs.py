"""Drives as jobs (issue 21): every open found record against every open missing case, off the
request path, with progress in the ``drive_jobs`` row. On a real task queue (``redis-server`` on
127.0.0.1, a real Chroma server, a ``findme worker`` process) from ``findme crossmatch --queue``;
in a dashboard thread from :func:`findme.cases.drive_jobs.start_local`. A pair that appears only
after a change (a missing case reopened) is found by the drive, once."""

from __future__ import annotations

import json
import os
import subprocess
import time
from dataclasses import replace
from pathlib import Path

import pytest

from findme.cases import drive_jobs, leads
from findme.cases.records import CaseDetails
from findme.cases.registry import PhotoInput, enroll_case
from findme.config import Settings
from findme.evaluation.datasets import identities
from findme.workspace import Workspace, open_workspace
from tests.conftest import usable_photos
from tests.test_chroma_server import chroma_server  # noqa: F401 - a fixture
from tests.test_queue import CLI, _workers, redis_url  # noqa: F401 - a fixture

pytestmark = pytest.mark.heavy
LIMIT = 900.0  # a guard for a loaded machine, never a measured time


def _pair_after_reopening(ws: Workspace, photos: list[Path]) -> tuple[int, int]:
    """A missing case closed while a found record of the same child is registered (so saving
    made no pair), then reopened: only a drive can pair them now."""
    case = enroll_case(CaseDetails("Madonna Test", consent_recorded=True),
                       [PhotoInput(p.name, p.read_bytes()) for p in photos[:2]],
                       ws.records, ws.store, ws.settings)
    ws.records.set_case_status(case.case_id, "closed")
    found = enroll_case(CaseDetails("unknown", kind="found", lawful_basis="duty of care",
                                    found_place="market"),
                        [PhotoInput(p.name, p.read_bytes()) for p in photos[2:4]],
                        ws.records, ws.store, ws.settings)
    assert found.cross_pairs == []
    ws.records.set_case_status(case.case_id, "open")
    return case.case_id, found.case_id


def _wait(ws: Workspace, job_id: int) -> drive_jobs.DriveJobRecord:
    deadline = time.monotonic() + LIMIT
    while (job := drive_jobs.get(ws.records, job_id)).status in ("queued", "running"):
        assert time.monotonic() < deadline, f"drive {job_id} never ended: {job}"
        time.sleep(0.2)
    return job


@pytest.fixture
def madonna(celeb5: Path, ws_settings: Settings) -> list[Path]:
    photos = usable_photos(identities(celeb5 / "train")["madonna"], ws_settings, 4)
    assert len(photos) == 4
    return photos


def test_a_drive_in_a_dashboard_thread_finds_a_new_pair_once(workspace: Workspace,
                                                            madonna: list[Path]) -> None:
    case_id, found_id = _pair_after_reopening(workspace, madonna)
    first = drive_jobs.start_local(workspace.records, workspace.store, workspace.settings, "ana")
    assert drive_jobs.get(workspace.records, first).status == "running"  # before it returns
    job = _wait(workspace, first)
    assert (job.status, job.pairs, job.new_leads) == ("done", 1, 1), job
    assert job.done_faces == job.total_faces == 2 and job.fraction == 1.0
    (lead,) = leads.queue(workspace.records)
    assert (lead.lead.case_id, lead.lead.found_id) == (case_id, found_id)
    again = _wait(workspace, drive_jobs.start_local(workspace.records, workspace.store,
                                                    workspace.settings, "ana"))
    assert (again.pairs, again.new_leads) == (1, 0)  # idempotent: the pair has its lead
    assert "1 likely pair(s), 0 new lead(s)" in again.line()
    starts = workspace.records.audit_log(action="crossmatch.start")
    assert [e["actor"] for e in starts] == ["ana", "ana"]


def test_a_drive_on_the_task_queue_runs_in_a_worker(
        ws_settings: Settings, madonna: list[Path], chroma_server: str,  # noqa: F811
        redis_url: str) -> None:  # noqa: F811
    shared = replace(ws_settings, chroma_url=chroma_server, broker_url=redis_url)
    with open_workspace(shared) as ws:
        case_id, found_id = _pair_after_reopening(ws, madonna)
    env = dict(os.environ, FINDME_DATA_DIR=str(ws_settings.data_dir),
               FINDME_CHROMA_URL=chroma_server, FINDME_BROKER_URL=redis_url,
               FINDME_QUEUE_HEARTBEAT="5")
    out = subprocess.run([*CLI, "crossmatch", "--queue", "--json", "--actor", "ana"], env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    job_id = json.loads(out.stdout)["job_id"]
    with open_workspace(shared) as ws:
        assert drive_jobs.get(ws.records, job_id).status == "queued"
        with _workers(env, "drive-worker", n=1):
            job = _wait(ws, job_id)
        assert (job.status, job.pairs, job.new_leads) == ("done", 1, 1), job
        assert job.worker and job.worker != "dashboard"
        (lead,) = leads.queue(ws.records)
        assert (lead.lead.case_id, lead.lead.found_id) == (case_id, found_id)
        runs = ws.records.audit_log(action="crossmatch.run")
        assert [e["actor"] for e in runs] == ["ana"]


def test_one_drive_at_a_time(workspace: Workspace) -> None:
    """A second Start while a drive is queued or running is refused with a sentence (a double
    click must not start two full drives on two cores)."""
    from findme.ui.importing import start_drive

    queued = drive_jobs.create(workspace.records, "ana")
    with pytest.raises(ValueError, match=f"drive {queued} is still queued"):
        start_drive(workspace, "ana")
    drive_jobs.fail(workspace.records, queued, "stopped for the test")
    assert len(drive_jobs.recent(workspace.records)) == 1  # nothing else was recorded


def test_a_drive_whose_dashboard_died_does_not_block_the_next(workspace: Workspace) -> None:
    """A dashboard killed mid-drive left its row ``running`` forever: the Cases page refreshed
    it every 2 s and refused every later drive ("still running"). Its drives are marked failed
    when read; a live process's drive and a queue worker's are left alone."""
    import socket

    from findme.cases.local_runs import LOCAL, local_worker
    from findme.ui.importing import recent_drives, start_drive

    ended = subprocess.Popen(["true"])
    ended.wait()
    host = socket.gethostname()
    workers = {"dead": f"{LOCAL} {host}:{ended.pid}",
               "this process, no thread": local_worker(),
               "alive": f"{LOCAL} {host}:{os.getppid()}",
               "another host": f"{LOCAL} elsewhere:{ended.pid}",
               "queue worker": f"{host}:{ended.pid}"}
    jobs = {}
    for what, worker in workers.items():
        jobs[what] = drive_jobs.create(workspace.records, "ana")
        assert drive_jobs.claim(workspace.records, jobs[what], worker)
    shown = {j.id: j for j in recent_drives(workspace, 5)}
    for what, job_id in jobs.items():
        orphan = what in ("dead", "this process, no thread")
        assert shown[job_id].status == ("failed" if orphan else "running"), what
        assert (shown[job_id].error == drive_jobs.ORPHANED) is orphan
    assert drive_jobs.fail_orphans(workspace.records) == 0
    for what in ("alive", "another host", "queue worker"):
        drive_jobs.fail(workspace.records, jobs[what], "ended for the test")
    job_id = start_drive(workspace, "ana")  # not refused: nothing is under way any more
    assert _wait(workspace, job_id).status == "done"

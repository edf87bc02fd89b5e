"""CCTV scans on the task queue: a real ``redis-server`` on 127.0.0.1, a real Chroma server and
two ``findme worker`` processes sharing one data folder.

Six jobs are spread over both workers; one worker is killed with SIGKILL in the middle of a
scan and its job finishes on the other; the sightings and leads equal those of a scan run on one
machine, with no duplicate.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from findme.cases.records import CaseDetails
from findme.cases.registry import PhotoInput, enroll_case
from findme.config import Settings
from findme.evaluation.datasets import identities
from findme.workspace import open_workspace
from tests.live_app import ARTIFACTS, free_port, wait_for_port
from tests.test_chroma_server import chroma_server  # noqa: F401 - a fixture

pytestmark = pytest.mark.heavy
CLI = [sys.executable, "-m", "findme.cli"]


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    """A throw-away ``redis-server`` on a free loopback port (nothing saved to disk)."""
    server = shutil.which("redis-server")
    if server is None:
        pytest.fail("redis-server is missing: `make test` installs it (Debian redis-server)")
    port = free_port()
    proc = subprocess.Popen([server, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", str(tmp_path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_port(port, proc, "redis-server", timeout=30)
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait(timeout=30)


@contextlib.contextmanager
def _workers(env: dict[str, str], log_name: str, n: int = 2) -> Iterator[list[subprocess.Popen]]:
    """``n`` ``findme worker`` processes (logs in the test artifacts), stopped at the end."""
    logs = [(ARTIFACTS / f"{log_name}-{k}.log").open("wb") for k in range(n)]
    workers = [subprocess.Popen([*CLI, "worker"], env=env, stdout=logs[k],
                                stderr=subprocess.STDOUT) for k in range(n)]
    try:
        yield workers
    finally:
        for w in workers:
            if w.poll() is None:
                w.send_signal(signal.SIGTERM)
        for w in workers:
            try:
                w.wait(timeout=60)
            except subprocess.TimeoutExpired:
                w.kill()
        for log in logs:
            log.close()


def _sightings(job) -> list[tuple]:
    return sorted((s["case_id"], s["decision"], round(s["first_s"], 1), round(s["last_s"], 1))
                  for s in job.sightings or [])


def test_scans_spread_over_two_workers_and_survive_a_killed_one(
        ws_settings: Settings, celeb5: Path, chroma_server: str, redis_url: str,  # noqa: F811
        settings: Settings) -> None:
    from findme import demo
    from findme.video import scans

    (ws_settings.data_dir / "eval").symlink_to(settings.eval_dir)
    clip = demo.sample_clip(ws_settings)  # 12 s: Madonna walks through from 4 s to 8 s
    shared = replace(ws_settings, chroma_url=chroma_server, broker_url=redis_url)
    train = identities(celeb5 / "train")["madonna"]
    with open_workspace(shared) as ws:
        case = enroll_case(CaseDetails(name="Madonna Queue", consent_recorded=True),
                           [PhotoInput(p.name, p.read_bytes()) for p in train[:6]], ws.records,
                           ws.store, shared).case_id
    env = dict(os.environ, FINDME_DATA_DIR=str(ws_settings.data_dir),
               FINDME_CHROMA_URL=chroma_server, FINDME_BROKER_URL=redis_url,
               FINDME_QUEUE_HEARTBEAT="5")
    ids = []
    for k in range(6):
        out = subprocess.run([*CLI, "scan", str(clip), "--camera", f"gate-{k}", "--every",
                              "0.2", "--queue", "--json"], env=env, capture_output=True,
                             text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        ids.append(json.loads(out.stdout)["scan_id"])

    seen: dict[int, set[str]] = {i: set() for i in ids}
    killed = None
    with _workers(env, "worker") as workers:
        names = {f"{socket.gethostname()}:{w.pid}": w for w in workers}
        records = open_workspace(shared).records
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline:
            alive = [w for w in workers if w is not (killed or (0, None))[1]]
            assert any(w.poll() is None for w in alive), "the workers ended (see their logs)"
            jobs = {i: scans.get(records, i) for i in ids}
            for i, job in jobs.items():
                if job.worker:
                    seen[i].add(job.worker)
            if killed is None:  # kill a worker in the middle of one of its scans
                victim = next((j for j in jobs.values() if j.status == "running"
                               and j.frames >= 5 and j.worker in names), None)
                if victim is not None:
                    killed = (victim.id, names[victim.worker])
                    killed[1].send_signal(signal.SIGKILL)
            if killed and all(j.status == "done" for j in jobs.values()):
                break
            time.sleep(0.5)
        assert killed is not None, "no scan was seen running"
        jobs = {i: scans.get(records, i) for i in ids}
        assert all(j.status == "done" for j in jobs.values()), {
            i: (j.status, j.error) for i, j in jobs.items()}
        taken_over = jobs[killed[0]]
        assert len(seen[killed[0]]) == 2 and taken_over.worker != f"{socket.gethostname()}:" \
            f"{killed[1].pid}", "the killed worker's job finished on the other worker"
        assert len({w for ws_ in seen.values() for w in ws_}) == 2, "both workers took jobs"

        # one machine, no queue: the same video gives the same sightings
        single = subprocess.run([*CLI, "scan", str(clip), "--camera", "single", "--every",
                                 "0.2", "--json", "--quiet"],
                                env={**env, "FINDME_BROKER_URL": ""}, capture_output=True,
                                text=True, timeout=600)
        assert single.returncode == 0, single.stderr[-2000:]
        reference = scans.get(records, json.loads(single.stdout)["scan_id"])
        assert _sightings(reference) and all(s[0] == case for s in _sightings(reference))
        for job in jobs.values():
            assert _sightings(job) == _sightings(reference), (job.id, job.sightings)
        leads = records.leads(case_id=case)
        per_camera = sorted(lead_camera(records, lead.id) for lead in leads)
        assert per_camera == sorted([f"gate-{k}" for k in range(6)] + ["single"]), per_camera
        assert all(s["lead_id"] for j in jobs.values() for s in j.sightings)


def lead_camera(records, lead_id: int) -> str:
    """The camera a lead's probe came from."""
    from sqlalchemy import select

    from findme.cases.tables import Lead, Probe

    with records.session() as s:
        return s.scalar(select(Probe.camera).join(Lead, Lead.probe_id == Probe.id)
                        .where(Lead.id == lead_id))


def test_an_import_on_the_queue_survives_a_killed_worker(
        ws_settings: Settings, orl: Path, chroma_server: str, redis_url: str,  # noqa: F811
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``findme import --queue`` packs the sheet's photos, a worker imports them; killed with
    SIGKILL after its first batch, the other worker finishes the job: every row imported once,
    no case, photo or vector twice, and the dead worker's rows still reported ``imported``."""
    from findme.cases import import_jobs

    people = sorted(orl.iterdir(), key=lambda p: int(p.name[1:]))
    sheet = tmp_path / "cases.csv"
    lines = ["ref,name,photos,consent"]
    for person in people:
        for k, n in enumerate((1, 2)):  # two cases a person: 80 rows, five batches
            lines.append(f"Q-{person.name}-{k},Queue {person.name} {k},{person.name}/{n}.pgm,yes")
    sheet.write_text("\n".join(lines) + "\n")
    shared = replace(ws_settings, chroma_url=chroma_server, broker_url=redis_url)
    env = dict(os.environ, FINDME_DATA_DIR=str(ws_settings.data_dir),
               FINDME_CHROMA_URL=chroma_server, FINDME_BROKER_URL=redis_url,
               FINDME_QUEUE_HEARTBEAT="5")
    out = subprocess.run([*CLI, "import", str(sheet), "--photos", str(orl), "--queue", "--json"],
                         env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    job_id = json.loads(out.stdout)["job_id"]
    kept = list(import_jobs.upload_folder(ws_settings).iterdir())
    assert len(kept) == 1 and oct(kept[0].stat().st_mode & 0o777) == "0o700"

    killed = None
    with _workers(env, "import-worker") as workers:
        names = {f"{socket.gethostname()}:{w.pid}": w for w in workers}
        with open_workspace(shared) as ws:
            deadline = time.monotonic() + 900
            while time.monotonic() < deadline:
                assert any(w.poll() is None for w in workers), "the workers ended (see logs)"
                job = import_jobs.get(ws.records, job_id)
                if (killed is None and job.status == "running" and job.rows
                        and job.worker in names):
                    killed = (job.worker, [r for r in job.rows if r["status"] == "imported"])
                    names[job.worker].send_signal(signal.SIGKILL)
                if job.status in ("done", "failed"):
                    break
                time.sleep(0.2)
            assert killed is not None, "the import was not seen between two batches"
            assert job.status == "done", job.error
            assert job.worker != killed[0], "the other worker finished the job"
            report = import_jobs.report_of(job)
            assert len(report.rows) == 80 and report.count("rejected") == 0, job.rows
            assert report.count("imported") + report.count("unchanged") == 80
            by_row = {r.row: r for r in report.rows}
            assert killed[1] and all(by_row[r["row"]].status == "imported" for r in killed[1]), \
                "rows the killed worker wrote are still reported imported"
            cases = ws.records.list_cases()
            assert sorted(c.ref for c in cases) == sorted(
                f"Q-{p.name}-{k}" for p in people for k in (0, 1)), "each case exactly once"
            photos = [p for c in cases for p in ws.records.photos(c.id)]
            assert len(photos) == 80, "each photo exactly once"
            for model in ws_settings.models:
                assert ws.store.collection(model).count() == 80, f"{model}: vectors once each"
        assert not any(import_jobs.upload_folder(ws_settings).iterdir()), "kept files removed"

        # the Register page of a dashboard on the same queue shows the job and its rows
        from findme.config import reset_settings
        from findme.ui import state
        from tests.pages_helpers import make_user, open_page

        for key in ("FINDME_DATA_DIR", "FINDME_CHROMA_URL", "FINDME_BROKER_URL"):
            monkeypatch.setenv(key, env[key])
        monkeypatch.setenv("FINDME_SECRETS_FILE", str(ws_settings.data_dir / "none.toml"))
        reset_settings()
        try:
            make_user(shared, "inv", "investigator")
            at = open_page("register", "inv")
            lines = [c.value.replace("\\", "") for c in at.caption]  # shown escaped
            line = next(v for v in lines if f"Import {job_id} (cases.csv)" in v)
            assert f"{report.count('imported')} imported" in line and "0 rejected" in line
            (table,) = [d.value for d in at.dataframe if "reasons" in d.value.columns]
            assert len(table) == 80 and set(table["status"]) <= {"imported", "unchanged"}
        finally:
            state.close_all()
            reset_settings()

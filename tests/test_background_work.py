"""Long work leaves the request path: folder evaluations and imports without a task queue run
in worker threads of the dashboard with stored progress, and a shutdown stops them.

Proven with events, never with timing: a job's progress callback waits on an event, so the job
is provably mid-way while the page run has returned, the page shows its progress, and another
person's search completes; released, the page shows the result it showed before (charts, the
import's rows).
"""

from __future__ import annotations

import io
import shutil
import threading
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from findme.cases import import_jobs
from findme.cases.records import CaseDetails, open_records
from findme.cases.registry import PhotoInput, enroll_case
from findme.config import Settings
from findme.evaluation import jobs
from findme.evaluation import protocol as ev
from findme.ui import importing, state
from tests.pages_helpers import make_user, open_page
from tests.waiting import rerun_until

WAIT = 600.0  # generous: only ever reached when something is wrong (a loaded 2-core machine)


def _progress_texts(at) -> list[str]:
    """The text of every progress bar on the page, as a person reads it."""
    return [e.proto.text.replace("\\", "") for e in at.get("progress")]


def _captions(at) -> list[str]:
    """Every caption, as a person reads it (markdown escapes taken off)."""
    return [c.value.replace("\\", "") for c in at.caption]


def _enroll_one(settings: Settings, orl: Path) -> None:
    """One registered case, so that a search has a gallery to go through."""
    ws = state.workspace(settings)
    enroll_case(CaseDetails(name="s40", consent_recorded=True),
                [PhotoInput("1.pgm", (orl / "s40" / "1.pgm").read_bytes())],
                ws.records, ws.store, ws.settings)


def _until(flag: threading.Event | None, check=None) -> None:
    """Wait (at most WAIT seconds) for an event, or for ``check()`` to be true."""
    deadline = time.monotonic() + WAIT
    while not (flag.is_set() if flag is not None else check()):
        assert time.monotonic() < deadline, "never happened"
        time.sleep(0.05)


def _import_files(orl: Path, people: list[str]) -> tuple[bytes, bytes]:
    """A case list naming one ORL photo per person, and the ZIP of those photos."""
    lines = ["ref,name,photos,consent"] + [f"B-{p},Background {p},{p}/1.pgm,yes"
                                           for p in people]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for p in people:
            z.write(orl / p / "1.pgm", f"{p}/1.pgm")
    return ("\n".join(lines) + "\n").encode(), buf.getvalue()


@pytest.mark.heavy
def test_a_folder_evaluation_runs_in_a_worker_while_the_page_and_searches_go_on(
        app_data: Settings, orl: Path, tmp_path: Path, face_rgb: np.ndarray) -> None:
    small = tmp_path / "small"
    for person in ("s5", "s6"):
        shutil.copytree(orl / person, small / person)
    _enroll_one(app_data, orl)
    make_user(app_data, "ana", "admin")
    at = open_page("evaluation", "ana")
    at.radio(key="dataset").set_value("Another folder").run()
    at.text_input(key="folder").set_value(str(small)).run()
    reached, gate = threading.Event(), threading.Event()

    def hold(stage: str, done: int, total: int) -> None:
        if stage == "probes (original)" and done == 1:
            reached.set()
            gate.wait(WAIT)

    owner = jobs.owner_of(app_data.data_dir, "ana")
    with jobs.watch(hold):
        try:
            at.button(key="run").click().run()  # returns: the page does not run the evaluation
            assert not at.exception, at.exception
            assert reached.wait(WAIT), jobs.latest(owner)
            job = jobs.latest(owner)
            assert job is not None and job.running and job.title == "small"
            assert job.text == "probes (original): 1/14" and 0 < job.fraction < 1
            found = state.workspace(app_data).search(face_rgb, top_k=3)  # another person
            assert found.faces and job.running
            at.run()  # the person looks again: the progress, no result yet
            assert not at.exception, at.exception
            assert "Evaluating small: probes (original): 1/14" in _progress_texts(at)
            assert not at.get("plotly_chart") and job.running
        finally:
            gate.set()
    rerun_until(at, lambda at: bool(at.error or at.get("plotly_chart")), "the charts")
    assert not at.error, [e.value for e in at.error]
    assert len(at.get("plotly_chart")) == 5  # roc, pr, det, cmc, distributions
    assert jobs.latest(owner) is None  # the page took the result


@pytest.mark.heavy
def test_an_import_without_a_queue_runs_in_a_dashboard_thread(
        app_data: Settings, orl: Path, face_rgb: np.ndarray) -> None:
    """No broker: the Register page keeps the files and starts the same job row a queue worker
    would run, in a thread of the dashboard; its run returns while the import is mid-way, the
    panel shows the progress, then the counts and every row."""
    assert not app_data.broker_url
    _enroll_one(app_data, orl)
    sheet, photos = _import_files(orl, ["s31", "s32", "s33"])
    make_user(app_data, "inv", "investigator")
    at = open_page("register", "inv")
    at.file_uploader(key="import_sheet").set_value(("cases.csv", sheet, "text/csv"))
    at.file_uploader(key="import_photos").set_value(("photos.zip", photos, "application/zip"))
    at.checkbox(key="import_dry").uncheck()
    ws = state.workspace(app_data)
    reached, gate = threading.Event(), threading.Event()

    def hold(job_id: int, done: int, total: int) -> None:
        if done == 1:
            reached.set()
            gate.wait(WAIT)

    with import_jobs.watch(hold):
        try:
            at.button(key="import_go").click().run()  # returns while the import runs
            assert not at.exception, at.exception
            assert reached.wait(WAIT)
            (job,) = import_jobs.recent(ws.records)
            assert job.status == "running" and job.worker == import_jobs.local_worker()
            assert import_jobs.running_local() == [job.id]
            assert f"Import {job.id} started; progress below." in [s.value for s in at.success]
            assert Path(job.folder).parent == import_jobs.upload_folder(app_data)
            found = ws.search(face_rgb, top_k=3)  # another person's search
            assert found.faces
            assert import_jobs.get(ws.records, job.id).status == "running"
            at.run()  # the person looks again
            assert not at.exception, at.exception
            line = next(t for t in _progress_texts(at) if f"Import {job.id}" in t)
            assert "rows checked on dashboard" in line
        finally:
            gate.set()
    rerun_until(at, lambda at: any(f"Import {job.id} (cases.csv): " in c
                                   for c in _captions(at)) or bool(at.error), "the counts")
    assert not at.error, [e.value for e in at.error]
    assert any("3 imported, 0 updated, 0 unchanged, 0 rejected" in c for c in _captions(at))
    (table,) = [d.value for d in at.dataframe if "reasons" in d.value.columns]
    assert list(table["status"]) == ["imported"] * 3
    assert sorted(c.ref for c in ws.records.list_cases() if c.ref) == ["B-s31", "B-s32", "B-s33"]
    assert not Path(job.folder).exists(), "kept files removed"
    assert import_jobs.running_local() == []


@pytest.mark.heavy
def test_close_all_stops_running_evaluations_and_imports(ws_settings: Settings,
                                                        orl: Path) -> None:
    """A shutdown never leaves a thread inside a model call: close_all asks the folder
    evaluation and the import to stop at their next photo or row and waits for their threads;
    both say they were stopped."""
    ws = state.workspace(ws_settings)
    sheet, photos = _import_files(orl, ["s34", "s35", "s36"])
    eval_at, import_at = threading.Event(), threading.Event()
    release_eval, release_import = threading.Event(), threading.Event()

    def hold_eval(stage: str, done: int, total: int) -> None:
        if done == 1:
            eval_at.set()
            release_eval.wait(WAIT)

    def hold_import(job_id: int, done: int, total: int) -> None:
        if done == 1:
            import_at.set()
            release_import.wait(WAIT)

    closer = threading.Thread(target=state.close_all)
    try:
        job = jobs.start_folder(jobs.owner_of(ws_settings.data_dir, "ana"), ws_settings,
                                ev.check_folder(ws_settings, orl, True), ["facenet"],
                                hook=hold_eval)
        with import_jobs.watch(hold_import):
            job_id = importing.submit_import(ws, "cases.csv", sheet, photos, "inv", False)
            assert eval_at.wait(WAIT) and import_at.wait(WAIT)
            closer.start()
            _until(job.stop)  # close_all asked the evaluation to stop...
            release_eval.set()
            assert job.finished.wait(WAIT) and job.error == jobs.STOPPED
            _until(None, lambda: import_jobs._local.stopping(job_id))  # ...then the import
            release_import.set()
            closer.join(WAIT)
    finally:
        release_eval.set()
        release_import.set()
    assert not closer.is_alive() and not job.thread.is_alive()
    assert import_jobs.running_local() == []
    records = open_records(ws_settings)  # the workspace is closed
    try:
        stopped = import_jobs.get(records, job_id)
        assert stopped.status == "failed" and stopped.error == import_jobs.STOPPED
        assert not Path(stopped.folder).exists()
    finally:
        records.engine.dispose()

"""Alerts through the outbox with the real ``sendgrid`` and ``twilio`` clients and the webhook
sender, against fake providers on 127.0.0.1: content, signatures, retries with backoff, a killed
worker, the cooldown, and the Alerts page."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from findme.alerts import channels, outbox
from findme.alerts import rules as alerts
from findme.alerts import store as alert_store
from findme.cases import users
from findme.cases.records import CaseDetails
from findme.cases.registry import PhotoInput, enroll_case
from findme.config import Settings, reset_settings
from findme.evaluation.datasets import identities
from findme.faces.image import load_image
from findme.search.decision import Decision
from findme.workspace import Workspace, open_workspace
from tests.fake_providers import FakeProvider, provider_env

pytestmark = pytest.mark.heavy


@pytest.fixture
def fakes():
    f = {k: FakeProvider(k).start() for k in ("sendgrid", "twilio", "webhook")}
    yield f
    for p in f.values():
        p.stop()


@pytest.fixture
def env(fakes, ws_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    values = provider_env(fakes["sendgrid"], fakes["twilio"], fakes["webhook"])
    values.update(FINDME_DATA_DIR=str(ws_settings.data_dir), FINDME_ALERT_WORKER="0",
                  FINDME_SECRETS_FILE=str(ws_settings.data_dir / "none.toml"))
    for k, v in values.items():
        monkeypatch.setenv(k, v)
    reset_settings()
    yield values
    reset_settings()


@pytest.fixture
def ws(env) -> Workspace:
    from findme.config import get_settings

    w = open_workspace(get_settings())
    yield w
    w.close()


def _enroll(ws: Workspace, celeb5: Path, person: str = "ben_afflek", **details) -> int:
    photos = identities(celeb5 / "train")[person][1:3]
    return enroll_case(CaseDetails(person.replace("_", " ").title(), consent_recorded=True,
                                   **details),
                       [PhotoInput(p.name, p.read_bytes()) for p in photos], ws.records,
                       ws.store, ws.settings).case_id


def _probe(ws: Workspace, celeb5: Path, person: str = "ben_afflek"):
    return load_image(identities(celeb5 / "val")[person][0], ws.settings)


def _drain(ws: Workspace, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        outbox.run_once(ws.records, ws.settings)
        if not alert_store.list_alerts(ws.records, status="pending"):
            return
        time.sleep(0.05)
    raise AssertionError("alerts still pending")


def test_a_match_sends_one_email_one_sms_one_signed_webhook(ws: Workspace, celeb5: Path,
                                                            fakes) -> None:
    case_id = _enroll(ws, celeb5)
    result = ws.search(_probe(ws, celeb5), source="photo", source_ref="tip.jpg")
    (lead_id,) = result.lead_ids
    assert result.faces[0].best.decision == "match"
    queued = alert_store.list_alerts(ws.records)
    assert sorted(a.channel for a in queued) == ["dashboard", "email", "sms", "webhook"]
    assert all(a.status == "pending" for a in queued if a.channel != "dashboard")
    report = outbox.run_once(ws.records, ws.settings)
    assert len(report.sent) == 3 and not report.retrying
    link = f"http://127.0.0.1:8501/Review_leads?lead={lead_id}"

    (mail,) = fakes["sendgrid"].requests
    assert mail.path == "/v3/mail/send"
    assert mail.headers["authorization"] == "Bearer SG.test-key"
    payload = mail.json()
    assert payload["personalizations"][0]["to"] == [{"email": "duty@ngo.test"}]
    assert payload["from"]["email"] == "alerts@findme.test"
    assert payload["subject"] == f"Find Me AI: MATCH for case #{case_id}"
    text = payload["content"][0]["value"]
    assert link in text and "Ben Afflek" not in json.dumps(payload)  # no account: no name

    (sms,) = fakes["twilio"].requests
    assert sms.path == f"/2010-04-01/Accounts/AC{'0' * 32}/Messages.json"
    form = sms.form()
    assert form["To"] == "+15550111" and form["From"] == "+15550100"
    assert f"case #{case_id}" in form["Body"] and link in form["Body"]
    assert "Ben" not in form["Body"] and "MediaUrl" not in form

    (hook,) = fakes["webhook"].requests
    assert channels.verify(hook.body, hook.headers["x-findme-signature"],
                           "webhook-secret-for-tests")
    assert not channels.verify(hook.body + b" ", hook.headers["x-findme-signature"],
                               "webhook-secret-for-tests")
    assert not channels.verify(hook.body, hook.headers["x-findme-signature"], "wrong secret")
    body = hook.json()
    assert body["case_id"] == case_id and body["lead_id"] == lead_id
    assert body["decision"] == "match" and body["url"] == link
    assert hook.headers["idempotency-key"] == body["idempotency_key"]
    assert "Ben" not in hook.body.decode()
    sent = alert_store.list_alerts(ws.records, status="sent")
    assert len(sent) == 4 and all(a.provider_id for a in sent if a.channel in ("email", "sms"))


def test_email_to_the_assigned_investigator_names_the_child(ws: Workspace, celeb5: Path,
                                                            fakes) -> None:
    users.add_user(ws.records, "inv", "correct horse battery", "investigator",
                   email="inv@ngo.test", phone="+15550122")
    _enroll(ws, celeb5, assigned_to="inv")
    ws.search(_probe(ws, celeb5), source="photo", source_ref="tip.jpg")
    outbox.run_once(ws.records, ws.settings)
    mails = {m.json()["personalizations"][0]["to"][0]["email"]: m.json()
             for m in fakes["sendgrid"].requests}
    assert set(mails) == {"duty@ngo.test", "inv@ngo.test"}
    assert "Ben Afflek" in mails["inv@ngo.test"]["subject"]
    assert "Ben Afflek" not in json.dumps(mails["duty@ngo.test"])
    assert {r.form()["To"] for r in fakes["twilio"].requests} == {"+15550111", "+15550122"}


def test_providers_down_then_back_everything_arrives_once(ws: Workspace, celeb5: Path,
                                                          fakes) -> None:
    fakes["sendgrid"].failures = 2
    fakes["twilio"].failures, fakes["twilio"].fail_with, fakes["twilio"].hang_seconds = \
        2, "hang", 1.5  # longer than the 1 s client time-out
    fakes["webhook"].failures = 3
    _enroll(ws, celeb5)
    ws.search(_probe(ws, celeb5), source="photo", source_ref="tip.jpg")
    first = outbox.run_once(ws.records, ws.settings)
    assert len(first.retrying) == 3 and not first.sent
    pending = {a.channel: a for a in alert_store.list_alerts(ws.records, status="pending")}
    assert set(pending) == {"email", "sms", "webhook"}
    _drain(ws)
    for kind in ("sendgrid", "twilio", "webhook"):
        assert len(fakes[kind].delivered) == 1, kind
    by_channel = {a.channel: a for a in alert_store.list_alerts(ws.records)}
    for channel, fails in (("email", 2), ("sms", 2), ("webhook", 3)):
        a = by_channel[channel]
        assert a.status == "sent" and a.attempts == fails + 1
        tries = alert_store.attempts(ws.records, [a.id])
        assert [t.ok for t in tries] == [False] * fails + [True]
        assert tries[0].http_status == (None if channel == "sms" else 500)
        gaps = [(b.at - a_.at).total_seconds() for a_, b in zip(tries, tries[1:], strict=False)]
        # each pause is at least the backoff of its attempt (0.2 s, 0.4 s, 0.8 s...)
        assert all(g >= outbox.backoff(k + 1, 0.2) - 0.05 for k, g in enumerate(gaps)), gaps
    assert outbox.backoff(1, 5) == 5 and outbox.backoff(4, 5) == 40
    assert outbox.backoff(30, 5) == outbox.MAX_BACKOFF


def test_permanent_errors_fail_and_can_be_retried(ws: Workspace, celeb5: Path, fakes,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from dataclasses import replace

    _enroll(ws, celeb5)
    ws.search(_probe(ws, celeb5), source="photo", source_ref="tip.jpg")
    fakes["webhook"].stop()  # nobody listens: a connection error, retried...
    ws.records.settings = replace(ws.records.settings, alert_max_attempts=2)
    settings = ws.records.settings
    for _ in range(2):
        outbox.run_once(ws.records, settings)
        time.sleep(0.3)
    (hook,) = alert_store.list_alerts(ws.records, channel="webhook")
    assert hook.status == "failed" and hook.attempts == 2  # ...until the attempts run out
    assert ws.records.audit_log(action="alert.failed")
    fakes["webhook"] = FakeProvider("webhook")
    with pytest.raises(ValueError, match="not failed"):
        email = alert_store.list_alerts(ws.records, channel="email")[0]
        alert_store.retry(ws.records, email.id, "boss")
    alert_store.retry(ws.records, hook.id, "boss")
    assert alert_store.list_alerts(ws.records, channel="webhook")[0].status == "pending"


def _worker(env: dict[str, str], fault: str | None) -> subprocess.CompletedProcess[str]:
    full = dict(os.environ, **env, FINDME_ALERT_LEASE="0.5")
    full.pop("FINDME_FAULT", None)
    if fault:
        full["FINDME_FAULT"] = fault
    return subprocess.run([sys.executable, "-m", "findme.cli", "alerts", "run", "--once"],
                          env=full, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("crash_on", ["webhook", "email"])
def test_a_killed_worker_resumes_and_delivers_everything(ws: Workspace, celeb5: Path, fakes,
                                                         env: dict[str, str],
                                                         crash_on: str) -> None:
    _enroll(ws, celeb5)
    ws.search(_probe(ws, celeb5), source="photo", source_ref="tip.jpg")
    died = _worker(env, f"after-send:{crash_on}")
    assert died.returncode == 70  # killed after the provider answered, before the record
    stuck = alert_store.list_alerts(ws.records, status="sending")
    assert [a.channel for a in stuck] == [crash_on]
    time.sleep(0.6)  # the dead worker's lease runs out
    again = _worker(env, None)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["in_doubt"] == [stuck[0].id]
    assert {a.status for a in alert_store.list_alerts(ws.records)} == {"sent"}
    tries = alert_store.attempts(ws.records, [stuck[0].id])
    if crash_on == "webhook":  # the receiver honours the idempotency key: delivered once
        assert fakes["webhook"].duplicates == 1 and len(fakes["webhook"].delivered) == 1
        assert "drops a repeat" in tries[0].note
    else:  # SendGrid has no such key: sent twice, and the record says so
        assert len(fakes["sendgrid"].delivered) == 2
        assert "may arrive twice" in tries[0].note
    others = {"webhook": "sendgrid", "email": "webhook"}[crash_on]
    assert len(fakes[others].delivered) == 1 and len(fakes["twilio"].delivered) == 1
    listed = subprocess.run([sys.executable, "-m", "findme.cli", "alerts", "list", "--json"],
                            env=dict(os.environ, **env), capture_output=True, text=True,
                            timeout=120)
    rows = json.loads(listed.stdout)["alerts"]
    assert {r["channel"] for r in rows} == {"dashboard", "email", "sms", "webhook"}
    assert all({"status", "attempts", "attempt_log"} <= set(r) for r in rows)


def test_cooldown_one_alert_for_ten_frames_on_one_camera(ws: Workspace, celeb5: Path) -> None:
    _enroll(ws, celeb5)
    frame = _probe(ws, celeb5)
    leads = []
    for k in range(10):
        leads += ws.search(frame, source="cctv", source_ref=f"gate3.mp4@{k}s",
                                         alert_source="camera:Gate 3").lead_ids
    assert len(leads) == 10  # every frame's lead is kept for review...
    queued = alert_store.list_alerts(ws.records)
    assert sorted(a.channel for a in queued) == ["dashboard", "email", "sms", "webhook"]
    assert len(ws.records.audit_log(action="alert.cooldown")) == 9  # ...but alerts once
    ws.search(frame, source="cctv", source_ref="hall.mp4@1s",
                            alert_source="camera:Hall")
    assert len(alert_store.list_alerts(ws.records, channel="dashboard")) == 2  # another camera


def test_channels_without_credentials_are_off(ws_settings: Settings, celeb5: Path) -> None:
    status = alerts.channel_status(ws_settings)
    assert status["dashboard"][0] and not status["email"][0] and not status["sms"][0]
    assert "FINDME_SENDGRID_API_KEY" in status["email"][1]
    with open_workspace(ws_settings) as w:
        _enroll(w, celeb5)
        w.search(_probe(w, celeb5), source="photo", source_ref="tip.jpg")
        assert [a.channel for a in alert_store.list_alerts(w.records)] == ["dashboard"]
        (note,) = alert_store.unread(w.records, "rita")
        assert note.subject.startswith("MATCH: case #")
        alert_store.mark_read(w.records, "rita", [note.id])
        assert alert_store.unread(w.records, "rita") == [] and alert_store.unread(w.records, "sam")
        with pytest.raises(ValueError, match="off"):
            alerts.queue_test(w.records, ws_settings, "email", "boss")


def test_possible_alerts_only_when_asked(ws: Workspace) -> None:
    from dataclasses import replace

    from findme.cases.leads import NewLead, create_lead

    case_id = ws.records.create_case(CaseDetails("A"))
    new = NewLead(case_id, None, (0, 0, 1, 1), 0.6, {}, Decision.POSSIBLE)
    create_lead(ws.records, ws.settings, new, None, "photo")
    assert alert_store.list_alerts(ws.records) == []
    eager = replace(ws.settings, alert_possible=True)
    lead = create_lead(ws.records, eager, new, None, "photo", "another source")
    assert {a.lead_id for a in alert_store.list_alerts(ws.records)} == {lead}


def test_alerts_page_history_retry_and_test_alert(env, app_data: Settings, celeb5: Path,
                                                  fakes) -> None:
    from findme.ui import state
    from tests.pages_helpers import make_user, open_page, texts

    w = state.workspace(app_data)
    _enroll(w, celeb5)
    fakes["sendgrid"].failures = 100  # e-mail keeps failing
    w.search(_probe(w, celeb5), source="photo", source_ref="tip.jpg")
    outbox.run_once(w.records, app_data)
    make_user(app_data, "boss", "admin")
    make_user(app_data, "vic", "viewer")

    at = open_page("alerts", "boss")
    assert "Notifications (1 unread)" in [s.value for s in at.subheader]
    history = at.dataframe[0].value
    assert set(history["channel"]) == {"dashboard", "email", "sms", "webhook"}
    assert set(history["status"]) == {"sent", "pending"}
    assert len(at.get("plotly_chart")) == 2
    email = int(history[history["channel"] == "email"]["id"].iloc[0])
    at.selectbox(key="pick").select(email)
    at.run()
    assert at.dataframe[1].value["ok"].tolist() == [False]  # the attempt is shown
    fakes["sendgrid"].failures = 0
    at.button(key="retry").click()
    at.run()
    assert any("Delivered" in s.value for s in at.success)
    assert alert_store.list_alerts(w.records, channel="email")[0].status == "sent"

    before = len(fakes["webhook"].requests)
    at.button(key="test_webhook").click()
    at.run()
    assert any("Test webhook alert delivered" in s.value for s in at.success)
    assert len(fakes["webhook"].requests) == before + 1
    assert fakes["webhook"].requests[-1].json()["event"] == "test"

    viewer = open_page("alerts", "vic")
    assert not viewer.get("button") or not [b for b in viewer.button
                                            if b.key and b.key.startswith("test_")]
    assert "duty@ngo.test" not in set(viewer.dataframe[0].value["recipient"])
    shown = texts(viewer) + viewer.dataframe[0].value.to_csv()
    assert "/hook" not in shown and "(path hidden)" in shown  # the webhook's secret path
    stored = " ".join(a.recipient + (a.last_error or "")
                      for a in alert_store.list_alerts(w.records))
    assert "/hook" not in stored


def test_the_demo_never_alerts_real_people(env) -> None:
    from findme import demo
    from findme.config import get_settings

    live = get_settings()
    assert alerts.channel_status(live)["email"][0]  # the real workspace has every channel on
    status = alerts.channel_status(demo.demo_settings(live))
    assert status["dashboard"][0]
    assert not any(status[c][0] for c in ("email", "sms", "webhook"))

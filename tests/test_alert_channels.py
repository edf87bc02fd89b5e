"""Alert channels set on the Admin page (stored encrypted, never shown again, the environment
wins), test buttons that send through the real SendGrid client and webhook sender to fake
providers on 127.0.0.1, and notifications that link to their lead with a read history."""

from __future__ import annotations

import stat
from dataclasses import replace
from pathlib import Path

import pytest

from findme.alerts import channel_config, outbox
from findme.alerts import rules as alert_rules
from findme.alerts import store as alert_store
from findme.config import Settings, reset_settings
from tests.fake_providers import FakeProvider

SECRET_KEY = "SG.saved-on-the-admin-page-1234"
HOOK_SECRET = "hook-secret-saved-here-5678"


def test_saved_channels_are_encrypted_write_only_and_the_environment_wins(
        tmp_path: Path, settings: Settings) -> None:
    s = replace(settings, data_dir=tmp_path, sendgrid_api_key="", alert_from="",
                alert_emails=(), webhook_url="", webhook_secret="")
    assert channel_config.effective(s) is s  # nothing saved: as it was
    changed = channel_config.save(s, {"sendgrid_api_key": SECRET_KEY,
                                      "alert_from": "alerts@ngo.test",
                                      "alert_emails": "duty@ngo.test, boss@ngo.test"})
    assert sorted(changed) == ["alert_emails", "alert_from", "sendgrid_api_key"]
    folder = tmp_path / "config"
    raw = (folder / "alert-channels.enc").read_bytes()
    assert SECRET_KEY.encode() not in raw and b"alerts@ngo.test" not in raw  # encrypted
    for f in folder.iterdir():
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, f
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700

    e = channel_config.effective(s)
    assert e.sendgrid_api_key == SECRET_KEY and e.alert_emails == ("duty@ngo.test",
                                                                  "boss@ngo.test")
    assert alert_rules.channel_status(s)["email"][0]  # the rules see the saved channel
    views = {v.name: v for v in channel_config.fields(s)}
    assert views["sendgrid_api_key"].shown == "set (hidden)"  # never the key itself
    assert SECRET_KEY not in repr(channel_config.fields(s))
    assert views["alert_from"].shown == "alerts@ngo.test"

    env = replace(s, sendgrid_api_key="SG.from-env")  # the environment wins
    assert channel_config.effective(env).sendgrid_api_key == "SG.from-env"
    assert {v.name: v for v in channel_config.fields(env)}["sendgrid_api_key"].source == \
        "environment or secrets file"

    assert channel_config.save(s, {"sendgrid_api_key": None}) == []  # None keeps
    assert channel_config.save(s, {"sendgrid_api_key": ""}) == ["sendgrid_api_key"]
    assert not channel_config.effective(s).sendgrid_api_key
    with pytest.raises(ValueError, match="https"):
        channel_config.save(s, {"webhook_url": "file:///etc/passwd"})
    demo = replace(s, data_dir=tmp_path / "demo")  # another data folder: nothing saved there
    assert not alert_rules.channel_status(demo)["email"][0]


@pytest.fixture
def fakes():
    f = {k: FakeProvider(k).start() for k in ("sendgrid", "webhook")}
    yield f
    for p in f.values():
        p.stop()


@pytest.fixture
def provider_hosts(fakes, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where the real SendGrid client goes (set before the dashboard's settings are read)."""
    monkeypatch.setenv("FINDME_SENDGRID_HOST", fakes["sendgrid"].url)
    monkeypatch.setenv("FINDME_ALERT_TIMEOUT", "5")
    reset_settings()


@pytest.mark.heavy
def test_admin_sets_channels_and_test_buttons_reach_the_providers(
        provider_hosts: None, app_data: Settings, fakes) -> None:
    from findme.ui import state
    from tests.pages_helpers import make_user, open_page, texts

    make_user(app_data, "boss", "admin")
    at = open_page("admin", "boss")
    assert "E-mail (SendGrid) · off" in [e.label for e in at.expander]
    at.text_input(key="ch_sendgrid_api_key").input(SECRET_KEY)
    at.text_input(key="ch_alert_from").input("alerts@ngo.test")
    at.text_input(key="ch_alert_emails").input("duty@ngo.test")
    next(b for b in at.button if b.label == "Save email settings").click()
    at.run()
    assert not at.exception
    assert any("email settings saved (3 changed)" in s.value for s in at.success)
    assert "E-mail (SendGrid) · on" in [e.label for e in at.expander]
    assert at.text_input(key="ch_sendgrid_api_key").value == ""  # never shown again
    assert at.text_input(key="ch_sendgrid_api_key").placeholder.startswith("set (hidden)")
    shown = texts(at) + " ".join(str(t.value) for t in at.text_input)
    assert SECRET_KEY not in shown

    at.button(key="ch_test_email").click()
    at.run()
    assert any("Test email alert delivered" in s.value for s in at.success), texts(at)
    [mail] = fakes["sendgrid"].requests
    assert mail.headers["authorization"] == f"Bearer {SECRET_KEY}"  # the real client, our key
    assert mail.json()["personalizations"][0]["to"][0]["email"] == "duty@ngo.test"

    at.text_input(key="ch_webhook_url").input(f"{fakes['webhook'].url}/secret-path")
    at.text_input(key="ch_webhook_secret").input(HOOK_SECRET)
    next(b for b in at.button if b.label == "Save webhook settings").click()
    at.run()
    at.button(key="ch_test_webhook").click()
    at.run()
    assert any("Test webhook alert delivered" in s.value for s in at.success)
    [hook] = fakes["webhook"].requests
    assert hook.path == "/secret-path" and hook.json()["event"] == "test"
    assert "secret-path" not in texts(at) + " ".join(str(t.value) for t in at.text_input)
    records = state.workspace(app_data).records
    assert [r["target"] for r in records.audit_log(action="alerts.channels")] == [
        "webhook", "email"]

    alerts_page = open_page("alerts", "boss")  # the Alerts page sees the saved channels
    assert not alerts_page.exception
    assert alerts_page.button(key="test_email") and alerts_page.button(key="test_webhook")


@pytest.mark.heavy
def test_notifications_link_to_their_lead_and_read_ones_are_kept(app_data: Settings,
                                                                 celeb5: Path) -> None:
    from findme.cases.records import CaseDetails
    from findme.cases.registry import PhotoInput, enroll_case
    from findme.evaluation.datasets import identities
    from findme.faces.image import load_image
    from findme.ui import state
    from tests.pages_helpers import make_user, open_page, texts

    w = state.workspace(app_data)
    photos = identities(celeb5 / "train")["ben_afflek"][1:3]
    enroll_case(CaseDetails("Ben Affleck", consent_recorded=True),
                [PhotoInput(p.name, p.read_bytes()) for p in photos], w.records, w.store,
                app_data)
    w.search(load_image(identities(celeb5 / "val")["ben_afflek"][0], app_data),
             source="photo", source_ref="tip.jpg")
    outbox.run_once(w.records, app_data)
    [note] = alert_store.unread(w.records, "rev")
    assert note.lead_id
    make_user(app_data, "rev", "reviewer")

    at = open_page("alerts", "rev")
    assert "Notifications (1 unread)" in [s.value for s in at.subheader]
    links = [p for p in at.get("page_link")]
    assert any(f"Open lead {note.lead_id}" in p.proto.label
               and f"lead={note.lead_id}" in p.proto.query_string for p in links)
    assert "Read (0)" in [t.label for t in at.tabs]
    at.button(key="mark_read").click()
    at.run()
    assert "Notifications (0 unread)" in [s.value for s in at.subheader]
    assert "Read (1)" in [t.label for t in at.tabs]  # kept, under Read
    assert "Nothing unread" in texts(at)
    assert any(f"Open lead {note.lead_id}" in p.proto.label for p in at.get("page_link"))
    assert [a.id for a, _ in alert_store.read(w.records, "rev")] == [note.id]
    history = at.dataframe[0].value
    assert "None" not in history.to_csv() and "NaT" not in history.to_csv()

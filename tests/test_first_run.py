"""First run: the setup code printed before the dashboard starts, the demo switching itself on
when loaded, limits shown as the settings have them, the overview's photo count, and names."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from findme import demo
from findme.config import Settings

ROOT = Path(__file__).parent.parent


def _setup_code(data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, FINDME_DATA_DIR=str(data_dir),
               FINDME_SECRETS_FILE=str(data_dir / "no-secrets.toml"))
    return subprocess.run([sys.executable, "-m", "findme.cli", "setup-code"], env=env,
                          capture_output=True, text=True, timeout=300)


def test_make_run_prints_the_setup_code_until_an_account_exists(tmp_path: Path) -> None:
    first = _setup_code(tmp_path)
    assert first.returncode == 0, first.stderr
    code = (tmp_path / "first-admin-code.txt").read_text().strip()
    assert re.fullmatch(r"[0-9A-F]{8}", code)
    assert f"setup code {code}" in first.stdout
    again = _setup_code(tmp_path)
    assert f"setup code {code}" in again.stdout  # the same code until it is used

    from findme.cases import users
    from findme.cases.records import open_records
    from findme.config import Settings as S

    records = open_records(S(data_dir=tmp_path))
    users.add_user(records, "boss", "correct horse battery", "admin")
    records.engine.dispose()
    assert _setup_code(tmp_path).stdout == ""  # an account exists: nothing to print

    recipe = (ROOT / "Makefile").read_text().split("\nrun:", 1)[1].split("\n\n", 1)[0]
    assert recipe.index("findme setup-code") < recipe.index("streamlit run")


def test_the_uploader_limit_is_the_apps_limit() -> None:
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["maxUploadSize"] * 2**20 == Settings(ROOT).max_file_bytes


def test_the_demo_spells_names_right(settings: Settings) -> None:
    assert demo.display_name("ben_afflek") == "Ben Affleck"
    assert demo.display_name("jerry_seinfeld") == "Jerry Seinfeld"
    labels = " ".join(demo.samples(settings))
    assert "Ben Affleck" in labels and "Afflek" not in labels
    assert "Ben Affleck" in [name for name, _ in demo._plan(settings.eval_dir)]


@pytest.mark.heavy
def test_loading_the_demo_opens_it_and_says_so(app_data: Settings) -> None:
    from tests.pages_helpers import make_user, open_page, texts

    make_user(app_data, "boss", "admin")
    at = open_page("overview", "boss")
    assert "No cases yet" in texts(at)
    assert at.metric[4].label == "Photos in the store" and at.metric[4].value == "0"
    at.button(key="load_demo").click()
    at.run(timeout=900)
    assert not at.exception
    shown = texts(at)
    assert "DEMO WORKSPACE" in shown  # the session is in the demo now
    assert "You are now in the demo workspace" in shown
    assert at.radio(key="workspace_radio").value == "Demo"
    from findme.ui import session as ui_session

    ws = ui_session.demo_workspace()
    photos = {p.id for p in ws.records.photos() if p.status == "ready"}
    assert int(at.metric[4].value) == len(photos)  # each photo once, not once per model
    assert "Afflek" not in shown and "Affleck" in " ".join(
        c.name for c in ws.records.list_cases())

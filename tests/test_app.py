"""The dashboard's entry page renders with the provisioned models."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).parent.parent


def test_overview_shows_model_status() -> None:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    assert not at.exception
    assert any("provisioned and verified" in s.value for s in at.success)
    table = at.dataframe[0].value
    assert {"facenet", "arcface-mbf", "centerface"} <= set(table["name"])

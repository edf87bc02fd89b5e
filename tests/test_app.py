"""The dashboard's entry page: model status for a signed-in user."""

from __future__ import annotations

import pytest

from findme.config import Settings
from tests.pages_helpers import make_user, open_page


@pytest.mark.heavy
def test_overview_shows_model_status(app_data: Settings) -> None:
    make_user(app_data, "vic", "viewer")
    at = open_page("overview", "vic")
    assert any("provisioned and verified" in s.value for s in at.success)
    table = at.dataframe[0].value
    assert {"facenet", "arcface-mbf", "centerface"} <= set(table["name"])
    assert not any(b.label == "Load the demo workspace" for b in at.button)  # viewer may not

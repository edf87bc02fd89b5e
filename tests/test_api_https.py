"""``findme api --https`` serves TLS with the dashboard's certificate (``findme cert``), as
``findme serve --https`` does for the dashboard."""

from __future__ import annotations

import ssl
from pathlib import Path

import httpx
import pytest

from findme.config import Settings

from .api_server import add_key, findme, new_data_dir, running_api


@pytest.mark.heavy
def test_https_with_the_dashboards_certificate(tmp_path: Path, settings: Settings,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))  # the CA key goes there
    data = new_data_dir(tmp_path, settings.weights_dir)
    made = findme(data, "cert")
    assert made.returncode == 0, made.stderr
    key = add_key(data, "tls-client", "viewer")
    with running_api(data, https=True) as url:
        assert url.startswith("https://")
        ca = str(data / "tls" / "ca.pem")
        listed = httpx.get(f"{url}/api/v1/cases", verify=ca,
                           headers={"Authorization": f"Bearer {key}"})
        assert listed.status_code == 200 and listed.json()["cases"] == []
        with pytest.raises(httpx.ConnectError):  # an unknown CA is refused
            httpx.get(f"{url}/api/v1/health", verify=ssl.create_default_context())
    bare = new_data_dir(tmp_path / "bare", settings.weights_dir)
    refused = findme(bare, "api", "--https")  # no certificate: a sentence, no server
    assert refused.returncode != 0 and "make cert" in refused.stderr

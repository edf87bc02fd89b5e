"""Settings come from FINDME_* variables, with clear errors for bad values."""

from __future__ import annotations

from pathlib import Path

import pytest

from findme.config import ConfigError, Settings


def test_data_dir_roots_every_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FINDME_DATA_DIR", str(tmp_path))
    s = Settings.from_env()
    assert s.data_dir == tmp_path.resolve()
    for p in (s.weights_dir, s.model_dir, s.sources_dir, s.eval_dir, s.deepface_home):
        assert tmp_path.resolve() in p.parents
    assert s.model_dir == s.deepface_home / ".deepface" / "weights"


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("FINDME_MODELS", "FINDME_MAX_PIXELS", "FINDME_DETECTOR", "FINDME_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    s = Settings.from_env()
    assert s.models == ("facenet", "arcface-mbf")
    assert s.max_pixels == 40_000_000
    assert s.detector == "centerface"
    assert s.data_dir == (Path.cwd() / "data").resolve()


def test_values_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FINDME_MODELS", "facenet512, dlib")
    monkeypatch.setenv("FINDME_MAX_PIXELS", "1000")
    monkeypatch.setenv("FINDME_MIN_FACE_PX", "24")
    s = Settings.from_env()
    assert s.models == ("facenet512", "dlib")
    assert s.max_pixels == 1000
    assert s.min_face_px == 24


@pytest.mark.parametrize("name,value", [("FINDME_MAX_PIXELS", "lots"),
                                        ("FINDME_MAX_PIXELS", "0"),
                                        ("FINDME_MIN_SHARPNESS", "sharp"),
                                        ("FINDME_MODELS", " , ")])
def test_bad_values_name_the_variable(monkeypatch: pytest.MonkeyPatch, name: str,
                                      value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match="FINDME_"):
        Settings.from_env()


def test_apply_environment_points_deepface_home(monkeypatch: pytest.MonkeyPatch,
                                                tmp_path: Path) -> None:
    monkeypatch.setenv("FINDME_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("DEEPFACE_HOME", raising=False)
    Settings.from_env().apply_environment()
    import os

    assert os.environ["DEEPFACE_HOME"] == str(tmp_path.resolve() / "weights")


def test_secrets_file_fills_in_and_environment_wins(monkeypatch: pytest.MonkeyPatch,
                                                    tmp_path: Path) -> None:
    from findme.config import Settings

    secrets = tmp_path / "secrets.toml"
    secrets.write_text('FINDME_SENDGRID_API_KEY = "SG.secret"\nFINDME_TWO_PERSON_RULE = true\n'
                       'FINDME_ALERT_EMAILS = ["a@x.org", "b@x.org"]\n'
                       'FINDME_PUBLIC_URL = "https://findme.example.org/"\n'
                       '[other]\nFINDME_IGNORED = "tables are ignored"\n')
    monkeypatch.setenv("FINDME_SECRETS_FILE", str(secrets))
    monkeypatch.setenv("FINDME_PUBLIC_URL", "http://127.0.0.1:9999")
    s = Settings.from_env()
    assert s.sendgrid_api_key == "SG.secret" and s.two_person_rule
    assert s.alert_emails == ("a@x.org", "b@x.org")
    assert s.public_url == "http://127.0.0.1:9999"
    assert "SG.secret" not in repr(s)  # secrets never reach a log line
    secrets.write_text("FINDME_TWO_PERSON_RULE = maybe")
    with pytest.raises(ConfigError, match="secrets.toml"):
        Settings.from_env()


def test_secrets_example_documents_every_setting() -> None:
    import re

    root = Path(__file__).parent.parent
    code = (root / "findme" / "config.py").read_text()
    names = set(re.findall(r'_env_\w+\("(FINDME_\w+)"', code))
    example = (root / ".streamlit" / "secrets.toml.example").read_text()
    readme = (root / "docs" / "settings.md").read_text()  # the guide's settings table
    undocumented = {n for n in names if n not in example and n not in readme}
    assert not undocumented, undocumented


def test_the_dashboard_never_shows_tracebacks() -> None:
    """Streamlit shows a plain message for an uncaught error (its default shows the whole
    traceback to anyone, signed-out visitors included)."""
    import tomllib

    root = Path(__file__).resolve().parent.parent
    config = tomllib.loads((root / ".streamlit" / "config.toml").read_text())
    assert config["client"]["showErrorDetails"] == "none"

"""``findme export OUT.zip`` writes ``OUT.zip.part`` first: a symlink or a file planted at that
name (by someone who can write the folder) is refused, never followed or truncated."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from findme.config import Settings


def _export(settings: Settings, out: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, FINDME_DATA_DIR=str(settings.data_dir))
    return subprocess.run([sys.executable, "-m", "findme.cli", "export", str(out)], env=env,
                          capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("planted", ["symlink", "dangling symlink", "file"])
def test_a_planted_part_file_is_not_followed(ws_settings: Settings, tmp_path: Path,
                                             planted: str) -> None:
    victim = tmp_path / "victim.txt"
    if planted != "dangling symlink":
        victim.write_text("precious")
    out = tmp_path / "export.zip"
    part = tmp_path / "export.zip.part"
    if planted == "file":
        part.write_text("someone else's")
    else:
        part.symlink_to(victim)
    run = _export(ws_settings, out)
    assert run.returncode != 0 and ".part" in run.stderr, (run.stdout, run.stderr)
    assert not out.exists()
    if planted == "dangling symlink":
        assert not victim.exists()  # nothing created through the link
    else:
        assert victim.read_text() == "precious"
    if planted == "file":
        assert part.read_text() == "someone else's"
    else:
        assert part.is_symlink()


def test_export_writes_a_private_file_and_leaves_no_part(ws_settings: Settings,
                                                         tmp_path: Path) -> None:
    out = tmp_path / "export.zip"
    run = _export(ws_settings, out)
    assert run.returncode == 0, run.stderr
    assert out.stat().st_mode & 0o777 == 0o600
    assert not (tmp_path / "export.zip.part").exists()

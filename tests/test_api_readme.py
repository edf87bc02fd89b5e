"""The guide's API examples (``docs/api.md``, section *Examples*) run as written: its ``bash``
blocks (``findme apikeys``, ``curl``) in one shell, then its ``python`` block (``httpx``), against
a real API server, in a folder holding the files they name (real photos)."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from findme.config import Settings
from findme.evaluation.datasets import identities

from .api_server import ROOT, environment, new_data_dir, running_api
from .conftest import usable_photos

pytestmark = pytest.mark.heavy


def blocks(language: str) -> list[str]:
    """The ``language`` code blocks of the *Examples* section of ``docs/api.md``, in order."""
    text = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    section = text.split("\n## Examples\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(rf"```{language}\n(.*?)```", section, re.S)


def test_the_integrating_examples_run_as_written(tmp_path: Path, settings: Settings,
                                                 celeb5: Path) -> None:
    bash, python = blocks("bash"), blocks("python")
    assert bash and python and "curl" in "".join(bash) and "httpx" in "".join(python)
    train, val = identities(celeb5 / "train"), identities(celeb5 / "val")
    work = tmp_path / "integrator"
    work.mkdir()
    for name, photo in zip(("asha-1.jpg", "asha-2.jpg"),
                           usable_photos(train["madonna"], settings, 2), strict=True):
        (work / name).write_bytes(photo.read_bytes())
    (work / "tip.jpg").write_bytes(val["madonna"][0].read_bytes())
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as z:
        for k, p in enumerate(usable_photos(train["elton_john"], settings, 2)):
            z.writestr(f"e{k}.jpg", p.read_bytes())
    (work / "photos.zip").write_bytes(zipped.getvalue())
    (work / "cases.csv").write_text("ref,name,photos,consent\nR-1,Imported Child,e0.jpg;e1.jpg,"
                                    "yes\n")
    data = new_data_dir(tmp_path, settings.weights_dir)
    with running_api(data) as url:
        env = environment(data, FINDME_API=url,
                          PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
        script = "set -euo pipefail\n" + "\n".join(bash) + '\necho "$FINDME_API_KEY" > .key\n'
        shell = subprocess.run(["bash", "-c", script], cwd=work, env=env, capture_output=True,
                               text=True, timeout=600)
        assert shell.returncode == 0, shell.stdout + shell.stderr
        out = shell.stdout + shell.stderr
        assert '"case_id":1' in shell.stdout and '"leads":[1]' in shell.stdout, out
        assert any(f'"status":"{s}"' in shell.stdout for s in ("queued", "running", "done")), out
        env["FINDME_API_KEY"] = (work / ".key").read_text().strip()
        py = subprocess.run([sys.executable, "-c", python[0]], cwd=work, env=env,
                            capture_output=True, text=True, timeout=600)
        assert py.returncode == 0, py.stdout + py.stderr
        assert "tip.jpg 1 " in py.stdout and "lead 1 case 1 confirmed" in py.stdout, \
            py.stdout + py.stderr

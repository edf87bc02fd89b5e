"""The ``findme`` command as a user runs it: JSON shapes, exit codes, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from findme.config import Settings

from .conftest import encode

FINDME = [sys.executable, "-m", "findme.cli"]


def _run(args: list[str], settings: Settings) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, FINDME_DATA_DIR=str(settings.data_dir))
    return subprocess.run(FINDME + args, env=env, capture_output=True, text=True, timeout=600)


def _snapshot(folder: Path) -> set[tuple[str, int]]:
    return {(str(p), p.stat().st_mtime_ns) for p in folder.rglob("*")}


def test_models_json(settings: Settings) -> None:
    proc = _run(["models", "--json"], settings)
    assert proc.returncode == 0, proc.stderr
    models = {m["id"]: m for m in json.loads(proc.stdout)["models"]}
    assert models["facenet"]["dim"] == 128 and models["facenet"]["available"]
    assert models["arcface-mbf"]["dim"] == 192 and models["arcface-mbf"]["available"]
    assert models["facenet512"]["dim"] == 512
    assert "npm" in models["arcface-mbf"]["source"]
    assert set(models["arcface"]) >= {"id", "dim", "available", "source"}


@pytest.mark.heavy
@pytest.mark.parametrize("model,dim", [("facenet", 128), ("arcface-mbf", 192)])
def test_embed_json(settings: Settings, face_photo: Path, model: str, dim: int) -> None:
    proc = _run(["embed", str(face_photo), "--model", model, "--json"], settings)
    assert proc.returncode == 0, proc.stderr
    faces = json.loads(proc.stdout)["faces"]
    assert len(faces) == 1
    face = faces[0]
    assert len(face["box"]) == 4 and len(face["landmarks"]) == 5
    assert all(len(p) == 2 for p in face["landmarks"])
    assert 0 < face["score"] <= 1 and face["model"] == model
    assert face["quality"]["usable"] is True and face["quality"]["reasons"] == []
    vec = np.array(face["embedding"])
    assert vec.shape == (dim,) and abs(np.linalg.norm(vec) - 1) < 1e-3


def test_embed_no_face_is_an_empty_list(settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "wall.png"
    path.write_bytes(encode(np.full((200, 200, 3), 120, np.uint8), "PNG"))
    proc = _run(["embed", str(path), "--json"], settings)
    assert proc.returncode == 0 and json.loads(proc.stdout) == {"faces": []}


@pytest.mark.parametrize("kind", ["text", "truncated", "empty", "missing", "bomb", "model"])
def test_bad_input_one_line_nonzero_nothing_written(settings: Settings, tmp_path: Path,
                                                     face_photo: Path, kind: str) -> None:
    path = tmp_path / "input.jpg"
    args = ["embed", str(path), "--json"]
    if kind == "text":
        path.write_text("hello, this is not a photo\n")
    elif kind == "truncated":
        data = face_photo.read_bytes()
        path.write_bytes(data[: len(data) // 3])
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "bomb":
        from .test_load_image import _png_claiming

        path.write_bytes(_png_claiming(50_000, 50_000))
    elif kind == "model":
        path.write_bytes(face_photo.read_bytes())
        args += ["--model", "vgg-face"]
    before = _snapshot(settings.data_dir)
    proc = _run(args, settings)
    assert proc.returncode != 0
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("findme: "), proc.stderr
    assert _snapshot(settings.data_dir) == before


@pytest.mark.heavy
def test_users_add_list_and_sign_in(ws_settings: Settings) -> None:
    from findme.cases import users
    from findme.cases.records import open_records

    env = dict(os.environ, FINDME_DATA_DIR=str(ws_settings.data_dir))
    add = subprocess.run(FINDME + ["users", "add", "boss", "--role", "admin", "--password-stdin"],
                         input="correct horse battery\n", env=env, capture_output=True,
                         text=True, timeout=120)
    assert add.returncode == 0, add.stderr
    short = subprocess.run(FINDME + ["users", "add", "kid", "--role", "viewer",
                                     "--password-stdin"], input="short\n", env=env,
                           capture_output=True, text=True, timeout=120)
    assert short.returncode == 2 and "at least 10" in short.stderr
    listed = _run(["users", "list", "--json"], ws_settings)
    assert [u["username"] for u in json.loads(listed.stdout)] == ["boss"]
    records = open_records(ws_settings)
    assert users.authenticate(records, "boss", "correct horse battery").role == "admin"


@pytest.mark.heavy
def test_demo_workspace_is_separate_and_searchable(ws_settings: Settings,
                                                   settings: Settings) -> None:
    from findme import demo
    from findme.faces.image import load_image
    from findme.workspace import open_workspace

    (ws_settings.data_dir / "eval").symlink_to(settings.eval_dir)
    proc = _run(["demo", "--json"], ws_settings)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["cases"] == 5 + demo.ORL_CASES and out["photos"] >= 5 + demo.ORL_CASES
    assert out["leads"] >= 5 and out["sightings"] == 1 and out["alerts"] >= 5
    again = json.loads(_run(["demo", "--json"], ws_settings).stdout)
    assert again["already_loaded"] and again["photos"] == 0
    live = open_workspace(ws_settings)
    assert live.records.list_cases() == []  # real cases untouched
    live.close()
    with open_workspace(demo.demo_settings(ws_settings)) as ws:
        names = [c.name for c in ws.records.list_cases()]
        assert all(n.startswith(demo.DEMO_PREFIX) for n in names)
        samples = demo.samples(ws_settings)
        hit = next(k for k in samples if k.startswith("Madonna"))
        result = ws.matcher.search_image(load_image(samples[hit], ws_settings))
        assert result.faces[0].best.name == f"{demo.DEMO_PREFIX}Madonna"
        nobody = next(k for k in samples if "in no case" in k)
        result = ws.matcher.search_image(load_image(samples[nobody], ws_settings))
        assert all(f.best is None or f.best.decision != "match" for f in result.faces)
        from findme.video import processor as video

        clip = video.scan(demo.sample_clip(ws_settings), ws.matcher, ws.settings, 0.5)
        assert [s.name for s in clip.sightings] == [f"{demo.DEMO_PREFIX}Madonna"]
        # what a demo shows beyond cases: leads to review, one confirmed, a scan, alerts
        from findme.alerts import store as alert_store
        from findme.video import scans

        statuses = [lead.status for lead in ws.records.leads()]
        assert statuses.count("confirmed") == 1 and statuses.count("new") >= 4
        (scan,) = scans.list_scans(ws.records)
        assert scan.status == "done" and scan.camera == "Demo camera"
        sent = alert_store.list_alerts(ws.records)
        assert sent and {a.channel for a in sent} == {"dashboard"}
        assert all(a.status == "sent" for a in sent)

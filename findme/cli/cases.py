"""``findme enroll``, ``search``, ``cases``, ``delete``: the registry from the command line."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from findme.cli.common import fail as _fail
from findme.config import get_settings
from findme.faces.image import read_limited

if TYPE_CHECKING:
    from findme.cases.records import CaseDetails


def _date(value: str | None) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date (YYYY-MM-DD)") from None


def _datetime(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        t = dt.datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a date or time (YYYY-MM-DD or YYYY-MM-DDTHH:MM)") from None
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)


def _details(args: argparse.Namespace) -> CaseDetails:
    """The record ``findme enroll`` was asked to register (missing, or ``--found``)."""
    from findme.cases.records import CaseDetails, RecordError

    if args.found:
        return CaseDetails(name=args.name or "unknown", gender=args.gender,
                           description=args.description, lawful_basis=args.lawful_basis,
                           kind="found", found_place=args.found_place, found_at=args.found_at,
                           institution=args.institution,
                           institution_contact=args.institution_contact, age_min=args.age_min,
                           age_max=args.age_max, languages=args.languages, marks=args.marks,
                           assigned_to=args.assign)
    if not args.name:
        raise RecordError("a name is required (--name) for a missing child")
    return CaseDetails(name=args.name, age_at_disappearance=args.age, gender=args.gender,
                       last_seen_place=args.last_seen, last_seen_date=args.last_seen_date,
                       birth_date=args.birth_date, description=args.description,
                       guardian_contact=args.guardian, consent_recorded=args.consent,
                       lawful_basis=args.lawful_basis, assigned_to=args.assign)


def cmd_enroll(args: argparse.Namespace) -> int:
    """Register a child from one or more photos (a missing child, or with ``--found`` a child
    found and in care); prints the case id. A likely duplicate on the same side stops it
    (exit 1, the duplicates listed) unless ``--allow-duplicate`` or ``--duplicate-of N``."""
    from findme.cases.records import RecordError
    from findme.cases.registry import (
        DuplicateSuspected,
        EnrollmentRejected,
        PhotoInput,
        enroll_case,
        require_lawful_basis,
    )
    from findme.search.store import StoreBusy
    from findme.workspace import open_workspace

    try:
        details = _details(args)
    except RecordError as exc:
        return _fail(str(exc))
    try:
        details.validate()
        require_lawful_basis(details)
        photos = []
        limit = get_settings().max_file_bytes
        for path in args.photos:
            try:
                data = read_limited(Path(path), limit)
            except (OSError, ValueError) as exc:
                return _fail(f"{path}: {exc}")
            photos.append(PhotoInput(Path(path).name, data,
                                     args.face - 1 if args.face else None, args.taken_date,
                                     args.age_at_photo))
        with open_workspace(get_settings()) as ws:
            result = enroll_case(details, photos, ws.records, ws.store, ws.settings,
                                 actor=args.actor, allow_duplicate=args.allow_duplicate,
                                 duplicate_of=args.duplicate_of)
    except DuplicateSuspected as exc:
        if args.json:
            print(json.dumps({"case_id": None, "duplicates": [
                {"case_id": d.case_id, "label": d.label, "name": d.name,
                 "registered_at": d.registered_at.isoformat(),
                 "registered_by": d.registered_by, "score": round(d.score, 4),
                 "decision": str(d.decision)} for d in exc.duplicates]}))
        return _fail(f"{exc} (--allow-duplicate, or --duplicate-of N)", 1)
    except EnrollmentRejected as exc:
        if args.json:
            print(json.dumps({"case_id": None, "photos": [
                {"photo": o.name, "accepted": False, "reasons": list(o.reasons)}
                for o in exc.outcomes]}))
        return _fail(str(exc), 1)
    except (RecordError, StoreBusy) as exc:
        return _fail(str(exc))
    if args.json:
        print(json.dumps({"case_id": result.case_id, "kind": details.kind, "photos": [
            {"photo": o.name, "accepted": o.accepted, "photo_id": o.photo_id,
             "reasons": list(o.reasons)} for o in result.photos],
            "cross_pairs": [p.as_dict() for p in result.cross_pairs]}))
    else:
        print(result.case_id)
        for pair in result.cross_pairs:
            print(f"cross-match: case {pair.case_id} and found F-{pair.found_id} "
                  f"{pair.decision} {pair.score:.3f} (lead {pair.lead_id})", file=sys.stderr)
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
    for c in records.list_cases(args.status, kind=args.kind):
        photos = records.photos(c.id)
        rows.append({"case_id": c.id, "label": c.label, "kind": c.kind, "name": c.name,
                     "status": c.status,
                     "age": c.age_at_disappearance, "gender": c.gender,
                     "last_seen_place": c.last_seen_place,
                     "photos": sum(p.status == "ready" for p in photos),
                     "created_at": c.created_at.isoformat()})
    if args.json:
        print(json.dumps({"cases": rows}))
    else:
        for r in rows:
            print(f"{r['label']:>7s}  {r['status']:6s}  {r['photos']} photo(s)  {r['name']}")
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


def register(sub: argparse._SubParsersAction) -> None:
    """Add this group's sub-commands to the ``findme`` parser."""
    p = sub.add_parser("enroll", help="register a missing child (or, --found, a child found "
                                      "and in care) from photos")
    p.add_argument("photos", nargs="+", metavar="PHOTO")
    p.add_argument("--name", help="the child's name (required for a missing child; a found "
                                  "child: the name given, default 'unknown')")
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
    p.add_argument("--assign", metavar="USER", help="the investigator / case worker (alerts)")
    p.add_argument("--taken-date", type=_date, help="when the photos were taken (YYYY-MM-DD)")
    p.add_argument("--age-at-photo", type=float, help="the child's age on the photos (years)")
    found = p.add_argument_group("a found child (--found; needs --lawful-basis)")
    found.add_argument("--found", action="store_true",
                       help="register a child found and in care whose family is unknown")
    found.add_argument("--found-place", help="where the child was found")
    found.add_argument("--found-at", type=_datetime, help="when (YYYY-MM-DD[THH:MM])")
    found.add_argument("--institution", help="the institution holding the child")
    found.add_argument("--institution-contact", help="its contact person / phone / email")
    found.add_argument("--age-min", type=int, help="estimated age, lowest (years)")
    found.add_argument("--age-max", type=int, help="estimated age, highest (years)")
    found.add_argument("--languages", help="language(s) the child speaks")
    found.add_argument("--marks", help="identifying marks (scars, birthmarks)")
    dup = p.add_mutually_exclusive_group()
    dup.add_argument("--allow-duplicate", action="store_const", const=True, default=False,
                     help="register even if the child looks already registered (audited)")
    dup.add_argument("--duplicate-of", type=int, metavar="ID",
                     help="add the photos to this already registered record instead")
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
    p.add_argument("--status", choices=["open", "found", "closed", "in_care", "identified",
                                        "transferred"])
    p.add_argument("--kind", choices=["missing", "found"], default="missing",
                   help="missing reports (default) or found children")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_cases)

    p = sub.add_parser("delete", help="erase a case and everything stored about it")
    p.add_argument("case_id", type=int)
    p.add_argument("--actor", default="cli")
    p.set_defaults(func=cmd_delete)

"""Evaluation of cross-matching: how many true reunions a drive finds, and how many pairs a
reviewer reads for each.

In: a labelled folder (one sub-folder of photos per person; optional ``ages.csv``), optionally a
folder of never-registered people, the settings whose models, calibration and quality gate are
evaluated. Out: a :class:`CrossmatchEvaluation` (``summary()`` is what
``findme evaluate --crossmatch --json`` prints).

What runs (:func:`evaluate_crossmatch`): the split of :mod:`findme.evaluation.crossmatch_plan`
(part of each person's photos as a missing report, others as a found record, some people on one
side only, never-registered people as found-only strangers; ``ages.csv``: ``file,age_at_photo,
taken_on``, see there) is registered through the real registration
(:func:`~findme.cases.registry.enroll_case`: quality gate, SQLite, Chroma) in a **temporary
workspace** (a fresh data folder under the system's temp folder, embedded Chroma and SQLite,
no alert channel; deleted afterwards; the user's data is never opened). Then the real drive
(:func:`findme.cases.crossleads.crossmatch`) pairs every found record with every missing report.

What it reports, at ``match`` and at ``possible`` (a pair at ``possible`` or better is a lead):

* **pair precision**: the share of the drive's pairs that are one person on both sides;
* **pair recall**: the share of true reunions (people with both records registered) paired;
* **pairs per reunion**: pairs a reviewer reads for each true reunion found;
* each with a 95% Wilson interval, and the same **by age gap** when ``ages.csv`` gives ages or
  dates: a reunion's gap (and its true pair's) is the years between its newest missing photo
  and its oldest found photo; a false pair's gap is the years between the two photos the drive
  paired (false pairs whose photos carry no age are left out of the by-gap precision).

A person whose photos all fail the quality gate on one side is no reunion (counted in
``counts``); the ``warnings`` say what the data cannot answer (few reunions, nobody on one side).
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from findme.cases.crossleads import CrossPair, crossmatch
from findme.cases.records import CaseDetails
from findme.cases.registry import EnrollmentRejected, PhotoInput, enroll_case
from findme.config import Settings
from findme.evaluation import jobs
from findme.evaluation.crossmatch_plan import Plan, PlannedRecord, gap_years, key, make_plan, when
from findme.search import calibration as calib

Progress = Callable[[str, int, int], None]
LEVELS = ("match", "possible")
GAP_EDGES = (0.0, 1.0, 3.0, 5.0, 10.0, math.inf)
BASIS = "evaluation: public labelled photos in a temporary workspace"


@dataclass
class CrossmatchEvaluation:
    """One cross-match evaluation: what was registered (``counts``), the thresholds in force,
    the figures per decision level (``levels``), by age gap (``by_age_gap``, empty without
    ages), every pair the drive returned (``pairs``) and ``warnings``."""

    dataset: str
    protocol: str
    models: list[str]
    seed: int
    counts: dict[str, int]
    thresholds: dict[str, float]
    levels: dict[str, dict]
    by_age_gap: list[dict] = field(default_factory=list)
    pairs: list[dict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> dict:
        """JSON-friendly: everything but the pair list (``pairs`` are counted in ``levels``)."""
        return {"dataset": self.dataset, "protocol": self.protocol, "models": self.models,
                "seed": self.seed, "counts": self.counts, "thresholds": self.thresholds,
                **self.levels, "by_age_gap": self.by_age_gap, "warnings": self.warnings}


def wilson(successes: int, n: int, z: float = 1.96) -> tuple[float, float] | None:
    """95% Wilson score interval of a proportion ``successes / n`` (None when ``n`` is 0)."""
    if n == 0:
        return None
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def level_figures(pairs: list[dict], reunions: int, level: str) -> dict:
    """Precision, recall and pairs per reunion at ``level`` (``match``: pairs decided match;
    ``possible``: every pair at possible or better) of ``pairs`` (dicts with ``decision`` and
    ``true``) against ``reunions`` true reunions. A rate with nothing to count is None."""
    kept = [p for p in pairs if p["decision"] == "match" or level == "possible"]
    true = sum(p["true"] for p in kept)
    return {"pairs": len(kept), "true_pairs": true, "false_pairs": len(kept) - true,
            "reunions": reunions,
            "precision": true / len(kept) if kept else None,
            "precision_ci": wilson(true, len(kept)),
            "recall": true / reunions if reunions else None,
            "recall_ci": wilson(true, reunions),
            "pairs_per_reunion": len(kept) / true if true else None,
            "stranger_pairs": sum(p["stranger"] for p in kept)}


def _band(low: float, high: float) -> str:
    return f"{low:g}+ years" if math.isinf(high) else f"{low:g}-{high:g} years"


BANDS = [(lo, hi, _band(lo, hi)) for lo, hi in zip(GAP_EDGES, GAP_EDGES[1:], strict=False)]


def band_of(years: float) -> str:
    """The age-gap band of a gap in years (``0-1 years``, ``1-3 years``... ``10+ years``)."""
    return next(label for lo, hi, label in BANDS if lo <= abs(years) < hi)


def _pair_band(pair: dict, reunion_gaps: dict[str, float | None]) -> str | None:
    """A true pair's band is its reunion's; a false pair's that of its two photos' gap."""
    gap = reunion_gaps.get(pair["person"]) if pair["true"] else pair["age_gap_years"]
    return None if gap is None else band_of(gap)


def by_age_gap(pairs: list[dict], reunion_gaps: dict[str, float | None]) -> list[dict]:
    """Rows per age-gap band that holds a reunion or a pair: reunions in it, recall at each
    level, and precision and pairs per reunion at each level. A reunion and its true pair count
    in the band of the reunion's gap, a false pair in the band of the gap between its two
    photos (pairs whose photos carry no age are left out). [] when no reunion has a gap."""
    if not any(g is not None for g in reunion_gaps.values()):
        return []
    rows = []
    for _, _, band in BANDS:
        people = {p for p, g in reunion_gaps.items() if g is not None and band_of(g) == band}
        in_band = [p for p in pairs if _pair_band(p, reunion_gaps) == band]
        if not people and not in_band:
            continue
        row: dict = {"age_gap": band, "reunions": len(people)}
        for level in LEVELS:
            found = {p["person"] for p in pairs if p["true"] and p["person"] in people and (
                p["decision"] == "match" or level == "possible")}
            row[level] = {**level_figures(in_band, len(people), level),
                          "recall": len(found) / len(people) if people else None,
                          "recall_ci": wilson(len(found), len(people)),
                          "found_reunions": len(found)}
        rows.append(row)
    return rows


def workspace_settings(settings: Settings, folder: Path, models: list[str]) -> Settings:
    """Settings for a throw-away workspace in ``folder``: the same models, weights,
    calibration, quality gate and search settings; embedded SQLite and Chroma in ``folder``;
    no broker, no alert channel."""
    calibration_file = str(settings.calibration_path) if settings.calibration_path.is_file() \
        else ""
    return replace(settings, data_dir=folder, models=tuple(models), database_url="",
                   chroma_url="", chroma_token="", broker_url="",
                   weights_root=settings.weights_dir, calibration_file=calibration_file,
                   alert_worker=False, alert_emails=(), alert_phones=(), webhook_url="",
                   sendgrid_api_key="", twilio_account_sid="", twilio_auth_token="",
                   twilio_from="", twilio_base_url="", two_person_rule=False)


def _details(record: PlannedRecord, number: int) -> CaseDetails:
    if record.kind == "found":
        return CaseDetails(f"unknown {number}", kind="found", lawful_basis=BASIS,
                           institution="evaluation")
    return CaseDetails(f"missing {number}", lawful_basis=BASIS)


def _attempts(record: PlannedRecord) -> list[tuple[Path, ...]]:
    """The record's photos, then its spares one at a time (tried while the gate refuses)."""
    return [record.photos, *((p,) for p in record.spares)]


def _inputs(photos: tuple[Path, ...], plan: Plan) -> list[PhotoInput]:
    out = []
    for photo in photos:
        age = plan.ages.get(key(photo))
        out.append(PhotoInput(photo.name, photo.read_bytes(), face_index=0,
                              taken_date=age.taken if age else None,
                              age_at_photo=age.age if age else None))
    return out


@dataclass
class _Registered:
    """What registration left: record id -> planned record, record id -> its accepted photos,
    photo id -> file, and what the quality gate turned away."""

    records: dict[int, PlannedRecord] = field(default_factory=dict)
    accepted: dict[int, list[Path]] = field(default_factory=dict)
    photos: dict[int, Path] = field(default_factory=dict)
    photos_rejected: int = 0
    records_rejected: int = 0
    spares_used: int = 0


def _register(plan: Plan, ws: object, progress: Progress | None) -> _Registered:
    """Enroll every planned record (found ones first, then missing ones: each missing report
    saved is matched against the found records, as in use)."""
    out = _Registered()
    order = [r for r in plan.records if r.kind == "found"] + \
        [r for r in plan.records if r.kind == "missing"]
    for done, record in enumerate(order):
        result = None
        for attempt, photos in enumerate(_attempts(record)):
            try:
                result = enroll_case(_details(record, done + 1), _inputs(photos, plan),
                                     ws.records, ws.store,  # type: ignore[attr-defined]
                                     ws.settings, actor="evaluation")  # type: ignore[attr-defined]
            except EnrollmentRejected:
                out.photos_rejected += len(photos)
                continue
            out.records[result.case_id] = record
            out.accepted[result.case_id] = []
            out.spares_used += attempt > 0
            for photo, outcome in zip(photos, result.photos, strict=True):
                if outcome.accepted and outcome.photo_id is not None:
                    out.photos[outcome.photo_id] = photo
                    out.accepted[result.case_id].append(photo)
                else:
                    out.photos_rejected += 1
            break
        if result is None:
            out.records_rejected += 1
        if progress:
            progress("registering records", done + 1, len(order))
    return out


def _pair_row(pair: CrossPair, reg: _Registered, plan: Plan) -> dict:
    missing, found = reg.records[pair.case_id], reg.records[pair.found_id]
    one, other = reg.photos.get(pair.case_photo_id), reg.photos.get(pair.found_photo_id)
    return {"case_id": pair.case_id, "found_id": pair.found_id,
            "missing_person": missing.person, "found_person": found.person,
            "person": missing.person, "true": missing.person == found.person,
            "stranger": found.stranger, "score": round(pair.score, 4),
            "decision": str(pair.decision),
            "age_gap_years": gap_years(one, other, plan.ages) if one and other else None}


def _reunion_gap(person: str, reg: _Registered, plan: Plan) -> float | None:
    """Years between the newest registered missing photo and the oldest registered found
    photo of a reunion (None when their ages or dates are unknown)."""
    sides: dict[str, list[Path]] = {"missing": [], "found": []}
    for rid, record in reg.records.items():
        if record.person == person and not record.stranger:
            sides[record.kind] += reg.accepted[rid]
    if not sides["missing"] or not sides["found"]:
        return None
    newest = max(sides["missing"], key=lambda p: _when(p, plan, -math.inf))
    oldest = min(sides["found"], key=lambda p: _when(p, plan, math.inf))
    return gap_years(newest, oldest, plan.ages)


def _when(photo: Path, plan: Plan, default: float) -> float:
    value = when(photo, plan.ages)
    return default if value is None else value


def evaluate_crossmatch(dataset: Path, *, settings: Settings, models: list[str] | None = None,
                        distractors: Path | None = None, seed: int = 0,
                        missing_photos: int = 3, found_photos: int = 1,
                        one_side: float = 0.25, progress: Progress | None = None
                        ) -> CrossmatchEvaluation:
    """Register the plan in a temporary workspace, run the real drive, score its pairs (see
    the module docstring). ``progress(stage, done, total)`` is called per record registered
    and per batch of the drive. Raises FileNotFoundError / ValueError (data that cannot
    answer: see :func:`~findme.evaluation.crossmatch_plan.make_plan`) and
    :class:`~findme.search.calibration.CalibrationMissing` (no fusion for these models)."""
    from findme.workspace import open_workspace

    models = list(models or settings.models)
    calib.load(settings).fusion(models)  # fails now, with a sentence, for an unknown set
    plan = make_plan(Path(dataset), distractors, seed, missing_photos, found_photos, one_side)
    with (tempfile.TemporaryDirectory(prefix="findme-crossmatch-eval-") as tmp,
          open_workspace(workspace_settings(settings, Path(tmp), models)) as ws):
        reg = _register(plan, ws, progress)
        drive = crossmatch(ws.records, ws.store, ws.settings, progress=(
            (lambda done, total: progress("cross-match drive", done, total))
            if progress else None), actor="evaluation")
        faces = {k: ws.records.ready_faces(k) for k in ("missing", "found")}
        t = ws.matcher.fusion.thresholds_for(max(1, faces["missing"]))
        leads = sum(1 for lead in ws.records.leads() if lead.found_id is not None)
    kinds = {p: {r.kind for r in reg.records.values() if r.person == p} for p in plan.reunions}
    reunions = [p for p in plan.reunions if kinds[p] == {"missing", "found"}]
    rows = [_pair_row(p, reg, plan) for p in drive.pairs]
    gaps = {p: _reunion_gap(p, reg, plan) for p in reunions}
    warnings = list(plan.warnings)
    lost = len(plan.reunions) - len(reunions)
    if lost:
        warnings.append(f"{lost} planned reunion(s) lost a side at the quality gate (no usable "
                        "photo): they are not counted as reunions")
    counts = {"people": plan.people, "reunions": len(reunions), "reunions_lost": lost,
              "missing_records": sum(r.kind == "missing" for r in reg.records.values()),
              "found_records": sum(r.kind == "found" for r in reg.records.values()),
              "strangers": sum(r.stranger for r in reg.records.values()),
              "missing_faces": faces["missing"], "found_faces": faces["found"],
              "photos_rejected": reg.photos_rejected, "records_rejected": reg.records_rejected,
              "records_on_a_spare_photo": reg.spares_used,
              "drive_pairs": len(drive.pairs), "cross_leads": leads}
    order = "earliest / latest by ages.csv" if plan.ages else f"drawn with seed {seed}"
    protocol = (f"per person: up to {missing_photos} photo(s) as a missing report, "
                f"{found_photos} other(s) as a found record ({order}); {one_side:.0%} of people "
                "on one side only" + ("; never-registered people as found-only strangers"
                                      if distractors else ""))
    return CrossmatchEvaluation(
        Path(dataset).name, protocol, models, seed, counts,
        {"match": float(t.match), "possible": float(t.possible)},
        {lv: level_figures(rows, len(reunions), lv) for lv in LEVELS},
        by_age_gap(rows, gaps), rows, warnings)


# ----------------------------------------------------------------------------- off the request path


def job_owner(owner: str) -> str:
    """The job-table key of ``owner``'s cross-match evaluation (beside, not instead of, their
    folder evaluation: :func:`findme.evaluation.jobs.owner_of` gives ``owner``)."""
    return f"{owner}:crossmatch"


def start_job(owner: str, settings: Settings, dataset: Path, models: list[str],
              distractors: Path | None = None, seed: int = 0, missing_photos: int = 3,
              found_photos: int = 1, one_side: float = 0.25,
              hook: Progress | None = None) -> jobs.EvaluationJob:
    """Start :func:`evaluate_crossmatch` in a worker thread of
    :mod:`findme.evaluation.jobs` as ``owner``'s cross-match job (folders already checked
    with :func:`~findme.evaluation.protocol.check_folder`); returns the
    :class:`~findme.evaluation.jobs.EvaluationJob` at once (its ``result`` is a
    :class:`CrossmatchEvaluation`). While one runs, that one is returned."""
    models = list(models)
    return jobs.start(job_owner(owner), lambda progress: evaluate_crossmatch(  # type: ignore
        Path(dataset), settings=settings, models=models, distractors=distractors, seed=seed,
        missing_photos=missing_photos, found_photos=found_photos, one_side=one_side,
        progress=progress), hook, f"cross-match of {Path(dataset).name}")


def latest_job(owner: str) -> jobs.EvaluationJob | None:
    """``owner``'s latest cross-match job (running or finished), or None."""
    return jobs.latest(job_owner(owner))

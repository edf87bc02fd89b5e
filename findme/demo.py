"""The demo workspace: public sample photos as clearly labelled demo cases, in their own folder.

NGO staff demo and train with it without touching real cases. It lives in
``$FINDME_DATA_DIR/demo`` with its own database and vector store (it shares only the model
weights and the calibration). Cases are adults from the public evaluation sets (5-celebrity web
photos, AT&T/ORL) named ``DEMO · ...``; the photos not enrolled are offered as samples to search,
including people who are in no case (so a demo also shows what "no match" looks like). Loading it
also searches those samples (leads waiting for review, one confirmed), scans a sample CCTV clip
(a sighting) and delivers the resulting alerts to the dashboard, so every page has something to
show; e-mail, SMS and webhook are off in the demo.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from findme.cases.records import CaseDetails
from findme.cases.registry import EnrollmentRejected, PhotoInput, enroll_case
from findme.config import Settings
from findme.evaluation import datasets as eval_data
from findme.workspace import Workspace

DEMO_PREFIX = "DEMO · "
DEMO_NOTE = ("Demo case made from public photos of adults (evaluation data). "
             "Not a real missing child.")
CELEB_PHOTOS_PER_CASE = 6
ORL_CASES = 8
ORL_PHOTOS_PER_CASE = 3

Progress = Callable[[str, int, int], None]


def demo_settings(settings: Settings) -> Settings:
    """Settings of the demo workspace: its own data folder, SQLite and embedded store; the
    live workspace's weights and calibration. Alerts stay in the dashboard: e-mail, SMS and
    webhook are off, so a demo never reaches real people."""
    return replace(settings, data_dir=settings.demo_dir, weights_root=settings.weights_dir,
                   database_url="", chroma_url="",
                   calibration_file=str(settings.calibration_path),
                   sendgrid_api_key="", twilio_account_sid="", twilio_auth_token="",
                   webhook_url="", webhook_secret="", alert_emails=(), alert_phones=())


@dataclass(frozen=True)
class DemoReport:
    """What loading the demo made."""

    cases: int
    photos: int
    rejected: int
    already_loaded: bool = False
    leads: int = 0
    sightings: int = 0
    alerts: int = 0


#: display names where the photo set's folder name is misspelt (the folder keeps its name)
SPELLING = {"ben_afflek": "Ben Affleck"}


def display_name(person: str) -> str:
    """How a demo person's folder name (``ben_afflek``) is shown: ``Ben Affleck``."""
    return SPELLING.get(person, person.replace("_", " ").title())


def switched_note(report: DemoReport) -> str:
    """What the overview says once the demo is loaded and open (``report``: what loading made)."""
    made = ("its cases were already there" if report.already_loaded else
            f"{report.cases} sample case(s) from {report.photos} photo(s)")
    return (f"You are now in the demo workspace ({made}). Try **Search photos** with a sample "
            "photo, or **CCTV footage** with the demo clip. Switch back to *Real cases* in the "
            "sidebar.")


def _plan(eval_dir: Path) -> list[tuple[str, list[Path]]]:
    """(display name, photos to enroll) per demo case."""
    plan = []
    celeb = eval_dir / "celeb5" / "train"
    if celeb.is_dir():
        for person, photos in eval_data.identities(celeb).items():
            plan.append((display_name(person), photos[:CELEB_PHOTOS_PER_CASE]))
    orl = eval_dir / "orl"
    if orl.is_dir():
        people = sorted(eval_data.identities(orl).items(), key=lambda kv: _orl_key(kv[0]))
        for person, photos in people[:ORL_CASES]:
            plan.append((f"ORL person {person.lstrip('s')}", photos[:ORL_PHOTOS_PER_CASE]))
    return plan


def _orl_key(name: str) -> int:
    digits = "".join(ch for ch in name if ch.isdigit())
    return int(digits) if digits else 0


def samples(settings: Settings) -> dict[str, Path]:
    """Photos to try the search with, by label: unseen photos of demo cases (celebrity ``val``
    photos, later ORL photos) and people who are in no case."""
    out: dict[str, Path] = {}
    val = settings.eval_dir / "celeb5" / "val"
    if val.is_dir():
        for person, photos in eval_data.identities(val).items():
            for k, p in enumerate(photos[:3], 1):
                out[f"{display_name(person)} (new photo {k})"] = p
    orl = settings.eval_dir / "orl"
    if orl.is_dir():
        people = sorted(eval_data.identities(orl).items(), key=lambda kv: _orl_key(kv[0]))
        for person, photos in people[:ORL_CASES]:
            out[f"ORL person {person.lstrip('s')} (new photo)"] = photos[-1]
        for person, photos in people[ORL_CASES:ORL_CASES + 4]:
            out[f"ORL person {person.lstrip('s')} (in no case)"] = photos[0]
    return out


def sample_clip(live_settings: Settings) -> Path:
    """A 12 s CCTV-like clip for the demo (made once): a demo case walks through from 4 s to
    8 s among people who are in no case."""
    from findme.video import samples as sv

    out = live_settings.demo_dir / "sample-cctv.mp4"
    if out.is_file():
        return out
    val = live_settings.eval_dir / "celeb5" / "val"
    people = eval_data.identities(val)
    orl = sorted(eval_data.identities(live_settings.eval_dir / "orl").items(),
                 key=lambda kv: _orl_key(kv[0]))
    strangers = [photos[0] for _, photos in orl[ORL_CASES:ORL_CASES + 2]]
    scene = [sv.Appearance(people["madonna"][1], 4.0, 8.0, 0.35, 0.2, 300, 10),
             sv.Appearance(strangers[0], 0.0, 12.0, 0.05, 0.3, 260, 6),
             sv.Appearance(strangers[1], 2.0, 10.0, 0.7, 0.25, 260, -6)]
    tmp = out.with_suffix(".tmp.mp4")
    sv.write(tmp, scene, 12.0, 25, (1280, 720))
    tmp.replace(out)
    return out


def load(workspace: Workspace, live_settings: Settings, progress: Progress | None = None,
         actor: str = "demo") -> DemoReport:
    """Fill an open demo workspace with the demo cases (fetching the public photos first if
    needed). Does nothing when demo cases are already there."""
    if any(c.name.startswith(DEMO_PREFIX) for c in workspace.records.list_cases()):
        return DemoReport(len(workspace.records.list_cases()), 0, 0, already_loaded=True)
    for _ in eval_data.fetch(live_settings):
        pass
    plan = _plan(live_settings.eval_dir)
    cases = photos = rejected = 0
    for k, (name, paths) in enumerate(plan):
        if progress:
            progress(f"enrolling {name}", k, len(plan))
        details = CaseDetails(name=f"{DEMO_PREFIX}{name}", description=DEMO_NOTE,
                              last_seen_place="Demo city", consent_recorded=True)
        inputs = [PhotoInput(p.name, p.read_bytes()) for p in paths]
        try:
            result = enroll_case(details, inputs, workspace.records, workspace.store,
                                 workspace.settings, actor)
        except EnrollmentRejected as exc:
            rejected += len(exc.outcomes)
            continue
        cases += 1
        photos += sum(o.accepted for o in result.photos)
        rejected += sum(not o.accepted for o in result.photos)
    activity = _activity(workspace, live_settings, progress, actor)
    if progress:
        progress("done", len(plan), len(plan))
    workspace.records.audit(actor, "demo.load", None, f"{cases} cases, {photos} photos")
    return DemoReport(cases, photos, rejected, leads=activity.leads,
                      sightings=activity.sightings, alerts=activity.alerts)


@dataclass(frozen=True)
class _Activity:
    leads: int
    sightings: int
    alerts: int


def _activity(ws: Workspace, live_settings: Settings, progress: Progress | None,
              actor: str) -> _Activity:
    """What a demo needs beyond cases: the sample photos searched (their leads wait for
    review; one is confirmed by the demo reviewer), the sample CCTV clip scanned (a sighting),
    and the alerts of all that delivered to the dashboard (the demo's only channel)."""
    from findme.alerts import outbox
    from findme.alerts import store as alert_store
    from findme.cases import leads
    from findme.faces.image import load_image
    from findme.video import scans

    made: list[int] = []
    photos = samples(live_settings)  # the folder is listed once
    for k, (label, path) in enumerate(photos.items()):
        if progress:
            progress(f"searching the sample photo {label}", k, len(photos))
        result = ws.search(load_image(path, ws.settings), 3, "photo",
                           f"{DEMO_PREFIX}sample photo: {label}")
        made += result.lead_ids
    matches = [lead for lead in ws.records.leads() if lead.decision == "match"]
    if matches:
        leads.review(ws.records, matches[0].id, "demo reviewer", "confirm",
                     note="Demo: the same person in both photos (a demo review).",
                     role="admin")
    if progress:
        progress("scanning the sample CCTV clip", 0, 1)
    _, scan = scans.run_scan(ws, str(sample_clip(live_settings)), "Demo camera", 0.2,
                             "Demo station", actor)
    outbox.run_once(ws.records, ws.settings)
    return _Activity(len(made), len(scan.sightings) if scan else 0,
                     len(alert_store.list_alerts(ws.records)))

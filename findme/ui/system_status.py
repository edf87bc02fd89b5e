"""What the admin page shows about the installation: models, stores, database, thresholds.

Input: an open workspace. Output: plain rows (lists of dicts); secrets never leave this module
(the database URL's password is replaced by ``***``).
"""

from __future__ import annotations

from sqlalchemy.engine import make_url

from findme.provision import weights
from findme.search import calibration
from findme.workspace import Workspace


def masked_url(url: str) -> str:
    """A database URL with any password replaced by ``***``."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - not a URL we can parse: show nothing of it
        return "(unreadable URL)"


def status_rows(ws: Workspace) -> list[dict[str, object]]:
    """One row per fact: setting, value."""
    s = ws.settings
    counts = ws.records.counts()
    rows: list[dict[str, object]] = [
        {"setting": "data folder", "value": str(s.data_dir)},
        {"setting": "case database", "value": masked_url(s.db_url)},
        {"setting": "vector store", "value": masked_url(s.chroma_url) if s.chroma_url
         else f"embedded ({s.chroma_dir})"},
        {"setting": "models", "value": ", ".join(s.models)},
        {"setting": "detector", "value": s.detector},
        {"setting": "arcface-mbf inference", "value": s.inference},
        {"setting": "two-person rule", "value": "on" if s.two_person_rule else "off"},
    ]
    rows += [{"setting": f"faces stored ({m})", "value": len(ws.store.ids(m))} for m in s.models]
    rows += [{"setting": f"rows in {t}", "value": n} for t, n in counts.items()]
    return rows


def threshold_rows(ws: Workspace) -> list[dict[str, object]]:
    """Thresholds in force per model and fusion, with the calibration's source. A fusion with
    a stranger tail shows its thresholds for the faces registered now (they follow the
    gallery's size); others are fixed."""
    cal = calibration.load(ws.settings)
    faces = max(1, ws.store.count(ws.settings.models[0]))
    rows: list[dict[str, object]] = [
        {"scorer": m, "match": t.match, "possible": t.possible, "rule": "fixed",
         "source": cal.source} for m, t in cal.model_thresholds.items()]
    for k, f in cal.fusions.items():
        t = f.thresholds_for(faces)
        rows.append({"scorer": k, "match": t.match, "possible": t.possible,
                     "rule": f"open-set, for {faces:,} registered faces" if f.tail else "fixed",
                     "source": cal.source})
    return rows


def weight_rows(ws: Workspace) -> list[dict[str, object]]:
    """Provisioned models and detectors with their verification status."""
    return [{"name": st.name, "kind": st.kind, "ok": st.ok, "default": st.default,
             "detail": st.detail} for st in weights.check(ws.settings)]

"""One handle on everything a process needs: settings, case records, vector store, matcher.

``open_workspace`` connects both stores, upgrades the database schema, and runs the reconcile
pass so a crash in an earlier run is repaired before any new work.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from findme.cases.found import sweep_retention
from findme.cases.leads import record_search
from findme.cases.records import Records, open_records
from findme.cases.registry import ReconcileReport, reconcile
from findme.config import Settings
from findme.priority import person_waiting
from findme.search.matcher import Matcher, SearchResult
from findme.search.store import VectorStore, open_store


@dataclass
class Workspace:
    """Open stores of one data folder. Close it to release the embedded vector store."""

    settings: Settings
    records: Records
    store: VectorStore
    repaired: ReconcileReport = field(default_factory=ReconcileReport)
    _matcher: Matcher | None = None

    @property
    def matcher(self) -> Matcher:
        """The matcher (built on first use, with the current calibration)."""
        if self._matcher is None:
            self._matcher = Matcher(self.records, self.store, self.settings)
        return self._matcher

    def search(self, image: np.ndarray, top_k: int = 5, source: str | None = None,
               source_ref: str | None = None, alert_source: str | None = None) -> SearchResult:
        """Search every face of an RGB image; with ``source`` (``photo``, ``cli``, ``cctv``...)
        also record the search and make its leads (:func:`findme.cases.leads.record_search`).
        Without ``source`` nothing is written."""
        with person_waiting():  # background work of this process steps aside meanwhile
            result = self.matcher.search_image(image, top_k)
        if source is None:
            return result
        return record_search(self.records, self.settings, image, result, source, source_ref,
                             alert_source)

    def reload_calibration(self) -> None:
        """Use the calibration file as it is now (after thresholds were applied)."""
        self._matcher = None

    def close(self) -> None:
        """Release the vector store and database connections."""
        self.store.close()
        self.records.engine.dispose()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def upload_name(name: str) -> str:
    """A user-given file name as kept in the data folder's ``uploads/``: its last path part,
    reduced to letters, digits and ``._-``, at most its last 80 characters (may be empty)."""
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in Path(name).name)[-80:]


def open_workspace(settings: Settings, repair: bool = True) -> Workspace:
    """Open records and vectors of the configured data folder and reconcile them."""
    records = open_records(settings)
    store = open_store(settings)
    try:
        report = reconcile(records, store, settings) if repair else ReconcileReport()
        if repair:  # found records past FINDME_FOUND_RETENTION_DAYS are erased at start
            sweep_retention(records, store, settings)
    except Exception:
        store.close()
        raise
    if report.changed:
        records.audit("system", "reconcile", None, repr(report))
    return Workspace(settings, records, store, report)

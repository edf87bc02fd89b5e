"""Searching one side of the registry when it is most of the store (issue 21, drives): the
wider query without a Chroma filter must still give every query face its nearest faces of the
searched side, also when faces of the other side crowd them out (then it asks again with the
filter). Real embedded Chroma and SQLite; vectors drawn at random (no model is needed)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from sqlalchemy import insert

from findme.cases.records import open_records
from findme.cases.tables import Case, Photo
from findme.config import Settings
from findme.faces.models import spec
from findme.search import crossmatch
from findme.search.crossmatch import QueryFace, search_side
from findme.search.matcher import Matcher
from findme.search.store import open_store


def _unit(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v, axis=-1, keepdims=True)).astype(np.float32)


def test_side_search_keeps_the_sides_nearest_faces_when_the_other_side_crowds_them(
        ws_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """Store: 60 missing cases (one face each, the first 5 near the query) and 40 found records
    whose faces sit nearer the query than any missing face. With 5 candidates per model, the
    unfiltered query (13 faces: all found) holds no missing face, so the filtered one must
    bring the 5 near missing cases in; the filtered search alone gives the same records."""
    settings = replace(ws_settings, search_candidates=5)
    rng = np.random.default_rng(7)
    models = settings.models
    query = {m: _unit(rng.normal(size=spec(m).dim)) for m in models}

    def around(m: str, n: int, spread: float) -> np.ndarray:
        return _unit(query[m] + spread * _unit(rng.normal(size=(n, len(query[m])))))

    vectors = {m: np.concatenate([around(m, 5, 0.6), _unit(rng.normal(size=(55, len(query[m])))),
                                  around(m, 40, 0.2)]) for m in models}
    records = open_records(settings)
    with records.session() as s:
        s.execute(insert(Case), [{"id": i, "kind": "missing", "name": f"m{i}",
                                  "consent_recorded": True, "status": "open"}
                                 for i in range(1, 61)] +
                  [{"id": i, "kind": "found", "name": f"f{i}", "status": "in_care",
                    "lawful_basis": "duty of care"} for i in range(61, 101)])
        s.execute(insert(Photo), [{"id": i, "case_id": i, "file_path": f"{i}.jpg",
                                   "sha256": "0" * 64, "status": "ready"}
                                  for i in range(1, 101)])
    with open_store(settings) as store:
        for m in models:
            store.add(m, list(range(1, 101)), list(range(1, 101)), vectors[m],
                      ["missing"] * 60 + ["found"] * 40)
        matcher = Matcher(records, store, settings)
        face = QueryFace(-1, -1, query)
        asked: list[str | None] = []
        plain = store.query
        monkeypatch.setattr(store, "query", lambda model, v, k, kind=None: (
            asked.append(kind), plain(model, v, k, kind))[1])
        wide = {p.other_id for p in search_side(matcher, [face], "missing")}
        assert set(range(1, 6)) <= wide and wide <= set(range(1, 61))
        assert asked == [None, "missing"] * len(models)  # wide, then again with the filter
        monkeypatch.setattr(crossmatch, "UNFILTERED_SHARE", 2.0)  # filtered queries only
        assert {p.other_id for p in search_side(matcher, [face], "missing")} == wide

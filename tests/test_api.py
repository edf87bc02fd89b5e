"""The REST API (``findme api``) against a real uvicorn server on 127.0.0.1, with httpx, real
weights and real photos: keys and roles, registration, search and leads, review, import, CCTV
scans, budgets, the rate limit, metrics, and audit rows under the key's name."""

from __future__ import annotations

import io
import sqlite3
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from findme.cases.users import PERMISSIONS, allowed
from findme.config import Settings
from findme.evaluation.datasets import identities
from findme.video import samples as sv

from .api_server import ROLES, add_key, findme, new_data_dir, running_api, wait_for
from .conftest import usable_photos

pytestmark = pytest.mark.heavy
BUDGET = 8 * 2**20  # FINDME_MAX_REQUEST_BYTES of the server under test


class Api:
    """The server's URL, its data folder and a key per role (plus a revoked and a slow one)."""

    def __init__(self, url: str, data: Path, keys: dict[str, str]) -> None:
        self.url, self.data, self.keys = url, data, keys

    def client(self, key: str | None) -> httpx.Client:
        """An httpx client sending ``key`` (a role name or a key name of :attr:`keys`)."""
        headers = {"Authorization": f"Bearer {self.keys[key]}"} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=300)


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory, settings: Settings) -> Iterator[Api]:
    data = new_data_dir(tmp_path_factory.mktemp("api"), settings.weights_dir)
    keys = {role: add_key(data, f"{role}-key", role) for role in ROLES}
    keys["revoked"] = add_key(data, "gone-key", "admin")
    assert findme(data, "apikeys", "revoke", "gone-key").returncode == 0
    keys["slow"] = add_key(data, "slow-key", "viewer", "--rate", "2")
    with running_api(data, FINDME_MAX_REQUEST_BYTES=str(BUDGET)) as url:
        yield Api(url, data, keys)


def _files(paths: list[Path], field: str = "photos") -> list[tuple[str, tuple[str, bytes]]]:
    return [(field, (p.name, p.read_bytes())) for p in paths]


def _audit(data: Path, actor: str, until=lambda rows: True) -> list[tuple[str, str | None]]:
    """``(action, target)`` of ``actor``'s audit rows, once ``until(rows)`` holds (the API
    writes its call rows in batches, a tenth of a second apart)."""

    def rows() -> list[tuple[str, str | None]]:
        with sqlite3.connect(data / "findme.db") as db:
            return db.execute("SELECT action, target FROM audit_log WHERE actor = ? "
                              "ORDER BY id", (actor,)).fetchall()

    return wait_for(rows, until, timeout=30, every=0.1)


def _error(response: httpx.Response, status: int, code: str | None = None) -> str:
    """The refusal's message, after checking its status and shape."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and {"code", "message"} <= set(body["error"])
    assert "Traceback" not in response.text
    if code:
        assert body["error"]["code"] == code
    return body["error"]["message"]


def test_openapi_docs_and_health_need_no_key(api: Api) -> None:
    with api.client(None) as c:
        doc = c.get("/api/v1/openapi.json").json()
        assert doc["info"]["title"] == "Find Me AI API"
        assert {"/api/v1/cases", "/api/v1/found", "/api/v1/search", "/api/v1/leads",
                "/api/v1/leads/{lead_id}/review", "/api/v1/imports", "/api/v1/scans",
                "/api/v1/health", "/api/v1/metrics"} <= set(doc["paths"])
        body = doc["paths"]["/api/v1/search"]["post"]["requestBody"]["content"]
        ref = body["multipart/form-data"]["schema"]["$ref"].rsplit("/", 1)[-1]
        assert "photos" in doc["components"]["schemas"][ref]["required"]
        docs = c.get("/api/v1/docs")
        assert docs.status_code == 200 and "openapi.json" in docs.text
        assert "cdn" not in docs.text.lower()  # the page works without internet
        for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
            served = c.get(f"/api/v1/static/swagger/{asset}")
            assert served.status_code == 200 and len(served.content) > 100_000, asset
        health = c.get("/api/v1/health")
        assert health.status_code == 200 and health.json() == {"status": "up"}


def test_no_key_an_unknown_key_and_a_revoked_key_are_401(api: Api) -> None:
    with api.client(None) as c:
        _error(c.get("/api/v1/cases"), 401, "unauthorized")
        _error(c.get("/api/v1/cases", headers={"Authorization": "Bearer fm_not-a-key"}), 401)
        _error(c.get("/api/v1/cases", headers={"Authorization": "Basic dXNlcjpwdw=="}), 401)
    with api.client("revoked") as c:
        assert "revoked" in _error(c.get("/api/v1/cases"), 401)
    refused = ("api.refused", "GET /api/v1/cases")
    assert refused in _audit(api.data, "api:gone-key", lambda rows: refused in rows)


#: (method, path, the permission the route needs); ids that do not exist are fine: the
#: permission is checked first
ROUTES = [("POST", "/api/v1/cases", "cases.edit"), ("POST", "/api/v1/found", "found.register"),
          ("GET", "/api/v1/cases", "cases.view"), ("GET", "/api/v1/cases/999", "cases.view"),
          ("DELETE", "/api/v1/cases/999", "cases.erase"), ("POST", "/api/v1/search", "search"),
          ("GET", "/api/v1/leads", "leads.review"), ("GET", "/api/v1/leads/999", "leads.review"),
          ("POST", "/api/v1/leads/999/review", "leads.review"),
          ("POST", "/api/v1/imports", "cases.edit"), ("GET", "/api/v1/imports/999", "cases.edit"),
          ("POST", "/api/v1/scans", "search"), ("GET", "/api/v1/scans/999", "search"),
          ("GET", "/api/v1/metrics", "audit.view"), ("GET", "/metrics", "audit.view")]


@pytest.mark.parametrize("role", ROLES)
def test_each_role_is_refused_exactly_what_the_permission_table_refuses(api: Api,
                                                                         role: str) -> None:
    assert all(p in PERMISSIONS for _, _, p in ROUTES)
    with api.client(role) as c:
        for method, path, permission in ROUTES:
            r = c.request(method, path)
            if allowed(role, permission):
                assert r.status_code not in (401, 403), (method, path, r.text)
            else:
                assert permission in _error(r, 403, "forbidden"), (method, path)
    want = sum(not allowed(role, p) for _, _, p in ROUTES)
    calls = _audit(api.data, f"api:{role}-key",
                   lambda rows: sum(a == "api.call" for a, _ in rows) >= len(ROUTES)
                   and sum(a == "api.refused" for a, _ in rows) >= want)
    assert sum(a == "api.refused" for a, _ in calls) == want


def test_register_search_review_and_audit(api: Api, celeb5: Path, settings: Settings) -> None:
    train, val = identities(celeb5 / "train"), identities(celeb5 / "val")
    photos = usable_photos(train["madonna"], settings, 3)
    with api.client("investigator") as c:
        no_basis = c.post("/api/v1/cases", data={"name": "Api Child"}, files=_files(photos))
        assert "consent" in _error(no_basis, 422)
        made = c.post("/api/v1/cases", files=_files(photos), data={
            "name": "Api Child", "consent": "true", "guardian_contact": "guardian@example.org",
            "last_seen_place": "Harbour Road", "age": "9"})
        assert made.status_code == 201, made.text
        case = made.json()
        assert case["kind"] == "missing" and all(p["accepted"] for p in case["photos"])
        again = c.post("/api/v1/cases", files=_files(photos[:1]),
                       data={"name": "Api Child Again", "consent": "true"})
        _error(again, 409, "duplicate")
        assert again.json()["error"]["duplicates"][0]["case_id"] == case["case_id"]
        mine = c.get(f"/api/v1/cases/{case['case_id']}").json()
        assert mine["contact"]["value"] == "guardian@example.org"
        assert len(mine["photos"]) == 3

        genuine = c.post("/api/v1/search", files=_files([val["madonna"][0]])).json()
        (entry,) = genuine["results"]
        assert set(entry) >= {"image", "error", "faces", "leads"} and entry["error"] is None
        best = entry["faces"][0]["matches"][0]
        assert best["case_id"] == case["case_id"] and best["decision"] in ("match", "possible")
        assert set(best) >= {"case_id", "name", "score", "decision", "photo_id", "scores"}
        assert len(entry["leads"]) == 1
        lead_id = entry["leads"][0]
        stranger = sorted((settings.eval_dir / "distractors").glob("*.jpg"))[0]
        (far,) = c.post("/api/v1/search", files=_files([stranger])).json()["results"]
        assert far["error"] is None and far["faces"] and far["leads"] == []
        broken = c.post("/api/v1/search", files=[("photos", ("note.jpg", b"not an image"))])
        assert broken.status_code == 200 and broken.json()["results"][0]["error"]

    with api.client("viewer") as c:
        seen = c.get(f"/api/v1/cases/{case['case_id']}").json()
        assert seen["contact"] == {"label": "guardian contact", "value": None, "hidden": True}
        listed = c.get("/api/v1/cases").json()
        assert [x["id"] for x in listed["cases"]] == [case["case_id"]]

    with api.client("reviewer") as c:
        queue = c.get("/api/v1/leads").json()["leads"]
        assert [x["id"] for x in queue] == [lead_id]
        assert c.get(f"/api/v1/leads/{lead_id}").json()["case_id"] == case["case_id"]
        forbidden = c.post(f"/api/v1/leads/{lead_id}/review",
                           json={"verdict": "confirm", "mark_found": True})
        assert "cases.edit" in _error(forbidden, 403)
        done = c.post(f"/api/v1/leads/{lead_id}/review",
                      json={"verdict": "confirm", "note": "same child"})
        assert done.status_code == 200, done.text
        assert done.json()["status"] == "confirmed"
        _error(c.post(f"/api/v1/leads/{lead_id}/review", json={"verdict": "reject"}), 409)
        _error(c.post(f"/api/v1/leads/{lead_id}/review", json={"verdict": "maybe"}), 422)
        _error(c.get("/api/v1/leads/123456"), 404, "not_found")
        assert c.get(f"/api/v1/leads/{lead_id}").json()["reviews"][0]["reviewer"] == \
            "api:reviewer-key"

    with api.client("shelter") as c:
        refused = c.put(f"/api/v1/cases/{case['case_id']}/status", json={"status": "closed"})
        assert "cases.edit" in _error(refused, 403)
        found = c.post("/api/v1/found", files=_files(usable_photos(
            train["mindy_kaling"], settings, 1)), data={"lawful_basis": "duty of care",
                                                         "institution": "Shelter 4"})
        assert found.status_code == 201, found.text
        assert found.json()["kind"] == "found" and found.json()["label"].startswith("F-")
        moved = c.put(f"/api/v1/cases/{found.json()['case_id']}/status",
                      json={"status": "transferred"})
        assert moved.json() == {"id": found.json()["case_id"], "status": "transferred"}

    searched = ("api.call", "POST /api/v1/search")
    actions = _audit(api.data, "api:investigator-key", lambda rows: searched in rows)
    assert ("case.create", f"case:{case['case_id']}") in actions
    reviewer = [a for a, _ in _audit(api.data, "api:reviewer-key",
                                     lambda rows: ("lead.confirm", f"lead:{lead_id}") in rows)]
    assert "lead.confirm" in reviewer and "api.call" in reviewer


def test_import_a_sheet_and_read_its_report(api: Api, celeb5: Path, settings: Settings
                                            ) -> None:
    train = identities(celeb5 / "train")
    rows, zipped = ["ref,name,photos,consent"], io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as z:
        for k, person in enumerate(("elton_john", "jerry_seinfeld"), 1):
            names = []
            for p in usable_photos(train[person], settings, 2):
                z.writestr(f"{person}/{p.name}", p.read_bytes())
                names.append(f"{person}/{p.name}")
            rows.append(f"IMP-{k},Imported {k},{';'.join(names)},yes")
        rows.append("IMP-3,No Photo,missing.jpg,yes")
    sheet = ("\n".join(rows) + "\n").encode()
    with api.client("investigator") as c:
        bad = c.post("/api/v1/imports", files={"sheet": ("cases.csv", b"\x00\x01 nothing")})
        _error(bad, 422)
        started = c.post("/api/v1/imports", files={"sheet": ("cases.csv", sheet),
                                                   "photos": ("photos.zip", zipped.getvalue())})
        assert started.status_code == 202, started.text
        assert started.json()["queued"] is False  # no broker: a worker thread of the API
        job = wait_for(lambda: c.get(f"/api/v1/imports/{started.json()['id']}").json(),
                       lambda j: j["status"] in ("done", "failed"))
    assert job["status"] == "done", job
    report = job["report"]
    assert (report["imported"], report["rejected"]) == (2, 1)
    assert {r["ref"] for r in report["rows"] if r["status"] == "imported"} == {"IMP-1", "IMP-2"}
    with api.client("viewer") as c:
        names = {x["name"] for x in c.get("/api/v1/cases").json()["cases"]}
    assert {"Imported 1", "Imported 2"} <= names


def test_scan_an_uploaded_recording_and_read_its_sightings(
        api: Api, celeb5: Path, settings: Settings, tmp_path: Path) -> None:
    train, val = identities(celeb5 / "train"), identities(celeb5 / "val")
    clip = sv.write(tmp_path / "gate.mp4", [sv.Appearance(val["ben_afflek"][0], 1.0, 3.0,
                                                          0.1, 0.2)], 4.0, 25, (640, 360))
    assert clip.stat().st_size < BUDGET
    with api.client("investigator") as c:
        made = c.post("/api/v1/cases", files=_files(usable_photos(train["ben_afflek"], settings,
                                                                  3)),
                      data={"name": "Scanned Child", "lawful_basis": "police request 7/2026"})
        assert made.status_code == 201, made.text
        case_id = made.json()["case_id"]
        _error(c.post("/api/v1/scans", files=_files([clip], "videos"), data={"camera": " "}),
               422)
        started = c.post("/api/v1/scans", files=_files([clip], "videos"),
                         data={"camera": "Gate 3", "every_s": "0.2"})
        assert started.status_code == 202, started.text
        (scan_id,) = started.json()["scan_ids"]
        job = wait_for(lambda: c.get(f"/api/v1/scans/{scan_id}").json(),
                       lambda j: j["status"] not in ("queued", "running"))
    assert job["status"] == "done", job
    (seen,) = job["sightings"]
    assert seen["case_id"] == case_id and seen["name"] == "Scanned Child" and seen["lead_id"]
    assert seen["strip"]  # an investigator may see the frames of the child...
    with api.client("shelter") as c:  # ...a shelter key gets the sighting without them
        shelter_view = c.get(f"/api/v1/scans/{scan_id}").json()
    assert [("strip" in f, f["case_id"]) for f in shelter_view["sightings"]] == [(False, case_id)]
    assert not list((api.data / "uploads").glob("*gate.mp4"))  # the copy is gone once scanned


def test_budgets_and_errors_are_json(api: Api) -> None:
    with api.client("investigator") as c:
        big = c.post("/api/v1/search", files=[("photos", ("big.jpg", b"\xff" * (BUDGET + 1)))])
        _error(big, 413, "too_large")
        _error(c.get("/api/v1/nowhere"), 404, "not_found")
        _error(c.patch("/api/v1/cases"), 405)
        _error(c.get("/api/v1/cases/0"), 422, "invalid")
        _error(c.get("/api/v1/cases/123456"), 404)
        _error(c.put("/api/v1/cases/1/status", content=b"{not json",
                     headers={"Content-Type": "application/json"}), 422)


def test_rate_limit_is_per_key(api: Api) -> None:
    with api.client("slow") as c:
        answers = [c.get("/api/v1/cases") for _ in range(4)]
    assert [r.status_code for r in answers[:2]] == [200, 200]
    refused = answers[-1]
    _error(refused, 429, "rate_limited")
    assert int(refused.headers["Retry-After"]) >= 1
    with api.client("viewer") as c:
        assert c.get("/api/v1/cases").status_code == 200  # another key is not held back
    held = ("api.refused", "GET /api/v1/cases")
    assert held in _audit(api.data, "api:slow-key", lambda rows: held in rows)


def test_metrics_need_audit_view(api: Api) -> None:
    with api.client("investigator") as c:
        c.post("/api/v1/search", files=[("photos", ("x.jpg", b"nothing"))])
        _error(c.get("/metrics"), 403)
    with api.client("admin") as c:
        r = c.get("/metrics")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
        text = r.text
        assert c.get("/api/v1/metrics").status_code == 200
    for name in ("findme_api_requests_total{", "findme_api_request_seconds_bucket{",
                 "findme_searches_total", "findme_search_seconds_count", "findme_leads{",
                 "# TYPE findme_probes_total counter",
                 "findme_alerts", "findme_queue_depth{kind=\"imports\"",
                 "findme_queue_depth{kind=\"scans\""):
        assert name in text, name


def test_keys_are_printed_once_and_only_their_hash_is_stored(api: Api) -> None:
    key = add_key(api.data, "printed-once", "viewer")
    listed = findme(api.data, "apikeys", "list", "--json")
    assert "printed-once" in listed.stdout and key not in listed.stdout
    assert key[8:] not in (api.data / "findme.db").read_bytes().decode("latin-1")
    taken = findme(api.data, "apikeys", "add", "printed-once", "--role", "viewer")
    assert taken.returncode != 0 and "taken" in taken.stderr
    with httpx.Client(base_url=api.url, headers={"Authorization": f"Bearer {key}"}) as c:
        assert c.get("/api/v1/cases").status_code == 200
        assert findme(api.data, "apikeys", "revoke", "printed-once").returncode == 0
        # the running server refuses it within a second (it keeps a lookup that long)
        refused = wait_for(lambda: c.get("/api/v1/cases"), lambda r: r.status_code == 401,
                           timeout=10, every=0.2)
        assert "revoked" in _error(refused, 401)

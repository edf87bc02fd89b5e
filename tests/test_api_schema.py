"""Property-based testing of the API against its own OpenAPI document (Schemathesis): every
operation, several hundred generated requests with an admin key (so every rule is reached, not
just the 403), a real server on real weights with a registered case and a lead in it. Every
answer must be no 5xx, have a documented status and content type, and match its schema."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from findme.config import Settings
from findme.evaluation.datasets import identities

from .api_server import add_key, new_data_dir, running_api
from .conftest import usable_photos

pytestmark = pytest.mark.heavy
EXAMPLES = 40  # per operation
SENT: Counter[str] = Counter()  # requests sent, per operation
KEY: dict[str, str] = {}  # the admin key and the server's URL, set by the fixture


def _document() -> dict:
    """The OpenAPI document the app serves (built here without a server; the fixture checks
    that the running server serves the very same document)."""
    from findme.api.app import create_app
    from findme.config import get_settings

    return create_app(get_settings()).openapi()


DOCUMENT = _document()
schema = schemathesis.openapi.from_dict(DOCUMENT)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, settings: Settings, celeb5: Path
           ) -> Iterator[str]:
    """A server with one case and one lead in it; its URL (also in ``KEY["url"]``)."""
    s = settings
    data = new_data_dir(tmp_path_factory.mktemp("api-schema"), s.weights_dir)
    KEY["key"] = add_key(data, "fuzzer", "admin", "--rate", "100000")
    train, val = identities(celeb5 / "train"), identities(celeb5 / "val")
    with running_api(data) as url:
        with httpx.Client(base_url=url, timeout=300,
                          headers={"Authorization": f"Bearer {KEY['key']}"}) as c:
            made = c.post("/api/v1/cases", data={"name": "Seed Child", "consent": "true"},
                          files=[("photos", (p.name, p.read_bytes()))
                                 for p in usable_photos(train["madonna"], s, 2)])
            assert made.status_code == 201, made.text
            probe = val["madonna"][0]
            found = c.post("/api/v1/search", files=[("photos", (probe.name,
                                                                probe.read_bytes()))])
            assert found.json()["results"][0]["leads"]
            assert c.get("/api/v1/openapi.json").json() == DOCUMENT
        KEY["url"] = url
        yield url


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, phases=[Phase.explicit, Phase.generate],
          suppress_health_check=list(HealthCheck), derandomize=True)
def test_api_answers_every_generated_request_as_documented(server: str,
                                                           case: schemathesis.Case) -> None:
    response = case.call(base_url=server, timeout=300,
                         headers={"Authorization": f"Bearer {KEY['key']}"})
    SENT[f"{case.method} {case.path}"] += 1
    case.validate_response(response, checks=[not_a_server_error, status_code_conformance,
                                             content_type_conformance,
                                             response_schema_conformance])


def test_several_hundred_requests_reached_every_operation() -> None:
    """Runs after the generated tests (file order): how many requests each operation got."""
    operations = {f"{method.upper()} {path}" for path, item in DOCUMENT["paths"].items()
                  for method in item}
    documented = {op: n for op, n in SENT.items() if op in operations}
    print(f"\nSchemathesis sent {sum(SENT.values())} requests, {sum(documented.values())} to "
          f"the {len(operations)} documented operations: {dict(sorted(documented.items()))} "
          "(the rest: other methods on the same paths)")
    assert set(documented) == operations and sum(documented.values()) >= 300, SENT

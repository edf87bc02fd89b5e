"""Prometheus metrics of the API process (``GET /metrics``, text format 0.0.4).

Counters and latency histograms are this process's (requests per route and status, photos
searched and their search time); gauges are read from the database at each scrape (searches of every
door by source, leads and alerts by status, cases by kind and status, the task queue's depth:
imports and scans waiting or running), so they are the whole deployment's.
"""

from __future__ import annotations

import threading
from collections import defaultdict

from sqlalchemy import func, select

from findme.cases.records import Records

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Histogram:
    """Cumulative buckets, sum and count per label set."""

    def __init__(self) -> None:
        self.counts: dict[tuple, list[int]] = defaultdict(lambda: [0] * (len(BUCKETS) + 1))
        self.sums: dict[tuple, float] = defaultdict(float)

    def observe(self, labels: tuple, seconds: float) -> None:
        """Count one observation of ``seconds`` under ``labels``."""
        row = self.counts[labels]
        for k, edge in enumerate(BUCKETS):
            if seconds <= edge:
                row[k] += 1
        row[-1] += 1
        self.sums[labels] += seconds


class Metrics:
    """This process's counters and histograms (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: dict[tuple[str, str, str], int] = defaultdict(int)
        self.latency = Histogram()
        self.searches = 0
        self.search_faces = 0
        self.search_latency = Histogram()
        self.search_latency.counts[()] = [0] * (len(BUCKETS) + 1)  # the series from the start
        self.search_latency.sums[()] = 0.0

    def request(self, method: str, route: str, status: int, seconds: float) -> None:
        """One answered request."""
        with self._lock:
            self.requests[(method, route, str(status))] += 1
            self.latency.observe((route,), seconds)

    def search(self, faces: int, seconds: float) -> None:
        """One photo searched (its faces, its search time)."""
        with self._lock:
            self.searches += 1
            self.search_faces += faces
            self.search_latency.observe((), seconds)

    def render(self, records: Records) -> str:
        """Everything in Prometheus' text format."""
        out: list[str] = []

        def head(name: str, kind: str, text: str) -> None:
            out.append(f"# HELP {name} {text}")
            out.append(f"# TYPE {name} {kind}")

        def histogram(name: str, h: Histogram, label: str | None) -> None:
            for labels, row in sorted(h.counts.items()):
                extra = f'{label}="{_esc(labels[0])}",' if label else ""
                for edge, n in zip(BUCKETS, row, strict=False):
                    out.append(f'{name}_bucket{{{extra}le="{edge}"}} {n}')
                out.append(f'{name}_bucket{{{extra}le="+Inf"}} {row[-1]}')
                plain = f"{{{extra.rstrip(',')}}}" if extra else ""
                out.append(f"{name}_sum{plain} {h.sums[labels]:.6f}")
                out.append(f"{name}_count{plain} {row[-1]}")

        with self._lock:
            head("findme_api_requests_total", "counter", "API requests answered")
            for (method, route, status), n in sorted(self.requests.items()):
                out.append(f'findme_api_requests_total{{method="{method}",route="{_esc(route)}",'
                           f'status="{status}"}} {n}')
            head("findme_api_request_seconds", "histogram", "API request latency")
            histogram("findme_api_request_seconds", self.latency, "route")
            head("findme_searches_total", "counter", "photos searched through the API")
            out.append(f"findme_searches_total {self.searches}")
            head("findme_search_faces_total", "counter", "faces found in searched photos")
            out.append(f"findme_search_faces_total {self.search_faces}")
            head("findme_search_seconds", "histogram", "search time per photo")
            histogram("findme_search_seconds", self.search_latency, None)
        out += _gauges(records)
        return "\n".join(out) + "\n"


def _esc(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _gauges(records: Records) -> list[str]:
    """Leads, alerts, cases and the queue's depth, read now."""
    from findme.alerts.store import Alert
    from findme.cases.import_jobs import ImportJob
    from findme.cases.tables import Case, Lead, Probe
    from findme.video.scans import Scan

    out: list[str] = []
    with records.session() as s:
        for name, text, rows, label in (
                ("findme_leads", "leads by status",
                 s.execute(select(Lead.status, func.count()).group_by(Lead.status)).all(),
                 "status"),
                ("findme_alerts", "alerts by status",
                 s.execute(select(Alert.status, func.count()).group_by(Alert.status)).all(),
                 "status")):
            out += [f"# HELP {name} {text}", f"# TYPE {name} gauge"]
            out += [f'{name}{{{label}="{_esc(str(v))}"}} {n}' for v, n in sorted(rows)]
        out += ["# HELP findme_probes_total everything searched so far (photos, CLI, webcam, "
                "CCTV), by source", "# TYPE findme_probes_total counter"]
        out += [f'findme_probes_total{{source="{_esc(str(v))}"}} {n}' for v, n in sorted(
            s.execute(select(Probe.source, func.count()).group_by(Probe.source)).all())]
        out += ["# HELP findme_cases records by kind and status", "# TYPE findme_cases gauge"]
        for kind, status, n in sorted(s.execute(select(Case.kind, Case.status, func.count())
                                                .group_by(Case.kind, Case.status)).all()):
            out.append(f'findme_cases{{kind="{_esc(kind)}",status="{_esc(status)}"}} {n}')
        out += ["# HELP findme_queue_depth imports and scans waiting or running",
                "# TYPE findme_queue_depth gauge"]
        for kind, table in (("imports", ImportJob), ("scans", Scan)):
            for status in ("queued", "running"):
                n = s.scalar(select(func.count()).select_from(table).where(
                    table.status == status)) or 0
                out.append(f'findme_queue_depth{{kind="{kind}",status="{status}"}} {n}')
    return out

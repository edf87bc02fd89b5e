"""Search through the REST API against ``findme search`` in-process, and five API clients at once.

One run, one gallery, the same probe photos: the 5-celebrity training photos registered as five
cases (plus ``--portraits`` never-registered portraits as one-photo cases), probes: the
5-celebrity validation photos. Both sides share one Chroma server (``findme chroma-server``, as
under ``make serve``) and the case database in a temporary data folder, so the in-process search
and the API server search the very same stores; passes alternate (in-process, API, in-process,
API...) so the machine's other load falls on both alike.

(a) latency per photo: ``findme search``'s path in this process (decode, search, record the
    probe and its leads: :meth:`findme.workspace.Workspace.search`) against one ``POST
    /api/v1/search`` per photo from an httpx client (upload, key check, audit row, the same
    search, JSON). The API's overhead per photo is measured two ways: the client's time minus
    the server's own decode+search time (its ``Server-Timing`` header), and p95(API) - p95(in
    process). Target (issue 23): overhead under 15 ms per photo at p95.
    The overhead is measured from two clients in turn: httpx in this process (which holds the
    models and the in-process workspace) and a fresh process that loads only httpx, as a
    partner's script would; per pass p95s and each photo's best pass are printed beside the
    pooled p95, as this virtual machine's speed moves between minutes.
(b) five clients at once (five threads, each its own connection) against one client: photos
    per second, and the p95 latency each sees.

Wall-clock figures are printed (and a JSON line), never asserted.

Usage: .venv/bin/python bench/api.py [--rounds 5] [--portraits 40]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def p95(values: list[float]) -> float:
    """95th percentile (nearest rank) of ``values``."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(np.ceil(0.95 * len(ordered))) - 1)]


def server_timing(header: str) -> dict[str, float]:
    """``{"search": s, "app": s}`` from a ``Server-Timing`` header (``search;dur=12.3,
    app;dur=15.0``, milliseconds) in seconds."""
    out = {}
    for part in header.split(","):
        name, _, value = part.strip().partition(";dur=")
        out[name] = float(value) / 1000
    return out


def lean_client(url: str, key: str, paths: list[str], warm: int = 3) -> None:
    """``--client``: one pass of ``POST /api/v1/search`` over ``paths`` from this process, which
    loads nothing but httpx (as a partner's script would): prints one JSON line per photo,
    ``[client s, server search s, server app s]``, after ``warm`` untimed requests."""
    import httpx

    blobs = [(Path(p).name, Path(p).read_bytes()) for p in paths]
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"},
                      timeout=300) as client:
        out = []
        for k, (name, blob) in enumerate([*blobs[:warm], *blobs]):
            started = time.perf_counter()
            r = client.post("/api/v1/search", files=[("photos", (name, blob))])
            took = time.perf_counter() - started
            r.raise_for_status()
            server = server_timing(r.headers["Server-Timing"])
            if k >= warm:
                out.append([took, server["search"], server["app"]])
    print(json.dumps(out))


def _wait(url: str, proc: subprocess.Popen, timeout: float = 300) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise RuntimeError(f"{url}: the server ended with {proc.returncode}")
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer")


def main() -> None:
    """Build the gallery, start the servers, run (a) and (b), print figures and ratios."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=5, help="passes over the probes per side")
    ap.add_argument("--portraits", type=int, default=40, help="one-photo cases added")
    ap.add_argument("--clients", type=int, default=5)
    ap.add_argument("--client", nargs="+", metavar=("URL KEY", "PHOTO"),
                    help=argparse.SUPPRESS)  # internal: the lean client process
    args = ap.parse_args()
    if args.client:
        lean_client(args.client[0], args.client[1], args.client[2:])
        return

    import httpx

    from findme.cases.apikeys import add_key
    from findme.cases.records import CaseDetails
    from findme.cases.registry import PhotoInput, enroll_case
    from findme.config import get_settings, reset_settings
    from findme.evaluation.datasets import identities
    from findme.faces.image import load_image
    from tests.api_server import free_port

    base = get_settings()
    tmp = Path(tempfile.mkdtemp(prefix="findme-bench-api-"))
    data = tmp / "data"
    data.mkdir()
    (data / "weights").symlink_to(base.weights_dir)
    chroma_port, api_port = free_port(), free_port()
    token = secrets.token_urlsafe(24)
    env = dict(os.environ, FINDME_DATA_DIR=str(data), FINDME_SECRETS_FILE=str(tmp / "none"),
               FINDME_CHROMA_URL=f"http://127.0.0.1:{chroma_port}", FINDME_CHROMA_TOKEN=token,
               FINDME_ALERT_WORKER="0")
    os.environ.update({k: env[k] for k in ("FINDME_DATA_DIR", "FINDME_SECRETS_FILE",
                                           "FINDME_CHROMA_URL", "FINDME_CHROMA_TOKEN",
                                           "FINDME_ALERT_WORKER")})
    reset_settings()
    settings = get_settings()
    logs = [(tmp / name).open("wb") for name in ("chroma.log", "api.log")]
    procs = [subprocess.Popen([sys.executable, "-m", "findme.cli", "chroma-server", "--path",
                               str(data / "chroma"), "--port", str(chroma_port)], env=env,
                              stdout=logs[0], stderr=subprocess.STDOUT)]
    try:
        _wait(f"http://127.0.0.1:{chroma_port}/api/v2/heartbeat", procs[0])
        from findme.workspace import open_workspace

        celeb = base.eval_dir / "celeb5"
        train, val = identities(celeb / "train"), identities(celeb / "val")
        probes = [p for person in sorted(val) for p in val[person]]
        with open_workspace(settings) as ws:
            for person in sorted(train):
                enroll_case(CaseDetails(person, consent_recorded=True),
                            [PhotoInput(p.name, p.read_bytes()) for p in train[person][:4]],
                            ws.records, ws.store, settings)
            portraits = sorted((base.eval_dir / "distractors").glob("*.jpg"))
            for p in portraits[:args.portraits]:
                try:
                    enroll_case(CaseDetails(p.stem, consent_recorded=True),
                                [PhotoInput(p.name, p.read_bytes())], ws.records, ws.store,
                                settings)
                except ValueError:
                    pass  # no usable face: not part of the gallery
            _, key = add_key(ws.records, "bench", "investigator", "bench", 100_000)
            gallery = ws.records.counts()["photos"]

        procs.append(subprocess.Popen([sys.executable, "-m", "findme.cli", "api", "--port",
                                       str(api_port)], env=env, stdout=logs[1],
                                      stderr=subprocess.STDOUT))
        url = f"http://127.0.0.1:{api_port}"
        _wait(f"{url}/api/v1/health", procs[1])
        headers = {"Authorization": f"Bearer {key}"}
        blobs = [(p.name, p.read_bytes()) for p in probes]

        def api_search(client: httpx.Client, name: str, blob: bytes
                       ) -> tuple[float, dict[str, float]]:
            """The client's time for one photo, and the server's own (``search``: decode and
            search; ``app``: the whole request up to the answer), in seconds."""
            started = time.perf_counter()
            r = client.post("/api/v1/search", files=[("photos", (name, blob))])
            took = time.perf_counter() - started
            r.raise_for_status()
            return took, server_timing(r.headers["Server-Timing"])

        with open_workspace(settings, repair=False) as ws, \
                httpx.Client(base_url=url, headers=headers, timeout=300) as client:
            for name, blob in blobs[:3]:  # warm both sides (models, connections)
                ws.search(load_image(blob, settings), 5, "cli", name)
                api_search(client, name, blob)
            local: list[list[float]] = []
            overhead: list[list[float]] = []  # per pass: client time - the server's search
            network: list[float] = []  # client and transport: the client's time - the app's
            around: list[float] = []  # the server outside the search: the app's - the search's
            ahead: list[float] = []  # of which before the search (upload, key, worker thread)
            lean: list[list[float]] = []  # the same overhead seen from a process of only httpx
            remote: list[float] = []
            for _ in range(args.rounds):
                lap = []
                for name, blob in blobs:
                    started = time.perf_counter()
                    ws.search(load_image(blob, settings), 5, "cli", name)
                    lap.append(time.perf_counter() - started)
                local.append(lap)
                lap = []
                for name, blob in blobs:
                    took, server = api_search(client, name, blob)
                    remote.append(took)
                    lap.append(took - server["search"])
                    network.append(took - server["app"])
                    around.append(server["app"] - server["search"])
                    ahead.append(server["before"])
                overhead.append(lap)
                got = subprocess.run([sys.executable, __file__, "--client", url, key,
                                      *map(str, probes)], env=env, check=True, text=True,
                                     capture_output=True).stdout
                lean.append([took - search for took, search, _ in json.loads(got)])

            # (b) one client, then N at once, alternating
            single: list[float] = []
            many: list[float] = []
            rate_one: list[float] = []
            rate_many: list[float] = []
            lock = threading.Lock()
            for _ in range(args.rounds):
                started = time.perf_counter()
                for name, blob in blobs:
                    single.append(api_search(client, name, blob)[0])
                rate_one.append(len(blobs) / (time.perf_counter() - started))

                def worker(k: int) -> None:
                    with httpx.Client(base_url=url, headers=headers, timeout=300) as own:
                        for name, blob in blobs[k::args.clients]:
                            took = api_search(own, name, blob)[0]
                            with lock:
                                many.append(took)

                threads = [threading.Thread(target=worker, args=(k,))
                           for k in range(args.clients)]
                started = time.perf_counter()
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
                rate_many.append(len(blobs) / (time.perf_counter() - started))
    finally:
        for proc in reversed(procs):
            proc.terminate()
            try:
                proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                proc.kill()
        for log in logs:
            log.close()
        shutil.rmtree(tmp, ignore_errors=True)

    ms = 1000.0
    flat = [t for lap in local for t in lap]

    def tail(laps: list[list[float]]) -> dict[str, float]:
        """p50 / p95 over every timing, the median and range of the passes' p95 and the p95
        of each photo's best pass, in ms."""
        pooled = [t for lap in laps for t in lap]
        each = [p95(lap) for lap in laps]
        best = [min(ts) for ts in zip(*laps, strict=True)]
        return {"p50_ms": round(statistics.median(pooled) * ms, 2),
                "p95_ms": round(p95(pooled) * ms, 2),
                "p95_per_pass_median_ms": round(statistics.median(each) * ms, 2),
                "p95_per_pass_range_ms": [round(min(each) * ms, 2), round(max(each) * ms, 2)],
                "p95_of_best_ms": round(p95(best) * ms, 2)}

    figures = {
        "photos": len(blobs), "rounds": args.rounds, "gallery_faces": gallery,
        "in_process_p50_ms": round(statistics.median(flat) * ms, 1),
        "in_process_p95_ms": round(p95(flat) * ms, 1),
        "api_p50_ms": round(statistics.median(remote) * ms, 1),
        "api_p95_ms": round(p95(remote) * ms, 1),
        "overhead": tail(overhead),
        "overhead_lean_client": tail(lean),
        "client_and_network_p50_ms": round(statistics.median(network) * ms, 2),
        "client_and_network_p95_ms": round(p95(network) * ms, 2),
        "server_outside_search_p50_ms": round(statistics.median(around) * ms, 2),
        "server_outside_search_p95_ms": round(p95(around) * ms, 2),
        "server_before_search_p50_ms": round(statistics.median(ahead) * ms, 2),
        "server_before_search_p95_ms": round(p95(ahead) * ms, 2),
        "p95_difference_ms": round((p95(remote) - p95(flat)) * ms, 1),
        "api_vs_in_process_p95": round(p95(remote) / p95(flat), 3),
        "clients": args.clients,
        "one_client_photos_per_s": round(statistics.median(rate_one), 2),
        "n_clients_photos_per_s": round(statistics.median(rate_many), 2),
        "throughput_ratio": round(statistics.median(rate_many) / statistics.median(rate_one), 3),
        "one_client_p95_ms": round(p95(single) * ms, 1),
        "n_clients_p95_ms": round(p95(many) * ms, 1),
    }

    def said(t: dict[str, float]) -> str:
        lo, hi = t["p95_per_pass_range_ms"]
        return (f"p50 {t['p50_ms']} ms, p95 {t['p95_ms']} ms (per pass: median "
                f"{t['p95_per_pass_median_ms']} ms, {lo}-{hi}; each photo's best pass: "
                f"{t['p95_of_best_ms']} ms)")

    print(f"(a) {len(blobs)} photos x {args.rounds} passes, gallery {gallery} faces")
    print(f"    in process (findme search's path): p50 {figures['in_process_p50_ms']} ms, "
          f"p95 {figures['in_process_p95_ms']} ms")
    print(f"    through the API:                  p50 {figures['api_p50_ms']} ms, "
          f"p95 {figures['api_p95_ms']} ms  (ratio at p95 {figures['api_vs_in_process_p95']}x)")
    print("    API overhead per photo (client time - server decode+search; target p95 < 15 ms):")
    print(f"      client in this process (models loaded): {said(figures['overhead'])}")
    print(f"      client in a process of only httpx:      {said(figures['overhead_lean_client'])}")
    print(f"      p95(API) - p95(in process): {figures['p95_difference_ms']} ms")
    print(f"      of which the client and the network: p50 "
          f"{figures['client_and_network_p50_ms']} ms, p95 {figures['client_and_network_p95_ms']}"
          f" ms; the server outside the search (upload, key, audit, JSON): p50 "
          f"{figures['server_outside_search_p50_ms']} ms, p95 "
          f"{figures['server_outside_search_p95_ms']} ms (before the search: p50 "
          f"{figures['server_before_search_p50_ms']} ms, p95 "
          f"{figures['server_before_search_p95_ms']} ms)")
    print(f"(b) {args.clients} clients at once: {figures['n_clients_photos_per_s']} photos/s "
          f"against {figures['one_client_photos_per_s']} with one client "
          f"(ratio {figures['throughput_ratio']}x); p95 latency {figures['n_clients_p95_ms']} ms "
          f"against {figures['one_client_p95_ms']} ms")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()

"""``findme serve`` (``make serve``): the dashboard, a Chroma server and the alert worker as
separate supervised processes on 127.0.0.1.

A case enrolled from the command line while the dashboard runs is found by a search in the
dashboard (headless Chromium); the alert worker killed with SIGKILL is restarted by supervisord
and delivers the alert that search queued.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from findme.config import Settings
from findme.evaluation.datasets import identities
from tests.live_app import ARTIFACTS, CHROMIUM_ARGS, free_port, sign_in

pytestmark = pytest.mark.heavy
PASSWORD = "correct horse battery"


def _wait(url: str, proc: subprocess.Popen, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        if proc.poll() is not None:
            raise RuntimeError(f"findme serve ended with {proc.returncode}")
        time.sleep(0.5)
    raise RuntimeError(f"{url} did not answer")


@contextmanager
def _serving(data: Path) -> Iterator[tuple[str, dict[str, str], Path, str]]:
    """``findme serve`` on free loopback ports; yields (dashboard URL, the environment a CLI
    beside it uses, the supervisord configuration, the API's URL)."""
    port, chroma, api = free_port(), free_port(), free_port()
    env = dict(os.environ, FINDME_DATA_DIR=str(data),
               FINDME_SECRETS_FILE=str(data / "no-secrets.toml"),
               FINDME_PUBLIC_URL=f"http://127.0.0.1:{port}")
    log = (ARTIFACTS / f"serve-{port}.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "findme.cli", "serve", "--port", str(port),
                             "--chroma-port", str(chroma), "--api-port", str(api)],
                            env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait(f"http://127.0.0.1:{chroma}/api/v2/heartbeat", proc)
        _wait(f"http://127.0.0.1:{port}/_stcore/health", proc)
        _wait(f"http://127.0.0.1:{api}/api/v1/health", proc)
        yield (f"http://127.0.0.1:{port}", dict(env, FINDME_CHROMA_URL=f"http://127.0.0.1:{chroma}"),
               data / "run" / "supervisord.conf", f"http://127.0.0.1:{api}")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def _pid(conf: Path, program: str) -> int:
    out = subprocess.run([str(Path(sys.executable).parent / "supervisorctl"), "-c", str(conf),
                          "pid", program], capture_output=True, text=True, timeout=30)
    return int(out.stdout.strip() or 0)


def test_supervised_processes_share_the_stores_and_survive_a_kill(ws_settings: Settings,
                                                                  celeb5: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    from findme.alerts import store as alert_store
    from findme.cases.records import open_records

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    train = identities(celeb5 / "train")["jerry_seinfeld"][1:3]
    probe = identities(celeb5 / "val")["jerry_seinfeld"][0]
    with _serving(ws_settings.data_dir) as (url, env, conf, api):
        cli = [sys.executable, "-m", "findme.cli"]
        subprocess.run([*cli, "users", "add", "anna", "--role", "investigator",
                        "--password-stdin"], input=PASSWORD + "\n", env=env, check=True,
                       capture_output=True, text=True, timeout=120)
        made = subprocess.run([*cli, "enroll", *map(str, train), "--name", "Jerry Served",
                               "--consent"], env=env, capture_output=True, text=True,
                              timeout=300)
        assert made.returncode == 0, made.stderr[-2000:]
        key = subprocess.run([*cli, "apikeys", "add", "served", "--role", "reviewer"], env=env,
                             capture_output=True, text=True, timeout=120).stdout.strip()
        found = httpx.post(f"{api}/api/v1/search", headers={"Authorization": f"Bearer {key}"},
                           files={"photos": (probe.name, probe.read_bytes())}, timeout=300)
        assert found.json()["results"][0]["faces"][0]["matches"][0]["name"] == "Jerry Served"

        worker = _pid(conf, "alerts")
        assert worker > 0
        os.kill(worker, signal.SIGKILL)

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                        args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1100})
            page.set_default_timeout(180_000)
            expect.set_options(timeout=180_000)
            page.goto(url)
            sign_in(page, "anna", PASSWORD)
            page.locator('[data-testid="stSidebar"]').get_by_role(
                "link", name="Search photos").click()
            box = page.locator('[data-testid="stFileUploader"]').filter(
                has_text="Photos or ZIP files")
            box.locator('input[type="file"]').set_input_files(str(probe))
            expect(box.get_by_role("button", name=f"Remove {probe.name}")).to_be_visible()
            page.get_by_role("button", name="Search", exact=True).click()
            expect(page.get_by_text("Jerry Served").first).to_be_visible()
            page.screenshot(path=str(ARTIFACTS / "serve-search.png"), full_page=True)
            browser.close()

        records = open_records(ws_settings)
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                queued = alert_store.list_alerts(records, channel="dashboard")
                if queued and all(a.status == "sent" for a in queued):
                    break
                time.sleep(1)
            assert queued and all(a.status == "sent" for a in queued), queued
        finally:
            records.engine.dispose()
        restarted = _pid(conf, "alerts")
        assert restarted > 0 and restarted != worker

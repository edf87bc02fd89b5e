"""Run the real dashboard (``streamlit run app.py``) on 127.0.0.1 for browser tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).parent.parent
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def sign_in(page, user: str, password: str) -> None:
    """Sign in through the form the page shows, as a person does; returns once the overview
    ("Open cases") is visible."""
    from playwright.sync_api import expect

    page.get_by_role("textbox", name="User name").fill(user)
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("Open cases")).to_be_visible()


def settled(page, quiet_s: float = 1.0, timeout_ms: float = 300_000) -> None:
    """Wait until no script run is under way and none starts for ``quiet_s`` seconds (a page
    redrawing after a component's change, e.g. a webcam stopped, reruns more than once):
    what a person sees is the page in its final state, with every field of a form there."""
    idle = '[data-testid="stApp"][data-test-script-state="notRunning"]'
    deadline = time.monotonic() + timeout_ms / 1000
    while True:
        page.wait_for_selector(idle, timeout=max(1.0, deadline - time.monotonic()) * 1000)
        time.sleep(quiet_s)
        if page.locator(idle).count() or time.monotonic() > deadline:
            return


def submit(page, button, outcome, timeout_ms: float, where: str) -> None:
    """Click ``button`` and wait up to ``timeout_ms`` for the locator ``outcome``. A click the
    page dropped (nothing shows the work: no run under way, no spinner, no outcome, for 20 s
    after the click) is made once more, as a person would, and said on stdout; a run that
    began and shows no outcome stays a failure of ``expect``."""
    from playwright.sync_api import expect

    button.click()
    quiet_since = None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not outcome.count():
        busy = page.locator('[data-testid="stApp"][data-test-script-state="running"]').count() \
            or page.locator('[data-testid="stSpinner"]').count()
        if busy:
            quiet_since = None
        elif quiet_since is None:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since > 20:
            print(f"{where}: the click showed nothing in 20 s; clicked again")
            button.click()
            break
        time.sleep(0.5)
    expect(outcome.first).to_be_visible(timeout=timeout_ms)


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, what: str, timeout: float = 60) -> None:
    """Return once something accepts connections on 127.0.0.1:``port``; kill ``proc`` and fail
    the test (naming ``what``) when it exits or ``timeout`` seconds pass first."""
    import pytest

    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                pytest.fail(f"{what} did not start")
            time.sleep(0.1)


@contextmanager
def running_app(data_dir: Path, env: dict[str, str] | None = None,
                timeout: float = 120, host: str = "127.0.0.1",
                tls: Path | None = None) -> Iterator[str]:
    """Start the dashboard on a free port of ``host`` with ``FINDME_DATA_DIR=data_dir`` (over
    HTTPS with ``tls``: a folder made by ``findme cert``); yields its URL; stops it afterwards.
    The server log is kept in ``tests/artifacts``."""
    import ssl

    port = free_port()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log = (ARTIFACTS / f"streamlit-{port}.log").open("wb")
    url = f"{'https' if tls else 'http'}://{host}:{port}"
    full_env = dict(os.environ, FINDME_DATA_DIR=str(data_dir),
                    FINDME_SECRETS_FILE=str(data_dir / "no-secrets.toml"),
                    FINDME_PUBLIC_URL=url, **(env or {}))
    tls_args = ["--server.sslCertFile", str(tls / "cert.pem"), "--server.sslKeyFile",
                str(tls / "key.pem")] if tls else []
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"),
         "--server.address", host, "--server.port", str(port),
         "--server.headless", "true", "--browser.gatherUsageStats", "false",
         "--server.fileWatcherType", "none", *tls_args],
        cwd=ROOT, env=full_env, stdout=log, stderr=subprocess.STDOUT)
    context = ssl.create_default_context(cafile=str(tls / "ca.pem")) if tls else None
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2,
                                            context=context) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the dashboard did not start (see {log.name})")
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()

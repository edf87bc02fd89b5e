"""Run the real API (``findme api``: uvicorn) on 127.0.0.1 for tests and benchmarks, and make
keys for it with the real ``findme apikeys`` command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).parent.parent
ARTIFACTS = ROOT / "tests" / "artifacts"
ROLES = ("admin", "investigator", "reviewer", "viewer", "shelter")


def environment(data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a server or command on ``data_dir`` (no secrets file, no alert
    worker: alerts are not what these tests look at)."""
    return dict(os.environ, FINDME_DATA_DIR=str(data_dir),
                FINDME_SECRETS_FILE=str(data_dir / "no-secrets.toml"),
                FINDME_ALERT_WORKER="0", **extra)


def findme(data_dir: Path, *args: str, env: dict[str, str] | None = None
           ) -> subprocess.CompletedProcess[str]:
    """Run ``findme ARGS`` on ``data_dir``."""
    return subprocess.run([sys.executable, "-m", "findme.cli", *args], cwd=ROOT,
                          env=env or environment(data_dir), capture_output=True, text=True,
                          timeout=300)


def add_key(data_dir: Path, name: str, role: str, *extra: str) -> str:
    """Make an API key with ``findme apikeys add NAME --role ROLE --json``; returns the key."""
    proc = findme(data_dir, "apikeys", "add", name, "--role", role, "--json", *extra)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert set(out) == {"name", "role", "key"} and out["name"] == name and out["role"] == role
    return out["key"]


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running_api(data_dir: Path, timeout: float = 300, https: bool = False,
                **extra_env: str) -> Iterator[str]:
    """Start ``findme api`` on a free port of 127.0.0.1 with ``FINDME_DATA_DIR=data_dir``
    (``--https`` with ``https``: the certificate ``findme cert`` made in the data folder);
    yields its base URL once ``/api/v1/health`` says ``up``; stops it afterwards (SIGTERM,
    so the workspace closes). The server log is kept in ``tests/artifacts``."""
    port = free_port()
    verify: str | bool = str(data_dir / "tls" / "ca.pem") if https else True
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log = (ARTIFACTS / f"api-{port}.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "findme.cli", "api", "--port", str(port),
                             *(["--https"] if https else [])], cwd=ROOT,
                            env=environment(data_dir, **extra_env), stdout=log,
                            stderr=subprocess.STDOUT)
    url = f"{'https' if https else 'http'}://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(f"{url}/api/v1/health", timeout=5,
                             verify=verify).json() == {"status": "up"}:
                    break
            except (httpx.HTTPError, ValueError):
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the API did not start (see {log.name})")
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def new_data_dir(folder: Path, weights: Path) -> Path:
    """An empty data folder under ``folder`` sharing the provisioned weights (a link)."""
    data = folder / "data"
    data.mkdir(parents=True)
    (data / "weights").symlink_to(weights)
    return data


def wait_for(get: callable, done: callable, timeout: float = 600, every: float = 0.5):
    """Call ``get()`` until ``done(value)``; returns the value (fails after ``timeout`` s)."""
    deadline = time.monotonic() + timeout
    while True:
        value = get()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not done in {timeout} s: {value}")
        time.sleep(every)

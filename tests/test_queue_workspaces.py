"""The task queue as ``findme serve --queue`` runs it: a real ``redis-server`` with the
configuration ``findme serve`` writes (loopback, a generated password, an append-only file), a
real ``findme chroma-server`` and a real ``findme worker``.

* A demo job and a live job with the same id (each workspace has its own database) each run in
  their own workspace: the message names the workspace, the worker maps the name itself.
* Redis refuses a client without the password.
* A camera URL with a password, scanned on the queue, leaves the password in no Redis key and
  in no file Redis writes; the kept source is removed when the job ends.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from findme.config import Settings
from tests.live_app import free_port, wait_for_port
from tests.test_chroma_guarded import GuardedChroma, guarded_chroma  # noqa: F401 - a fixture
from tests.test_queue import _workers

pytestmark = pytest.mark.heavy
CAMERA_PASSWORD = "Pw-S3cret-7731"


@dataclass(frozen=True)
class Broker:
    """A running ``redis-server`` configured as ``findme serve`` does."""

    port: int
    password: str
    folder: Path

    @property
    def url_without_password(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


@pytest.fixture
def serve_broker(ws_settings: Settings) -> Iterator[Broker]:
    """``redis-server`` with the configuration and password ``findme serve --queue`` writes in
    the data folder's ``run/``."""
    from findme.cli.serve import REDIS_CONF_FILE, REDIS_PASSWORD_FILE, redis_config, secret

    server = shutil.which("redis-server")
    if server is None:
        pytest.fail("redis-server is missing: `make test` installs it (Debian redis-server)")
    run = ws_settings.data_dir / "run"
    run.mkdir(mode=0o700)
    port = free_port()
    password = secret(run, REDIS_PASSWORD_FILE)
    conf = run / REDIS_CONF_FILE
    conf.write_text(redis_config(port, password, run))
    conf.chmod(0o600)
    proc = subprocess.Popen([server, str(conf)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    wait_for_port(port, proc, "redis-server", timeout=30)
    try:
        yield Broker(port, password, run)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture
def queue_env(ws_settings: Settings, guarded_chroma: GuardedChroma,  # noqa: F811
              serve_broker: Broker, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """The environment of a command run beside ``findme serve --queue`` (the broker URL without
    its password: the command finds it in the data folder). This process gets what the
    dashboard gets from ``findme serve``: the broker URL with the password."""
    from urllib.parse import quote

    from findme.config import reset_settings

    env = {"FINDME_DATA_DIR": str(ws_settings.data_dir),
           "FINDME_CHROMA_URL": guarded_chroma.url, "FINDME_CHROMA_TOKEN": guarded_chroma.token,
           "FINDME_BROKER_URL": serve_broker.url_without_password,
           "FINDME_QUEUE_HEARTBEAT": "5",
           "FINDME_SECRETS_FILE": str(ws_settings.data_dir / "no-secrets.toml")}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("FINDME_BROKER_URL", f"redis://:{quote(serve_broker.password, safe='')}"
                       f"@127.0.0.1:{serve_broker.port}/0")
    reset_settings()
    try:
        yield dict(os.environ, **env)
    finally:
        reset_settings()


def _wait_until_ended(read: list, timeout: float = 600) -> list:
    """Poll ``read`` (callables giving a scan job) until no job is queued or running."""
    deadline = time.monotonic() + timeout
    while True:
        jobs = [r() for r in read]
        if all(j.status not in ("queued", "running") for j in jobs):
            return jobs
        assert time.monotonic() < deadline, [(j.id, j.status) for j in jobs]
        time.sleep(0.5)


def test_a_demo_job_runs_in_the_demo_and_a_live_job_in_the_live_workspace(
        ws_settings: Settings, settings: Settings, queue_env: dict[str, str],
        tmp_path: Path) -> None:
    from findme import demo, queue
    from findme.cases.records import open_records
    from findme.config import get_settings
    from findme.video import scans
    from findme.workspace import open_workspace

    (ws_settings.data_dir / "eval").symlink_to(settings.eval_dir)
    clip = demo.sample_clip(ws_settings)
    live_clip, demo_clip = tmp_path / "live-clip.mp4", tmp_path / "demo-clip.mp4"
    shutil.copy(clip, live_clip)
    shutil.copy(clip, demo_clip)
    live = get_settings()
    assert live.data_dir == ws_settings.data_dir
    live_records = open_records(live)
    demo_records = open_records(demo.demo_settings(live))
    try:
        live_id = queue.submit(live_records, str(live_clip), "live-gate", 4.0, None, "tester")
        demo_id = queue.submit(demo_records, str(demo_clip), "demo-gate", 4.0, None, "tester")
        assert live_id == demo_id == 1, "the same id in both databases"
        full = {**queue_env, "FINDME_BROKER_URL": os.environ["FINDME_BROKER_URL"]}
        with _workers(full, "workspace-worker", n=1) as (worker,):
            live_job, demo_job = _wait_until_ended([
                lambda: scans.get(live_records, live_id),
                lambda: scans.get(demo_records, demo_id)])
            assert worker.poll() is None, "the worker still runs"
        assert (live_job.status, live_job.camera) == ("done", "live-gate"), live_job.error
        assert (demo_job.status, demo_job.camera) == ("done", "demo-gate"), demo_job.error
        assert live_job.source.endswith("live-clip.mp4")
        assert demo_job.source.endswith("demo-clip.mp4")
        assert live_job.worker and demo_job.worker == live_job.worker
        assert live_job.frames > 0 and demo_job.frames > 0
        assert len(scans.list_scans(live_records)) == 1, "nothing of the demo in the live"
        assert len(scans.list_scans(demo_records)) == 1

        # the demo's embedded store held by another process (a dashboard): the worker cannot
        # open it, and says so in the job instead of retrying or scanning the live workspace
        with open_workspace(demo.demo_settings(live)) as held, \
                _workers({**full, "FINDME_STORE_WAIT": "1"}, "busy-worker", n=1):
            busy_id = queue.submit(held.records, str(demo_clip), "demo-busy", 4.0, None, "t")
            (busy,) = _wait_until_ended([lambda: scans.get(demo_records, busy_id)], 300)
        assert busy.status == "failed" and "in use by another process" in busy.error
        assert len(scans.list_scans(live_records)) == 1
    finally:
        live_records.engine.dispose()
        demo_records.engine.dispose()


def test_a_message_naming_an_unknown_workspace_is_refused(ws_settings: Settings) -> None:
    from findme import queue

    with pytest.raises(ValueError, match="unknown workspace"):
        queue.workspace_settings("../../etc", ws_settings)
    assert queue.workspace_settings("demo", ws_settings).data_dir == ws_settings.demo_dir


def test_redis_wants_its_password_and_keeps_no_camera_password(
        ws_settings: Settings, serve_broker: Broker, queue_env: dict[str, str]) -> None:
    import redis

    from findme import queue
    from findme.cases.records import open_records
    from findme.config import get_settings
    from findme.video import scans

    for password in (None, "wrong-password"):
        client = redis.Redis(port=serve_broker.port, password=password)
        with pytest.raises((redis.AuthenticationError, redis.ResponseError)):
            client.ping()
        with pytest.raises((redis.AuthenticationError, redis.ResponseError)):
            client.keys("*")
    authed = redis.Redis(port=serve_broker.port, password=serve_broker.password)
    assert authed.ping()
    assert authed.config_get("bind")["bind"] == "127.0.0.1"
    assert oct((serve_broker.folder / "redis.password").stat().st_mode & 0o777) == "0o600"

    secret = CAMERA_PASSWORD.encode()
    url = f"rtsp://cam:{CAMERA_PASSWORD}@127.0.0.1:9/stream1"
    records = open_records(get_settings())
    try:
        scan_id = queue.submit(records, url, "gate", 1.0, None, "tester")
        kept = ws_settings.data_dir / "uploads" / "sources" / f"scan-{scan_id}"
        assert kept.read_text() == url
        assert oct(kept.stat().st_mode & 0o777) == "0o600"
        assert CAMERA_PASSWORD not in scans.get(records, scan_id).source
        assert _in_redis(authed, secret) == [], "no Redis key holds the camera password"
        with _workers(queue_env, "secret-worker", n=1):
            (job,) = _wait_until_ended([lambda: scans.get(records, scan_id)], 300)
        assert job.status in ("failed", "done"), job.status
        assert CAMERA_PASSWORD not in (job.error or "")
        assert not kept.exists(), "the kept source is removed when the job ends"
    finally:
        records.engine.dispose()
    assert _in_redis(authed, secret) == []
    files = [p for p in serve_broker.folder.rglob("*") if p.is_file()
             and p.name not in ("redis.password", "redis.conf")]
    assert any("aof" in p.name for p in files), files
    # the append-only file logs each command as sent (plain text): a message that had carried
    # the URL would be there even after its key was deleted
    assert [str(p) for p in files if secret in p.read_bytes()] == [], "not in the AOF/RDB"


def _in_redis(client: object, needle: bytes) -> list[str]:
    """Keys whose name or value holds ``needle``, read per type (a DUMP may be compressed)."""
    found = []
    for key in client.scan_iter(count=1000):
        kind = client.type(key).decode()
        if kind == "string":
            parts = [client.get(key) or b""]
        elif kind == "list":
            parts = client.lrange(key, 0, -1)
        elif kind == "hash":
            parts = [b for kv in client.hgetall(key).items() for b in kv]
        elif kind == "set":
            parts = list(client.smembers(key))
        elif kind == "zset":
            parts = client.zrange(key, 0, -1)
        else:
            parts = [client.dump(key) or b""]
        if needle in key or any(needle in p for p in parts):
            found.append(key.decode(errors="replace"))
    return found


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))

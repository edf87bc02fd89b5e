"""``findme serve``: the dashboard, the REST API (``findme api``, ``--api-port``), a Chroma
server, the alert worker (and a watched folder) as separate processes under supervisord, which
restarts whatever dies.

With ``--queue`` (``make serve QUEUE=1``) a local ``redis-server`` and a ``findme worker`` run
too, and CCTV scans and imports go through the task queue (:mod:`findme.queue`).

The embedded vector store belongs to one process; here every process (and any ``findme`` command
run beside them) shares one Chroma server on 127.0.0.1 over the same ``data/chroma`` folder, and
the case database (SQLite in WAL mode, or PostgreSQL with ``FINDME_DATABASE_URL``). The
supervisord configuration, logs and control socket live in ``data/run`` (0700).

Only the project's processes reach the two servers: the Chroma server is ``findme
chroma-server`` (Chroma's own Python server, whose token check is enforced: Chroma 1.x's
``chroma run`` checks no credentials) and answers only requests carrying the token in
``run/chroma.token``; the ``redis-server`` binds 127.0.0.1 and requires the password in
``run/redis.password`` (its configuration, with the password, is ``run/redis.conf``, never a
command line other users can read). Both secrets are generated once, mode 0600, and handed to
the processes in their environment (``FINDME_CHROMA_TOKEN``, and ``FINDME_BROKER_URL`` as
``redis://:PASSWORD@127.0.0.1:PORT/0``); a ``findme`` command run beside them reads the files.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote

from findme.config import Settings, get_settings

ROOT = Path(__file__).resolve().parent.parent.parent  # where app.py is


def _escape(text: str) -> str:
    """supervisord expands ``%(...)s`` in its values: a literal ``%`` is written ``%%``."""
    return text.replace("%", "%%")


def _program(name: str, command: list[str], env: dict[str, str], logs: Path,
             priority: int) -> str:
    environment = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(env.items()))
    return f"""
[program:{name}]
command={_escape(shlex.join(command))}
directory={_escape(str(ROOT))}
""" + (f"environment={environment}\n" if environment else "") + f"""priority={priority}
autostart=true
autorestart=true
startsecs=3
startretries=20
stopasgroup=true
killasgroup=true
stopwaitsecs=20
redirect_stderr=true
stdout_logfile={logs / f"{name}.log"}
stdout_logfile_maxbytes=10MB
stdout_logfile_backups=3
"""


CHROMA_TOKEN_FILE = "chroma.token"  # in data/run
REDIS_PASSWORD_FILE = "redis.password"
REDIS_CONF_FILE = "redis.conf"


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` readable by this user only (0600, replacing the file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def secret(run: Path, name: str) -> str:
    """The secret kept in ``run/name`` (0600), generated on first use: 43 URL-safe
    characters (256 bits)."""
    path = run / name
    if path.is_file():
        text = path.read_text(encoding="utf-8").strip()
        if text:
            path.chmod(0o600)
            return text
    text = secrets.token_urlsafe(32)
    _write_private(path, text + "\n")
    return text


def redis_config(port: int, password: str, folder: Path) -> str:
    """A ``redis-server`` configuration: loopback only, this password required, the queue
    kept in an append-only file in ``folder`` (no RDB snapshots)."""
    return (f"port {port}\nbind 127.0.0.1\nprotected-mode yes\nrequirepass {password}\n"
            f'save ""\nappendonly yes\ndir {folder}\n')


def config_text(settings: Settings, host: str, port: int, chroma_port: int,
                cert: Path | None = None, key: Path | None = None,
                watch: Path | None = None, queue_port: int | None = None,
                chroma_token: str = "", redis_password: str = "",
                api_port: int | None = None) -> str:
    """The supervisord configuration for these settings (see the module docstring). With
    ``queue_port`` a ``redis-server`` on that loopback port is the task queue's broker and one
    ``findme worker`` takes CCTV scans and imports from it (unless ``FINDME_BROKER_URL`` names
    another broker, which is then used instead of starting one). ``chroma_token`` and
    ``redis_password`` are the secrets of the servers started here (:func:`secret`); the
    redis configuration itself is written by :func:`cmd_serve` (``run/redis.conf``). With
    ``api_port`` the REST API (``findme api``) runs beside the dashboard on the same address,
    over HTTPS when the dashboard is."""
    run = settings.data_dir / "run"
    logs = run / "logs"
    chroma_url = settings.chroma_url or f"http://127.0.0.1:{chroma_port}"
    shared = {"FINDME_DATA_DIR": str(settings.data_dir), "FINDME_CHROMA_URL": chroma_url,
              "TF_CPP_MIN_LOG_LEVEL": "3"}
    if not settings.chroma_url and chroma_token:
        shared["FINDME_CHROMA_TOKEN"] = chroma_token
    broker = settings.broker_url or (
        f"redis://:{quote(redis_password, safe='')}@127.0.0.1:{queue_port}/0"
        if queue_port else "")
    if broker:
        shared["FINDME_BROKER_URL"] = broker
    web = [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"),
           "--server.address", host, "--server.port", str(port), "--server.headless", "true"]
    if cert and key:
        web += ["--server.sslCertFile", str(cert), "--server.sslKeyFile", str(key)]
    text = f"""[supervisord]
nodaemon=true
logfile={run / "supervisord.log"}
pidfile={run / "supervisord.pid"}
childlogdir={logs}
umask=077

[unix_http_server]
file={run / "supervisor.sock"}
chmod=0700

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://{run / "supervisor.sock"}
"""
    if not settings.chroma_url:  # a server of our own, on loopback only, behind its token
        text += _program("chroma", [sys.executable, "-m", "findme.cli", "chroma-server",
                                    "--path", str(settings.chroma_dir), "--port",
                                    str(chroma_port)],
                         {"FINDME_CHROMA_TOKEN": chroma_token}, logs, 10)
    text += _program("web", web, {**shared, "FINDME_ALERT_WORKER": "0"}, logs, 20)
    text += _program("alerts", [sys.executable, "-m", "findme.cli", "alerts", "run"], shared,
                     logs, 20)
    if api_port:
        api = [sys.executable, "-m", "findme.cli", "api", "--host", host, "--port",
               str(api_port)] + (["--https"] if cert and key else [])
        text += _program("api", api, {**shared, "FINDME_ALERT_WORKER": "0"}, logs, 20)
    if queue_port and not settings.broker_url:
        redis = shutil.which("redis-server") or "/usr/bin/redis-server"
        text += _program("redis", [redis, str(run / REDIS_CONF_FILE)], {}, logs, 10)
    if broker:
        text += _program("worker", [sys.executable, "-m", "findme.cli", "worker"], shared,
                         logs, 30)
    if watch:
        text += _program("watch", [sys.executable, "-m", "findme.cli", "watch", str(watch)],
                         shared, logs, 30)
    return text


def cmd_serve(args: argparse.Namespace) -> int:
    """Write ``data/run/supervisord.conf`` and run supervisord in the foreground (Ctrl-C stops
    every process); ``--print`` only prints the configuration."""
    settings = get_settings()
    cert = key = None
    if args.https:
        cert, key = settings.data_dir / "tls" / "cert.pem", settings.data_dir / "tls" / "key.pem"
        if not (cert.is_file() and key.is_file()):
            print(f"no certificate in {cert.parent}: run `make cert` first", file=sys.stderr)
            return 2
    watch = Path(args.watch) if args.watch else None
    run = settings.data_dir / "run"
    queue_port = args.queue_port if args.queue else None
    if args.print:  # the secrets are not shown
        print(config_text(settings, args.host, args.port, args.chroma_port, cert, key, watch,
                          queue_port, "<run/chroma.token>", "<run/redis.password>",
                          args.api_port))
        return 0
    (run / "logs").mkdir(parents=True, exist_ok=True)
    run.chmod(0o700)
    token = secret(run, CHROMA_TOKEN_FILE) if not settings.chroma_url else ""
    password = ""
    if queue_port and not settings.broker_url:
        password = secret(run, REDIS_PASSWORD_FILE)
        _write_private(run / REDIS_CONF_FILE, redis_config(queue_port, password, run))
    text = config_text(settings, args.host, args.port, args.chroma_port, cert, key, watch,
                       queue_port, token, password, args.api_port)
    conf = run / "supervisord.conf"
    _write_private(conf, text)
    scheme = "https" if cert else "http"
    api = f", API on {scheme}://{args.host}:{args.api_port}/api/v1" if args.api_port else ""
    print(f"Find Me AI: dashboard on {scheme}://{args.host}:{args.port}{api}, logs in "
          f"{run / 'logs'}; "
          f"`{Path(sys.executable).parent / 'supervisorctl'} -c {conf} status` shows the "
          "processes", file=sys.stderr, flush=True)
    os.execv(str(Path(sys.executable).parent / "supervisord"),
             ["supervisord", "-n", "-c", str(conf)])
    return 0  # not reached


PURGE_PATH = "/findme/v1/purge"
SERVED_API = "findme.cli.serve.ServedRustAPI"


def _served_api_class() -> type:
    """Chroma's in-process API as its Python server needs it: that server calls ``.tolist()`` on
    each embedding it returns, and the Rust bindings hand back plain lists (a 500 on every
    ``get``/``query`` that includes embeddings, seen with chromadb 1.5.9), so they are made
    arrays here."""
    import numpy as np
    from chromadb.api.rust import RustBindingsAPI

    def arrays(result: Any) -> Any:
        if result.get("embeddings") is not None:
            result["embeddings"] = [np.asarray(e, dtype=np.float32)
                                    for e in result["embeddings"]]
        return result

    def _get(self: Any, *args: Any, **kwargs: Any) -> Any:
        return arrays(RustBindingsAPI._get(self, *args, **kwargs))

    def _query(self: Any, *args: Any, **kwargs: Any) -> Any:
        return arrays(RustBindingsAPI._query(self, *args, **kwargs))

    # set after the class is made: Chroma's metaclass wants @override on methods written in
    # the class body, which cannot find a base class from inside a function
    ServedRustAPI = type("ServedRustAPI", (RustBindingsAPI,), {})
    ServedRustAPI._get = _get
    ServedRustAPI._query = _query
    return ServedRustAPI


def __getattr__(name: str) -> object:
    """``ServedRustAPI`` is built on first use (Chroma loads it by its dotted name)."""
    if name == "ServedRustAPI":
        cls = _served_api_class()
        globals()[name] = cls
        return cls
    raise AttributeError(name)


def chroma_app(path: Path, token: str) -> object:
    """Chroma's own Python server (``chromadb.server.fastapi``) over the folder ``path``, with
    its token authentication on: every API call but the heartbeat needs ``Authorization:
    Bearer <token>`` (403 otherwise). One route is added, ``POST /findme/v1/purge`` (same
    token): after an erasure it removes segment folders no collection uses and rewrites the
    SQLite file without free pages (:func:`findme.search.store.purge_folder`, run in a child
    process so SQLite's locks see the server's own connections). Returns the ASGI app."""
    import chromadb.config
    from chromadb.server.fastapi import FastAPI
    from fastapi import Request

    settings = chromadb.config.Settings(
        is_persistent=True, persist_directory=str(path), anonymized_telemetry=False,
        allow_reset=False, chroma_api_impl=SERVED_API,
        chroma_server_authn_provider="chromadb.auth.token_authn."
                                     "TokenAuthenticationServerProvider",
        chroma_server_authn_credentials=token,
        chroma_auth_token_transport_header="Authorization")
    server = FastAPI(settings)
    app = server.app()

    def purge(request: Request) -> dict[str, bool]:
        server.authn_provider.authenticate_or_raise(dict(request.headers))  # 403 without
        subprocess.run([sys.executable, "-c", "import sys; from findme.search.store import "
                        "purge_folder; purge_folder(sys.argv[1])", str(path)],
                       check=True, timeout=3600)
        return {"purged": True}

    purge.__annotations__["request"] = Request  # a class, not the postponed string
    app.add_api_route(PURGE_PATH, purge, methods=["POST"])
    return app


def cmd_chroma_server(args: argparse.Namespace) -> int:
    """``findme chroma-server``: serve a Chroma folder on ``--host``/``--port`` to clients that
    carry ``FINDME_CHROMA_TOKEN`` (refuses to start without one); files it writes are 0600."""
    import uvicorn

    token = os.environ.get("FINDME_CHROMA_TOKEN", "").strip()
    if args.token_file:
        token = Path(args.token_file).read_text(encoding="utf-8").strip()
    if not token:
        print("findme chroma-server: set FINDME_CHROMA_TOKEN (or --token-file): the server "
              "answers only clients that carry it", file=sys.stderr)
        return 2
    os.umask(0o077)
    path = Path(args.path)
    path.mkdir(parents=True, exist_ok=True)
    uvicorn.run(chroma_app(path, token), host=args.host, port=args.port, log_level="warning")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``serve`` to the ``findme`` parser."""
    p = sub.add_parser("serve", help="dashboard + Chroma server + alert worker, supervised")
    p.add_argument("--host", default="127.0.0.1", help="dashboard address (0.0.0.0: the LAN)")
    p.add_argument("--port", type=int, default=8501)
    p.add_argument("--chroma-port", type=int, default=8000)
    p.add_argument("--api-port", type=int, default=8600,
                   help="the REST API's port, beside the dashboard (0: no API)")
    p.add_argument("--https", action="store_true",
                   help="serve HTTPS with data/tls/cert.pem and key.pem (make cert)")
    p.add_argument("--watch", metavar="DIR", default=os.environ.get("FINDME_WATCH_DIR") or None,
                   help="also scan new videos in this folder (FINDME_WATCH_DIR)")
    p.add_argument("--queue", action="store_true",
                   default=os.environ.get("FINDME_QUEUE", "") not in ("", "0"),
                   help="run CCTV scans and imports on a task queue: a local redis-server and "
                   "one worker (FINDME_QUEUE=1; FINDME_BROKER_URL names another broker)")
    p.add_argument("--queue-port", type=int, default=6379)
    p.add_argument("--print", action="store_true", help="print the configuration and exit")
    p.set_defaults(func=cmd_serve)

    c = sub.add_parser("chroma-server", help="a Chroma server that needs FINDME_CHROMA_TOKEN")
    c.add_argument("--path", required=True, help="the Chroma folder (data/chroma)")
    c.add_argument("--host", default="127.0.0.1")
    c.add_argument("--port", type=int, default=8000)
    c.add_argument("--token-file", help="read the token from this file instead")
    c.set_defaults(func=cmd_chroma_server)

"""``findme serve``: the dashboard, a Chroma server, the alert worker (and a watched folder) as
separate processes under supervisord, which restarts whatever dies.

With ``--queue`` (``make serve QUEUE=1``) a local ``redis-server`` and a ``findme worker`` run
too, and CCTV scans and imports go through the task queue (:mod:`findme.queue`).

The embedded vector store belongs to one process; here every process (and any ``findme`` command
run beside them) shares one Chroma server on 127.0.0.1 over the same ``data/chroma`` folder, and
the case database (SQLite in WAL mode, or PostgreSQL with ``FINDME_DATABASE_URL``). The
supervisord configuration, logs and control socket live in ``data/run`` (0700).
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import sys
from pathlib import Path

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


def config_text(settings: Settings, host: str, port: int, chroma_port: int,
                cert: Path | None = None, key: Path | None = None,
                watch: Path | None = None, queue_port: int | None = None) -> str:
    """The supervisord configuration for these settings (see the module docstring). With
    ``queue_port`` a ``redis-server`` on that loopback port is the task queue's broker and one
    ``findme worker`` takes CCTV scans and imports from it (unless ``FINDME_BROKER_URL`` names
    another broker, which is then used instead of starting one)."""
    run = settings.data_dir / "run"
    logs = run / "logs"
    bin_dir = Path(sys.executable).parent
    chroma_url = settings.chroma_url or f"http://127.0.0.1:{chroma_port}"
    shared = {"FINDME_DATA_DIR": str(settings.data_dir), "FINDME_CHROMA_URL": chroma_url,
              "TF_CPP_MIN_LOG_LEVEL": "3"}
    broker = settings.broker_url or (f"redis://127.0.0.1:{queue_port}/0" if queue_port else "")
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
    if not settings.chroma_url:  # a server of our own, on loopback only
        text += _program("chroma", [str(bin_dir / "chroma"), "run", "--path",
                                    str(settings.chroma_dir), "--host", "127.0.0.1", "--port",
                                    str(chroma_port)], {}, logs, 10)
    text += _program("web", web, {**shared, "FINDME_ALERT_WORKER": "0"}, logs, 20)
    text += _program("alerts", [sys.executable, "-m", "findme.cli", "alerts", "run"], shared,
                     logs, 20)
    if queue_port and not settings.broker_url:
        redis = shutil.which("redis-server") or "/usr/bin/redis-server"
        text += _program("redis", [redis, "--port", str(queue_port), "--bind", "127.0.0.1",
                                   "--save", "", "--appendonly", "yes", "--dir",
                                   str(run)], {}, logs, 10)
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
    text = config_text(settings, args.host, args.port, args.chroma_port, cert, key, watch,
                       args.queue_port if args.queue else None)
    if args.print:
        print(text)
        return 0
    run = settings.data_dir / "run"
    (run / "logs").mkdir(parents=True, exist_ok=True)
    run.chmod(0o700)
    conf = run / "supervisord.conf"
    conf.write_text(text)
    scheme = "https" if cert else "http"
    print(f"Find Me AI: dashboard on {scheme}://{args.host}:{args.port}, logs in {run / 'logs'}; "
          f"`{Path(sys.executable).parent / 'supervisorctl'} -c {conf} status` shows the "
          "processes", file=sys.stderr, flush=True)
    os.execv(str(Path(sys.executable).parent / "supervisord"),
             ["supervisord", "-n", "-c", str(conf)])
    return 0  # not reached


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``serve`` to the ``findme`` parser."""
    p = sub.add_parser("serve", help="dashboard + Chroma server + alert worker, supervised")
    p.add_argument("--host", default="127.0.0.1", help="dashboard address (0.0.0.0: the LAN)")
    p.add_argument("--port", type=int, default=8501)
    p.add_argument("--chroma-port", type=int, default=8000)
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

"""Process-wide open workspaces for the dashboard (no Streamlit import: testable alone).

An embedded vector store belongs to one process and is opened once: every browser session of the
dashboard shares the workspace of a data folder. Heavy work (enrolling, searching: the models and
the embedded store) runs one at a time under :data:`lock`. Each open workspace also runs the alert
outbox worker in a background thread (``FINDME_ALERT_WORKER``, on by default), so alerts go out
within seconds while the dashboard runs; ``findme alerts run`` does the same as its own process.
"""

from __future__ import annotations

import threading

import numpy as np

from findme.alerts import outbox
from findme.config import Settings
from findme.faces.detect import detect
from findme.faces.embed import embed
from findme.faces.models import MODELS
from findme.video import scans
from findme.workspace import Workspace, open_workspace

lock = threading.RLock()  # heavy work: models and store writes, one at a time
_open_lock = threading.Lock()  # the table of open workspaces
_open: dict[str, Workspace] = {}
_workers: dict[str, tuple[threading.Thread, threading.Event]] = {}
models_ready = threading.Event()  # set once the background warm-up has loaded the models


def workspace(settings: Settings) -> Workspace:
    """The open workspace of ``settings.data_dir`` (opened, migrated and reconciled on first
    use in this process)."""
    key = str(settings.data_dir)
    with _open_lock:
        ws = _open.get(key)
        if ws is None:
            ws = _open[key] = open_workspace(settings)
            scans.mark_interrupted(ws.records)  # scans of a dashboard that stopped mid-way
            threading.Thread(target=warm_up, args=(settings,), daemon=True,
                             name="findme-warm-up").start()
            if settings.alert_worker:
                stop = threading.Event()
                worker = threading.Thread(target=outbox.run_forever,
                                          args=(ws.records, settings, stop), daemon=True,
                                          name="findme-outbox")
                worker.start()
                _workers[key] = (worker, stop)
        return ws


def warm_up(settings: Settings) -> None:
    """Load the detector and every configured model once (about 15 s on a laptop CPU), in the
    background, so the first registration or search a person makes is not the slow one."""
    try:
        with lock:
            detect(np.zeros((64, 64, 3), np.uint8), settings)
            for model in settings.models:
                size = MODELS[model].size
                embed([np.zeros((size, size, 3), np.uint8)], model, settings)
    except Exception:  # noqa: BLE001 - a model problem is reported where it is used
        pass
    finally:
        models_ready.set()


def close_all() -> None:
    """Close every open workspace (tests, shutdown)."""
    scans.stop_all()
    with lock, _open_lock:
        for worker, stop in _workers.values():
            stop.set()
            worker.join(timeout=30)
        _workers.clear()
        for ws in _open.values():
            ws.close()
        _open.clear()

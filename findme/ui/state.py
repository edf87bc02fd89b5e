"""Process-wide open workspaces for the dashboard (no Streamlit import: testable alone).

An embedded vector store belongs to one process and is opened once: every browser session of the
dashboard shares the workspace of a data folder. Heavy work (enrolling, searching: the models and
the embedded store) runs one at a time under :data:`lock`.
"""

from __future__ import annotations

import threading

from findme.config import Settings
from findme.workspace import Workspace, open_workspace

lock = threading.RLock()
_open: dict[str, Workspace] = {}


def workspace(settings: Settings) -> Workspace:
    """The open workspace of ``settings.data_dir`` (opened, migrated and reconciled on first
    use in this process)."""
    key = str(settings.data_dir)
    with lock:
        ws = _open.get(key)
        if ws is None:
            ws = _open[key] = open_workspace(settings)
        return ws


def close_all() -> None:
    """Close every open workspace (tests, shutdown)."""
    with lock:
        for ws in _open.values():
            ws.close()
        _open.clear()

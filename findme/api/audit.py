"""The audit rows of API calls (``api.call``, ``api.refused``), written in batches.

One row per call, under the key's name (``api:<name>``). A commit costs an fsync (about 4 ms, 8
at p95 on a busy disk), more than the rest of a call's overhead together, so calls are queued and
a background thread commits what is queued every :data:`FLUSH_SECONDS` (and at shutdown: the
app's lifespan calls :meth:`CallLog.close`). What a call *does* is audited in its own
transaction as before (``case.create``, ``lead.confirm``, ``case.erase``...), so only the
record that a call arrived can lag, by at most a flush interval.
"""

from __future__ import annotations

import threading

from findme.cases.apikeys import record_calls
from findme.cases.records import Records

FLUSH_SECONDS = 0.1


class CallLog:
    """Queue of call audit rows and the thread that writes them."""

    def __init__(self, records: Records) -> None:
        self.records = records
        self._rows: list[tuple[str, str, str | None, str | None]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="findme-api-audit")
        self._thread.start()

    def add(self, actor: str, action: str, target: str | None, detail: str | None = None
            ) -> None:
        """Queue one row (written within :data:`FLUSH_SECONDS`)."""
        with self._lock:
            self._rows.append((actor, action, target, detail))

    def flush(self) -> None:
        """Write every queued row now."""
        with self._lock:
            rows, self._rows = self._rows, []
        try:
            record_calls(self.records, rows)
        except Exception:  # noqa: BLE001 - keep them for the next try (database busy)
            with self._lock:
                self._rows[:0] = rows
            raise

    def _run(self) -> None:
        while not self._stop.wait(FLUSH_SECONDS):
            try:
                self.flush()
            except Exception:  # noqa: BLE001,S112 - retried at the next interval
                continue

    def close(self) -> None:
        """Stop the thread and write what is left."""
        self._stop.set()
        self._thread.join(timeout=30)
        self.flush()

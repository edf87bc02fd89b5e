"""Ids are never reused, and a photo searched again does not make a second open lead.

SQLite hands out ``max(id) + 1`` for a plain integer primary key, so erasing the newest case
gave its number to the next child (the audit log then read ``case.create case:2``,
``case.erase case:2``, ``case.create case:2`` for two children). ``AUTOINCREMENT`` is part of a
SQLite table's definition, so every table with an integer id is rebuilt with it (Alembic's batch
copy: new table, rows copied with their ids, old table dropped, new one renamed; indexes, unique
constraints and foreign keys are carried over). :func:`findme.cases.records.migrate` runs
migrations with foreign keys off, so dropping a parent table here does not cascade into its
children; the upgrade refuses to run otherwise. Numbers the audit log shows were handed out and
erased before this upgrade (``case:N``, ``lead:N``, ``alert:N``) are skipped too.

PostgreSQL's sequences never hand a number out twice: there only the lead column and index are
added.

Leads get ``probe_fingerprint`` (a hash of the searched image's pixels) and a partial unique
index: one open (``new``) lead per case per searched image, enforced by the database so two
concurrent searches of the same photo cannot both make one.

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

ID_TABLES = ("cases", "photos", "probes", "leads", "lead_reviews", "audit_log", "users",
             "alerts", "alert_attempts", "signin_sessions", "scans", "import_jobs")
AUDIT_PREFIXES = {"cases": "case:", "leads": "lead:", "alerts": "alert:"}


def _fingerprint() -> sa.Column:
    return sa.Column("probe_fingerprint", sa.String(64), nullable=True)


def _skip_erased_numbers(conn: sa.Connection) -> None:
    """Raise each table's AUTOINCREMENT counter past the highest id its audit entries name (a
    row erased before this upgrade left only that trace)."""
    for table, prefix in AUDIT_PREFIXES.items():
        used = conn.execute(sa.text(
            "SELECT MAX(CAST(SUBSTR(target, :start) AS INTEGER)) FROM audit_log "
            "WHERE target LIKE :like"), {"start": len(prefix) + 1, "like": f"{prefix}%"}
        ).scalar()
        if not used:
            continue
        seq = conn.execute(sa.text("SELECT seq FROM sqlite_sequence WHERE name = :t"),
                           {"t": table}).scalar()
        if seq is None:
            conn.execute(sa.text("INSERT INTO sqlite_sequence (name, seq) VALUES (:t, :n)"),
                         {"t": table, "n": used})
        elif seq < used:
            conn.execute(sa.text("UPDATE sqlite_sequence SET seq = :n WHERE name = :t"),
                         {"t": table, "n": used})


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == "sqlite":
        if conn.exec_driver_sql("PRAGMA foreign_keys").scalar():
            raise RuntimeError("rebuilding tables with foreign keys on would cascade-delete "
                               "their children: run this through findme.cases.records.migrate")
        for table in ID_TABLES:
            with op.batch_alter_table(table, recreate="always",
                                      table_kwargs={"sqlite_autoincrement": True}) as batch:
                if table == "leads":
                    batch.add_column(_fingerprint())
        _skip_erased_numbers(conn)
    else:
        op.add_column("leads", _fingerprint())
    op.create_index("uq_leads_open_probe", "leads", ["case_id", "probe_fingerprint"],
                    unique=True, sqlite_where=sa.text("status = 'new'"),
                    postgresql_where=sa.text("status = 'new'"))


def downgrade() -> None:
    op.drop_index("uq_leads_open_probe", table_name="leads")
    with op.batch_alter_table("leads") as batch:
        batch.drop_column("probe_fingerprint")

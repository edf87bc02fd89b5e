"""Found children beside missing reports, per-photo ages, and cross-match leads.

``cases`` gets ``kind`` (``missing``, the default every existing row keeps, or ``found``) and
the fields of a found record (place and time found, institution holding the child and its
contact, estimated age range, languages, identifying marks, the missing case it was identified
as). ``status`` widens to 20 characters (``transferred``; SQLite never enforced the length).
``photos`` get ``age_at_photo``. ``leads`` get ``found_id`` / ``found_photo_id`` (the found side
of a cross-match lead), ``age_gap_years`` and a unique index: one lead per (missing case, found
record) pair, ever.

SQLite adds plain columns in place (every row and id kept); ``leads`` is rebuilt by Alembic's
batch copy (foreign keys are off during :func:`findme.cases.records.migrate`) with
``AUTOINCREMENT`` and its counter kept (numbers of leads erased before stay retired); its
partial unique index is dropped first and made again after.

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

CASE_COLUMNS = (
    ("found_place", sa.String(300)),
    ("found_at", sa.DateTime(timezone=True)),
    ("institution", sa.String(300)),
    ("institution_contact", sa.String(300)),
    ("age_min", sa.Integer()),
    ("age_max", sa.Integer()),
    ("languages", sa.String(200)),
    ("marks", sa.Text()),
    ("linked_case_id", sa.Integer()),
)


def _lead_columns() -> list[sa.Column]:
    return [sa.Column("found_id", sa.Integer(),
                      sa.ForeignKey("cases.id", name="fk_leads_found_id", ondelete="CASCADE"),
                      nullable=True),
            sa.Column("found_photo_id", sa.Integer(),
                      sa.ForeignKey("photos.id", name="fk_leads_found_photo_id",
                                    ondelete="SET NULL"), nullable=True),
            sa.Column("age_gap_years", sa.Float(), nullable=True)]


def upgrade() -> None:
    conn = op.get_bind()
    sqlite = conn.dialect.name == "sqlite"
    op.add_column("cases", sa.Column("kind", sa.String(10), nullable=False,
                                     server_default="missing"))
    for name, type_ in CASE_COLUMNS:
        op.add_column("cases", sa.Column(name, type_, nullable=True))
    op.create_index("ix_cases_kind", "cases", ["kind"])
    if not sqlite:
        op.alter_column("cases", "status", type_=sa.String(20))
    op.add_column("photos", sa.Column("age_at_photo", sa.Float(), nullable=True))
    if sqlite:
        if conn.exec_driver_sql("PRAGMA foreign_keys").scalar():
            raise RuntimeError("rebuilding leads with foreign keys on would cascade-delete "
                               "their reviews: run this through findme.cases.records.migrate")
        op.drop_index("uq_leads_open_probe", table_name="leads")
        seq = conn.execute(sa.text("SELECT seq FROM sqlite_sequence WHERE name = 'leads'")
                           ).scalar()  # past erased leads' numbers: the copy must keep it
        with op.batch_alter_table("leads", recreate="always",
                                  table_kwargs={"sqlite_autoincrement": True}) as batch:
            for column in _lead_columns():
                batch.add_column(column)
        if seq is not None:
            conn.execute(sa.text("DELETE FROM sqlite_sequence WHERE name = 'leads'"))
            conn.execute(sa.text("INSERT INTO sqlite_sequence (name, seq) VALUES ('leads', "
                                 "MAX(:n, COALESCE((SELECT MAX(id) FROM leads), 0)))"),
                         {"n": seq})
        op.create_index("uq_leads_open_probe", "leads", ["case_id", "probe_fingerprint"],
                        unique=True, sqlite_where=sa.text("status = 'new'"))
    else:
        for column in _lead_columns():
            op.add_column("leads", column)
    op.create_index("ix_leads_found_id", "leads", ["found_id"])
    op.create_index("uq_leads_cross_pair", "leads", ["case_id", "found_id"], unique=True)


def downgrade() -> None:
    raise NotImplementedError("found records cannot be folded back into missing cases")

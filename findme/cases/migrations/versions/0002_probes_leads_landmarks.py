"""Searches and leads; photos keep their five landmarks (to re-embed without re-detecting).

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("photos") as batch:
        batch.add_column(sa.Column("landmarks", sa.JSON, nullable=True))
    op.create_table(
        "probes",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("source_ref", sa.String(500), nullable=True),
        sa.Column("faces", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "leads",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("probe_id", sa.Integer, sa.ForeignKey("probes.id", ondelete="SET NULL"),
                  nullable=True),
        sa.Column("case_id", sa.Integer, sa.ForeignKey("cases.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("photo_id", sa.Integer, sa.ForeignKey("photos.id", ondelete="SET NULL"),
                  nullable=True),
        sa.Column("face_box", sa.JSON, nullable=True),
        sa.Column("fused_score", sa.Float, nullable=False),
        sa.Column("scores", sa.JSON, nullable=True),
        sa.Column("decision", sa.String(10), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("note", sa.Text, nullable=True),
        sa.Column("crop_path", sa.String(500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reviewed_by", sa.String(100), nullable=True),
    )
    op.create_index("ix_leads_case_id", "leads", ["case_id"])
    op.create_index("ix_leads_status", "leads", ["status"])

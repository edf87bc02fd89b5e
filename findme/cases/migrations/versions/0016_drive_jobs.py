"""Drives (found records against missing cases) as jobs with progress.

Revision ID: 0016
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "drive_jobs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("status", sa.String(10), nullable=False, index=True),
        sa.Column("done_faces", sa.Integer, nullable=False, server_default="0"),
        sa.Column("total_faces", sa.Integer, nullable=False, server_default="0"),
        sa.Column("pairs", sa.Integer, nullable=False, server_default="0"),
        sa.Column("new_leads", sa.Integer, nullable=False, server_default="0"),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("worker", sa.String(200), nullable=True),
        sa.Column("started_by", sa.String(100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sqlite_autoincrement=True,
    )


def downgrade() -> None:
    op.drop_table("drive_jobs")

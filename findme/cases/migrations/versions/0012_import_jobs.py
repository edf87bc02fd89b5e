"""Case imports as jobs on the task queue.

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "import_jobs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("file_name", sa.String(300), nullable=False),
        sa.Column("folder", sa.String(1000), nullable=False),
        sa.Column("dry_run", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("status", sa.String(10), nullable=False, index=True),
        sa.Column("done_rows", sa.Integer, nullable=False, server_default="0"),
        sa.Column("total_rows", sa.Integer, nullable=False, server_default="0"),
        sa.Column("rows", sa.JSON, nullable=True),
        sa.Column("ignored_columns", sa.JSON, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("worker", sa.String(200), nullable=True),
        sa.Column("started_by", sa.String(100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("import_jobs")

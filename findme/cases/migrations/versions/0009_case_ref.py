"""Cases: the organisation's own case number (``ref``), unique, so a re-import updates a case
instead of duplicating it. (A unique index, not a table constraint: SQLite then adds the column
in place instead of rebuilding the table.)

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("cases", sa.Column("ref", sa.String(100), nullable=True))
    op.create_index("uq_cases_ref", "cases", ["ref"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_cases_ref", table_name="cases")
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("ref")

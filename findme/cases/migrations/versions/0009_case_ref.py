"""Cases: the organisation's own case number (``ref``), unique, so a re-import updates a case
instead of duplicating it.

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
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("ref", sa.String(100), nullable=True))
        batch.create_unique_constraint("uq_cases_ref", ["ref"])


def downgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.drop_constraint("uq_cases_ref", type_="unique")
        batch.drop_column("ref")

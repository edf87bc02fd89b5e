"""Leads: what a reviewer needs to judge one: the margin to the next case, how often a stranger
would score as high, the probe face's quality.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("leads") as batch:
        batch.add_column(sa.Column("margin", sa.Float, nullable=True))
        batch.add_column(sa.Column("stranger_rate", sa.Float, nullable=True))
        batch.add_column(sa.Column("quality", sa.JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("leads") as batch:
        batch.drop_column("quality")
        batch.drop_column("stranger_rate")
        batch.drop_column("margin")

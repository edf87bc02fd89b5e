"""Scans count the faces they saw: detections and distinct faces followed (tracks).

Revision ID: 0018
Revises: 0016
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("scans") as batch:
        batch.add_column(sa.Column("faces_seen", sa.Integer, nullable=True))
        batch.add_column(sa.Column("faces_tracked", sa.Integer, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("scans") as batch:
        batch.drop_column("faces_tracked")
        batch.drop_column("faces_seen")

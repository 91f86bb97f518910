"""request-based autoscaling: what a service scales on, its target per replica, its idle time before zero

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing services scale on CPU, as they did.
    with op.batch_alter_table("services") as table:
        table.add_column(sa.Column("scale_metric", sa.String(16), nullable=False, server_default="cpu"))
        table.add_column(sa.Column("scale_target", sa.Double(), nullable=False, server_default="0"))
        table.add_column(sa.Column("scale_to_zero_after", sa.Double(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("services") as table:
        table.drop_column("scale_to_zero_after")
        table.drop_column("scale_target")
        table.drop_column("scale_metric")

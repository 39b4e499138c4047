"""End users (named by x-username) and their credentials per upstream, sealed.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "user_connections",
        sa.Column("user", sa.String(128), sa.ForeignKey("users.name", ondelete="CASCADE"), primary_key=True),
        sa.Column("upstream", sa.String(64), primary_key=True),
        sa.Column("secrets", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("user_connections")
    op.drop_table("users")

"""Add silences: matchers with a start, an end, a creator and a comment (issue 11, part 3).

A silence marks the open alerts it matches as silenced while it is active
(starts_at <= now < ends_at, and not expired by DELETE before now); it never changes an
occurrence or a transition, so it has no foreign key to them. On PostgreSQL the table NOTIFYs
pipewatch_changes like the tables of migrations 003 and 006, so a silence created through one
process is pushed by every process.

Revision ID: 007_add_silences
Revises: 006_add_alert_lifecycle
Create Date: 2026-12-02
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "007_add_silences"
down_revision = "006_add_alert_lifecycle"
branch_labels = None
depends_on = None

FUNCTION = "pipewatch_notify_change"  # created by 003_change_notify_triggers


def upgrade() -> None:
    op.create_table(
        "silences",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(100), nullable=True),
        sa.Column("kind", sa.String(32), nullable=True),
        sa.Column("key", sa.String(200), nullable=True),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expired_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("source IS NOT NULL OR kind IS NOT NULL OR key IS NOT NULL",
                           name=op.f("ck_silences_matcher")),
        sa.CheckConstraint("starts_at < ends_at", name=op.f("ck_silences_period")),
        sa.PrimaryKeyConstraint("id", name="pk_silences"),
    )
    op.create_index("ix_silences_ends_at", "silences", ["ends_at"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"CREATE TRIGGER {FUNCTION} AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
                   f"ON silences FOR EACH STATEMENT EXECUTE FUNCTION {FUNCTION}()")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP TRIGGER IF EXISTS {FUNCTION} ON silences")
    op.drop_index("ix_silences_ends_at", table_name="silences")
    op.drop_table("silences")

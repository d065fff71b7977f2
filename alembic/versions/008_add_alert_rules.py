"""Add alert_rules and rule_changes: per-source and per-kind alert settings, and their log
(issue 11, part 4).

A rule overrides some alert settings (thresholds, anomaly sensitivity, `for`,
`keep_firing_for`) for a source, an alert kind, or both; the environment's settings stay the
defaults (api/status/rules.py). Every PUT /api/v1/rules is logged with who, when, why, and the
whole set before and after. On PostgreSQL alert_rules NOTIFYs pipewatch_changes like the tables
of migration 003, so every process recomputes the status when a rule changes.

Revision ID: 008_add_alert_rules
Revises: 007_add_silences
Create Date: 2026-12-02
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "008_add_alert_rules"
down_revision = "007_add_silences"
branch_labels = None
depends_on = None

FUNCTION = "pipewatch_notify_change"  # created by 003_change_notify_triggers


def upgrade() -> None:
    op.create_table(
        "alert_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(100), nullable=True),
        sa.Column("kind", sa.String(32), nullable=True),
        sa.Column("healthy_rate", sa.Float(), nullable=True),
        sa.Column("warning_rate", sa.Float(), nullable=True),
        sa.Column("stale_warning_seconds", sa.Integer(), nullable=True),
        sa.Column("stale_error_seconds", sa.Integer(), nullable=True),
        sa.Column("anomaly_threshold", sa.Float(), nullable=True),
        sa.Column("for_seconds", sa.Integer(), nullable=True),
        sa.Column("keep_firing_for_seconds", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_alert_rules"),
    )
    op.create_table(
        "rule_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("by", sa.String(100), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("before", sa.JSON(), nullable=False),
        sa.Column("after", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_rule_changes"),
    )
    op.create_index("ix_rule_changes_at", "rule_changes", ["at"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"CREATE TRIGGER {FUNCTION} AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
                   f"ON alert_rules FOR EACH STATEMENT EXECUTE FUNCTION {FUNCTION}()")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP TRIGGER IF EXISTS {FUNCTION} ON alert_rules")
    op.drop_index("ix_rule_changes_at", table_name="rule_changes")
    op.drop_table("rule_changes")
    op.drop_table("alert_rules")

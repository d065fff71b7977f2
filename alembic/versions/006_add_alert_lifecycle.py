"""Add alert_occurrences and alert_transitions: the alert lifecycle, persisted.

Each occurrence of an alert (pending -> firing -> resolved) is a row, with its ack; every state
change is a transition row, written once by the database's one evaluator
(api/status/evaluation.py). On PostgreSQL both tables NOTIFY pipewatch_changes like the tables
of migration 003, so every process pushes a transition or an ack written by another.

Revision ID: 006_add_alert_lifecycle
Revises: 005_add_revoked_sessions
Create Date: 2026-12-02
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "006_add_alert_lifecycle"
down_revision = "005_add_revoked_sessions"
branch_labels = None
depends_on = None

FUNCTION = "pipewatch_notify_change"  # created by 003_change_notify_triggers
TABLES = ("alert_occurrences", "alert_transitions")
STATES = "state IN ('pending', 'firing', 'resolved')"


def upgrade() -> None:
    op.create_table(
        "alert_occurrences",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("source", sa.String(100), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("fired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cleared_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("flapping", sa.Boolean(), nullable=False),
        sa.Column("ack_by", sa.String(100), nullable=True),
        sa.Column("ack_note", sa.Text(), nullable=True),
        sa.Column("ack_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(STATES, name=op.f("ck_alert_occurrences_state")),
        sa.PrimaryKeyConstraint("id", name="pk_alert_occurrences"),
    )
    op.create_index("ix_alert_occurrences_state", "alert_occurrences", ["state"])
    op.create_index("ix_alert_occurrences_key_started_at", "alert_occurrences",
                    ["key", "started_at"])
    op.create_table(
        "alert_transitions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("occurrence_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("source", sa.String(100), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.CheckConstraint(STATES, name=op.f("ck_alert_transitions_state")),
        sa.ForeignKeyConstraint(["occurrence_id"], ["alert_occurrences.id"],
                                name="fk_alert_transitions_occurrence_id_alert_occurrences"),
        sa.PrimaryKeyConstraint("id", name="pk_alert_transitions"),
    )
    op.create_index("ix_alert_transitions_at", "alert_transitions", ["at"])
    op.create_index("ix_alert_transitions_key_at", "alert_transitions", ["key", "at"])
    op.create_index("ix_alert_transitions_occurrence_id", "alert_transitions",
                    ["occurrence_id"])
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            op.execute(f"CREATE TRIGGER {FUNCTION} AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
                       f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION {FUNCTION}()")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {FUNCTION} ON {table}")
    op.drop_index("ix_alert_transitions_occurrence_id", table_name="alert_transitions")
    op.drop_index("ix_alert_transitions_key_at", table_name="alert_transitions")
    op.drop_index("ix_alert_transitions_at", table_name="alert_transitions")
    op.drop_table("alert_transitions")
    op.drop_index("ix_alert_occurrences_key_started_at", table_name="alert_occurrences")
    op.drop_index("ix_alert_occurrences_state", table_name="alert_occurrences")
    op.drop_table("alert_occurrences")

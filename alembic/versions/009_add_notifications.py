"""Add notifications: the outbox of alert notifications (issue 12, part 4).

One row per (transition x receiver), written in the same transaction as the transition or ack
it announces (api/status/announce.py), so a notification exists exactly when its transition
does, whatever crashes. The sender (api/notify/) claims due rows with a lease, delivers them in
order per alert and receiver, and records each attempt here; GET /api/v1/notifications lists
them. No NOTIFY trigger: a delivery is not a change of what the status shows.

Revision ID: 009_add_notifications
Revises: 008_add_alert_rules
Create Date: 2026-12-02
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "009_add_notifications"
down_revision = "008_add_alert_rules"
branch_labels = None
depends_on = None

EVENTS = "event IN ('firing', 'resolved', 'acknowledged', 'test')"
STATES = "state IN ('pending', 'delivered', 'failed')"


def upgrade() -> None:
    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uid", sa.String(36), nullable=False),
        sa.Column("occurrence_id", sa.Integer(), nullable=True),
        sa.Column("event", sa.String(16), nullable=False),
        sa.Column("receiver", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("target", sa.String(300), nullable=False),
        sa.Column("alert", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(EVENTS, name=op.f("ck_notifications_event")),
        sa.CheckConstraint(STATES, name=op.f("ck_notifications_state")),
        sa.ForeignKeyConstraint(["occurrence_id"], ["alert_occurrences.id"],
                                name="fk_notifications_occurrence_id_alert_occurrences"),
        sa.PrimaryKeyConstraint("id", name="pk_notifications"),
        sa.UniqueConstraint("uid", name="uq_notifications_uid"),
    )
    op.create_index("ix_notifications_receiver_state", "notifications", ["receiver", "state"])
    op.create_index("ix_notifications_created_at", "notifications", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_notifications_created_at", table_name="notifications")
    op.drop_index("ix_notifications_receiver_state", table_name="notifications")
    op.drop_table("notifications")

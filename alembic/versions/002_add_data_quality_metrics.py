"""Add data_quality_metrics: pipewatch's history of geocoding and validation quality.

Rates are generated columns derived from their counts (NULL with zero attempts), so a row's
rate can never disagree with its counts, whoever writes it.

Revision ID: 002_add_data_quality_metrics
Revises: 001_tracker_tables
Create Date: 2026-11-25
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "002_add_data_quality_metrics"
down_revision = "001_tracker_tables"
branch_labels = None
depends_on = None


def _rate(successes: str, attempts: str) -> sa.Computed:
    return sa.Computed(
        f"CASE WHEN {attempts} > 0 THEN CAST({successes} AS FLOAT) / {attempts} END",
        persisted=True,
    )


def upgrade() -> None:
    op.create_table(
        "data_quality_metrics",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("timestamp", sa.DateTime(timezone=True), nullable=False),
        sa.Column("window_seconds", sa.Integer(), nullable=False),
        sa.Column("metric_type", sa.String(16), nullable=False),
        sa.Column("source", sa.String(100), nullable=True),
        sa.Column("geocoding_attempts", sa.Integer(), nullable=False),
        sa.Column("geocoding_successes", sa.Integer(), nullable=False),
        sa.Column("geocoding_success_rate", sa.Float(),
                  _rate("geocoding_successes", "geocoding_attempts"), nullable=True),
        sa.Column("validation_attempts", sa.Integer(), nullable=False),
        sa.Column("validation_passes", sa.Integer(), nullable=False),
        sa.Column("validation_pass_rate", sa.Float(),
                  _rate("validation_passes", "validation_attempts"), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("metric_type IN ('aggregate', 'source', 'hourly')",
                           name=op.f("ck_data_quality_metrics_metric_type")),
        sa.CheckConstraint("status IN ('pending', 'healthy', 'warning', 'error')",
                           name=op.f("ck_data_quality_metrics_status")),
        sa.CheckConstraint(
            "geocoding_attempts >= 0 AND geocoding_successes >= 0 "
            "AND geocoding_successes <= geocoding_attempts",
            name=op.f("ck_data_quality_metrics_geocoding_counts")),
        sa.CheckConstraint(
            "validation_attempts >= 0 AND validation_passes >= 0 "
            "AND validation_passes <= validation_attempts",
            name=op.f("ck_data_quality_metrics_validation_counts")),
        sa.CheckConstraint("window_seconds > 0",
                           name=op.f("ck_data_quality_metrics_window_seconds")),
        sa.PrimaryKeyConstraint("id", name="pk_data_quality_metrics"),
    )
    op.create_index("ix_data_quality_metrics_timestamp", "data_quality_metrics",
                    [sa.text("timestamp DESC")])
    op.create_index("ix_data_quality_metrics_source", "data_quality_metrics", ["source"])
    op.create_index("ix_data_quality_metrics_metric_type", "data_quality_metrics",
                    ["metric_type"])
    op.create_index("ix_data_quality_metrics_metric_type_timestamp", "data_quality_metrics",
                    ["metric_type", "timestamp"])


def downgrade() -> None:
    op.drop_index("ix_data_quality_metrics_metric_type_timestamp",
                  table_name="data_quality_metrics")
    op.drop_index("ix_data_quality_metrics_metric_type", table_name="data_quality_metrics")
    op.drop_index("ix_data_quality_metrics_source", table_name="data_quality_metrics")
    op.drop_index("ix_data_quality_metrics_timestamp", table_name="data_quality_metrics")
    op.drop_table("data_quality_metrics")

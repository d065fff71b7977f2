"""The tracker's own tables: locations, conflicts, forecast, scrape_runs.

pipewatch reads these; in production the tracker may already have created them, in which case
stamp this revision (`alembic stamp 001_tracker_tables`) instead of running it.

Revision ID: 001_tracker_tables
Revises:
Create Date: 2026-11-25
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "001_tracker_tables"
down_revision = None
branch_labels = None
depends_on = None

UTC_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "locations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("state", sa.String(100), nullable=True),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_locations"),
    )
    op.create_table(
        "conflicts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(100), nullable=False),
        sa.Column("source_url", sa.String(1000), nullable=False),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("event_date", sa.Date(), nullable=True),
        sa.Column("scraped_at", UTC_TIME, nullable=False),
        sa.Column("location_text", sa.String(300), nullable=True),
        sa.Column("location_id", sa.Integer(), nullable=True),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("geocoding_status", sa.String(16), nullable=False),
        sa.Column("validation_status", sa.String(16), nullable=False),
        sa.Column("fatalities", sa.Integer(), nullable=True),
        sa.Column("event_type", sa.String(100), nullable=True),
        sa.CheckConstraint("geocoding_status IN ('success', 'failed', 'pending')",
                           name=op.f("ck_conflicts_geocoding_status")),
        sa.CheckConstraint("validation_status IN ('passed', 'failed', 'pending')",
                           name=op.f("ck_conflicts_validation_status")),
        sa.ForeignKeyConstraint(["location_id"], ["locations.id"],
                                name="fk_conflicts_location_id_locations"),
        sa.PrimaryKeyConstraint("id", name="pk_conflicts"),
        sa.UniqueConstraint("source_url", name="uq_conflicts_source_url"),
    )
    op.create_index("ix_conflicts_scraped_at", "conflicts", ["scraped_at"])
    op.create_index("ix_conflicts_source_scraped_at", "conflicts", ["source", "scraped_at"])
    op.create_table(
        "forecast",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=False),
        sa.Column("forecast_date", sa.Date(), nullable=False),
        sa.Column("risk_score", sa.Float(), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.ForeignKeyConstraint(["location_id"], ["locations.id"],
                                name="fk_forecast_location_id_locations"),
        sa.PrimaryKeyConstraint("id", name="pk_forecast"),
    )
    op.create_index("ix_forecast_created_at", "forecast", ["created_at"])
    op.create_table(
        "scrape_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(100), nullable=False),
        sa.Column("started_at", UTC_TIME, nullable=False),
        sa.Column("finished_at", UTC_TIME, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("items_found", sa.Integer(), nullable=False),
        sa.Column("items_new", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.CheckConstraint("status IN ('success', 'failed', 'partial')",
                           name=op.f("ck_scrape_runs_status")),
        sa.CheckConstraint("items_found >= 0 AND items_new >= 0",
                           name=op.f("ck_scrape_runs_item_counts")),
        sa.PrimaryKeyConstraint("id", name="pk_scrape_runs"),
    )
    op.create_index("ix_scrape_runs_started_at", "scrape_runs", ["started_at"])
    op.create_index("ix_scrape_runs_source_started_at", "scrape_runs", ["source", "started_at"])


def downgrade() -> None:
    op.drop_index("ix_scrape_runs_source_started_at", table_name="scrape_runs")
    op.drop_index("ix_scrape_runs_started_at", table_name="scrape_runs")
    op.drop_table("scrape_runs")
    op.drop_index("ix_forecast_created_at", table_name="forecast")
    op.drop_table("forecast")
    op.drop_index("ix_conflicts_source_scraped_at", table_name="conflicts")
    op.drop_index("ix_conflicts_scraped_at", table_name="conflicts")
    op.drop_table("conflicts")
    op.drop_table("locations")

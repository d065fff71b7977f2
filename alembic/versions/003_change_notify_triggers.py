"""PostgreSQL: NOTIFY pipewatch_changes after every write to the tables the status reads.

Any writer, in any process or on any host (the app, a script, psql), then wakes every pipewatch
instance that LISTENs (api/live/changefeed.py). Statement-level triggers: a 10,000-row insert sends
one notification, not 10,000. The payload is only the table name (NOTIFY payloads are capped
at 8,000 bytes; listeners recompute the status anyway). SQLite has no NOTIFY: this revision
does nothing there (its change feed reads PRAGMA data_version instead).

Revision ID: 003_change_notify_triggers
Revises: 002_add_data_quality_metrics
Create Date: 2026-11-25
"""
from __future__ import annotations

from alembic import op

revision = "003_change_notify_triggers"
down_revision = "002_add_data_quality_metrics"
branch_labels = None
depends_on = None

CHANNEL = "pipewatch_changes"
FUNCTION = "pipewatch_notify_change"
TABLES = ("data_quality_metrics", "scrape_runs", "conflicts", "forecast")


def _is_postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    if not _is_postgresql():
        return
    op.execute(f"""
        CREATE OR REPLACE FUNCTION {FUNCTION}() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('{CHANNEL}', TG_TABLE_NAME);
            RETURN NULL;
        END
        $$
    """)
    for table in TABLES:
        op.execute(f"""
            CREATE TRIGGER {FUNCTION}
            AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table}
            FOR EACH STATEMENT EXECUTE FUNCTION {FUNCTION}()
        """)


def downgrade() -> None:
    if not _is_postgresql():
        return
    for table in TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS {FUNCTION} ON {table}")
    op.execute(f"DROP FUNCTION IF EXISTS {FUNCTION}()")

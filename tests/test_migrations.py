"""Migrations and models agree, and every migration goes down and up again without losing rows
that the downgrade does not drop by design. Runs on SQLite and on a real PostgreSQL server."""
from __future__ import annotations

import os
import subprocess
import sys
from datetime import date, datetime, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Integer, func, inspect, insert, select, text

from api.storage import migrate
from api.settings import REPO_ROOT
from api.storage.db import Database
from api.storage.models import (
    COUNTS, RATES, Base, Conflict, DataQualityMetric, Forecast, Location, ScrapeRun)

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)
METRIC_INDEXES = {
    "ix_data_quality_metrics_timestamp",
    "ix_data_quality_metrics_source",
    "ix_data_quality_metrics_metric_type",
    "ix_data_quality_metrics_metric_type_timestamp",
}


def _insert_sample_rows(db: Database) -> None:
    with db.session() as session:
        session.execute(insert(Location), [{"id": 1, "name": "Maiduguri", "state": "Borno",
                                            "latitude": 11.85, "longitude": 13.16}])
        session.execute(insert(Conflict), [{
            "source": "punch", "source_url": f"https://example.org/a/{i}", "title": "t",
            "event_date": date(2026, 11, 20), "scraped_at": T0, "location_text": "Maiduguri",
            "location_id": 1, "geocoding_status": "success", "validation_status": "passed",
        } for i in range(3)])
        session.execute(insert(Forecast), [{"location_id": 1, "forecast_date": date(2026, 11, 21),
                                            "risk_score": 0.4, "created_at": T0}])
        session.execute(insert(ScrapeRun), [{"source": "punch", "started_at": T0,
                                             "finished_at": T0, "status": "success",
                                             "items_found": 3, "items_new": 3}])
        session.execute(insert(DataQualityMetric), [{
            "timestamp": T0, "window_seconds": 3600, "metric_type": "hourly", "source": None,
            "geocoding_attempts": 4, "geocoding_successes": 3, "validation_attempts": 0,
            "validation_passes": 0, "status": "warning", "created_at": T0}])


def _row_counts(db: Database) -> dict[str, int]:
    tables = set(inspect(db.engine).get_table_names())
    counts = {}
    with db.engine.connect() as connection:
        for model in (Location, Conflict, Forecast, ScrapeRun, DataQualityMetric):
            name = model.__tablename__
            if name in tables:
                counts[name] = connection.execute(select(func.count()).select_from(model)).scalar()
    return counts


def test_models_and_migrations_agree(database):
    with database.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == []


def test_metrics_table_has_its_four_indexes(database):
    names = {index["name"] for index in inspect(database.engine).get_indexes("data_quality_metrics")}
    assert METRIC_INDEXES <= names


def test_rates_are_derived_from_counts(database):
    _insert_sample_rows(database)
    with database.engine.connect() as connection:
        row = connection.execute(select(DataQualityMetric.geocoding_success_rate,
                                        DataQualityMetric.validation_pass_rate)).one()
    assert row.geocoding_success_rate == pytest.approx(0.75)
    assert row.validation_pass_rate is None


def test_counts_and_rates_name_the_metric_columns():
    """COUNTS and RATES, from which every reader of metric rows takes its field names, are
    exactly the table's count columns (in table order) and its computed rate columns."""
    table = DataQualityMetric.__table__
    counts = tuple(column.name for column in table.columns if isinstance(column.type, Integer)
                   and column.name not in ("id", "window_seconds"))
    assert COUNTS == counts
    assert set(RATES) == {column.name for column in table.columns if column.computed is not None}
    for name, (successes, attempts) in RATES.items():
        formula = str(table.c[name].computed.sqltext)
        assert f"CAST({successes} AS FLOAT) / {attempts}" in formula


def test_down_to_base_and_up_again_keeps_what_it_should(database):
    _insert_sample_rows(database)
    before = _row_counts(database)
    assert before == {"locations": 1, "conflicts": 3, "forecast": 1, "scrape_runs": 1,
                      "data_quality_metrics": 1}
    script = ScriptDirectory.from_config(migrate.alembic_config())
    revisions = [rev.revision for rev in script.walk_revisions()]  # head first
    for target in revisions[1:] + ["base"]:
        migrate.downgrade(database.engine, target)
        assert migrate.current_revision(database.engine) == (None if target == "base" else target)
        after = _row_counts(database)
        # Tables still present keep every row; only tables a downgrade drops lose theirs.
        assert after == {name: count for name, count in before.items() if name in after}
    assert _row_counts(database) == {}
    migrate.upgrade(database.engine)
    assert migrate.current_revision(database.engine) == migrate.head_revision()
    assert set(_row_counts(database)) == set(before)
    with database.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == []


def test_downgrade_one_drops_only_the_newest_revision(database):
    """`alembic downgrade -1` from 002 drops the metrics table, `upgrade head` restores it."""
    migrate.downgrade(database.engine, "001_tracker_tables")
    assert "data_quality_metrics" not in inspect(database.engine).get_table_names()
    assert "conflicts" in inspect(database.engine).get_table_names()
    migrate.upgrade(database.engine)
    assert "data_quality_metrics" in inspect(database.engine).get_table_names()


def _alembic(url: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": url}
    return subprocess.run([sys.executable, "-m", "alembic", *args], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_alembic_command_line_from_the_repo_root(db_url):
    """What an operator types: `alembic upgrade head`, `history`, `downgrade -1`, with DATABASE_URL."""
    up = _alembic(db_url, "upgrade", "head")
    assert up.returncode == 0, up.stderr
    history = _alembic(db_url, "history")
    assert "002_add_data_quality_metrics" in history.stdout
    db = Database(db_url)
    try:
        assert migrate.current_revision(db.engine) == migrate.head_revision()
        down = _alembic(db_url, "downgrade", "-1")
        assert down.returncode == 0, down.stderr
        assert migrate.current_revision(db.engine) != migrate.head_revision()
        again = _alembic(db_url, "upgrade", "head")
        assert again.returncode == 0, again.stderr
        assert migrate.current_revision(db.engine) == migrate.head_revision()
        with db.engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM data_quality_metrics")).scalar() == 0
    finally:
        db.dispose()


def _check_constraint_names(engine) -> dict[str, set[str]]:
    inspector = inspect(engine)
    return {table: {check["name"] for check in inspector.get_check_constraints(table)}
            for table in ("conflicts", "scrape_runs", "data_quality_metrics")}


def test_constraint_names_match_the_models(database, tmp_path):
    """Autogenerate does not compare CHECK constraints, so compare their names here: the
    migrated schema's must be exactly those `Base.metadata.create_all` would make."""
    expected = {table.name: {constraint.name for constraint in table.constraints
                             if constraint.__class__.__name__ == "CheckConstraint"}
                for table in Base.metadata.sorted_tables
                if table.name in ("conflicts", "scrape_runs", "data_quality_metrics")}
    assert _check_constraint_names(database.engine) == expected
    assert all(name.startswith(f"ck_{table}_") and f"ck_{table}_ck_" not in name
               for table, names in expected.items() for name in names)

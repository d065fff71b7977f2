"""Running Alembic from code: the app migrates itself, `readyz` checks the head, tests migrate."""
from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

from api.settings import REPO_ROOT


def alembic_config(engine: Engine | None = None, connection=None) -> Config:
    """The repo's alembic.ini, bound to `connection` (or the engine's URL) when given."""
    config = Config(str(REPO_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(REPO_ROOT / "alembic"))
    if connection is not None:
        config.attributes["connection"] = connection
    elif engine is not None:
        config.attributes["url"] = engine.url.render_as_string(hide_password=False)
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    with engine.begin() as connection:
        _no_statement_timeout(connection)
        command.upgrade(alembic_config(connection=connection), revision)


def downgrade(engine: Engine, revision: str) -> None:
    with engine.begin() as connection:
        _no_statement_timeout(connection)
        command.downgrade(alembic_config(connection=connection), revision)


def _no_statement_timeout(connection) -> None:
    """PG_STATEMENT_TIMEOUT_SECONDS bounds requests; building an index on a big table may
    rightly take longer, so a migration's transaction runs without it."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("SET LOCAL statement_timeout = 0")


def head_revision() -> str:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()

"""Migrations run up, down and up again on a database of their own."""

from __future__ import annotations

import os
import warnings

from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text

from api.db import migrate
from api.db.models import AUDITED_TABLES, Base
from tests.conftest import reset_database

MIGRATIONS_URL = os.environ.get(
    "IRBIS_TEST_MIGRATIONS_DATABASE_URL",
    "postgresql+psycopg://irbis:irbis@127.0.0.1:5432/irbis_test_migrations",
)


def _tables() -> set[str]:
    engine = create_engine(MIGRATIONS_URL)
    try:
        with engine.connect() as conn:
            return set(inspect(conn).get_table_names()) - {"spatial_ref_sys"}
    finally:
        engine.dispose()


def test_the_alembic_configuration_reads_without_a_deprecation_warning() -> None:
    """Alembic 1.16+ warns when the configuration does not say how path lists are split."""
    cfg = migrate.alembic_config("postgresql+psycopg://irbis@127.0.0.1/irbis")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        script = ScriptDirectory.from_config(cfg)
        assert cfg.get_prepend_sys_paths_list()
    assert script.get_current_head()


def test_upgrade_downgrade_upgrade() -> None:
    reset_database(MIGRATIONS_URL)
    assert _tables() <= {"alembic_version"}
    migrate.upgrade(MIGRATIONS_URL, "head")
    after_first = _tables()
    assert set(Base.metadata.tables) <= after_first
    migrate.downgrade(MIGRATIONS_URL, "base")
    assert _tables() <= {"alembic_version"}
    migrate.upgrade(MIGRATIONS_URL, "head")
    assert _tables() == after_first
    assert migrate.current(MIGRATIONS_URL) is not None


def test_models_match_migrated_schema(migrated: str) -> None:
    """Every model column exists in the migrated database (models and migrations agree)."""
    engine = create_engine(migrated)
    try:
        with engine.connect() as conn:
            insp = inspect(conn)
            for name, table in Base.metadata.tables.items():
                cols = {c["name"] for c in insp.get_columns(name)}
                assert {c.name for c in table.columns} <= cols, name
            triggers = set(
                conn.execute(text("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")).scalars()
            )
            for name in AUDITED_TABLES:
                assert {f"{name}_audit", f"{name}_version"} <= triggers, name
    finally:
        engine.dispose()


def test_a_runs_heartbeat_is_the_only_write_its_version_trigger_leaves_out(migrated: str) -> None:
    """The version triggers of the run tables fire on updates of every column but the ones a
    run writes while it works (migration 0019): a column added later is in their list too."""
    from importlib import import_module

    not_data = import_module("api.db.migrations.versions.0019_heartbeat_keeps_versions").NOT_DATA
    engine = create_engine(migrated)
    try:
        with engine.connect() as conn:
            for table, skip in not_data.items():
                listed = set(
                    conn.execute(
                        text(
                            "SELECT a.attname FROM pg_trigger t JOIN pg_attribute a "
                            "ON a.attrelid = t.tgrelid AND a.attnum = ANY (t.tgattr) "
                            "WHERE t.tgname = :name"
                        ),
                        {"name": f"{table}_version"},
                    ).scalars()
                )
                columns = {c["name"] for c in inspect(conn).get_columns(table)}
                assert listed == columns - set(skip), table
    finally:
        engine.dispose()

"""SQL for history: an audit trigger (who, when, before, after) and per-table data versions.

Used by migrations: a table that should keep its history gets :func:`audit_triggers`.
Who is writing is read from the transaction-local setting ``irbis.actor``
(see :func:`api.db.engine.set_actor`).
"""

from __future__ import annotations

from psycopg import sql

AUDIT_SQL = r"""
CREATE OR REPLACE FUNCTION irbis_audit() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  b jsonb;
  a jsonb;
  rid text;
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN b := to_jsonb(OLD); END IF;
  IF TG_OP IN ('UPDATE', 'INSERT') THEN a := to_jsonb(NEW); END IF;
  IF TG_OP = 'UPDATE' AND (a - 'updated_at') = (b - 'updated_at') THEN
    RETURN NEW;
  END IF;
  rid := COALESCE(
    COALESCE(a, b) ->> 'id',
    (SELECT string_agg(value, ':' ORDER BY key) FROM jsonb_each_text(COALESCE(a, b)))
  );
  INSERT INTO audit_log (table_name, row_id, action, actor, at, before, after)
  VALUES (TG_TABLE_NAME, rid, lower(TG_OP),
          NULLIF(current_setting('irbis.actor', true), ''), now(), b, a);
  RETURN COALESCE(NEW, OLD);
END
$$;

CREATE OR REPLACE FUNCTION irbis_touch() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF to_jsonb(NEW) ? 'updated_at' THEN
    NEW.updated_at := now();
  END IF;
  RETURN NEW;
END
$$;

CREATE OR REPLACE FUNCTION irbis_bump_version() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO layer_versions (table_name, version, changed_at)
  VALUES (TG_TABLE_NAME, 1, clock_timestamp())
  ON CONFLICT (table_name)
  DO UPDATE SET version = layer_versions.version + 1, changed_at = clock_timestamp();
  RETURN NULL;
END
$$;
"""

DROP_AUDIT_SQL = """
DROP FUNCTION IF EXISTS irbis_audit() CASCADE;
DROP FUNCTION IF EXISTS irbis_touch() CASCADE;
DROP FUNCTION IF EXISTS irbis_bump_version() CASCADE;
"""


#: The triggers that keep a table's history and bump its data version (see audit_triggers).
_TRIGGERS = """
CREATE TRIGGER {audit} AFTER INSERT OR UPDATE OR DELETE ON {table}
  FOR EACH ROW EXECUTE FUNCTION irbis_audit();
CREATE TRIGGER {version} AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table}
  FOR EACH STATEMENT EXECUTE FUNCTION irbis_bump_version();
INSERT INTO layer_versions (table_name, version, changed_at) VALUES ({name}, 0, now())
  ON CONFLICT (table_name) DO NOTHING;
"""
_TOUCH_TRIGGER = """
CREATE TRIGGER {touch} BEFORE UPDATE ON {table}
  FOR EACH ROW EXECUTE FUNCTION irbis_touch();
"""
_DROP_TRIGGERS = """
DROP TRIGGER IF EXISTS {audit} ON {table};
DROP TRIGGER IF EXISTS {version} ON {table};
DROP TRIGGER IF EXISTS {touch} ON {table};
DELETE FROM layer_versions WHERE table_name = {name};
"""


def _names(table: str) -> dict[str, sql.Composable]:
    """The table and its triggers as quoted identifiers, its name as a quoted literal."""
    return {
        "table": sql.Identifier(table),
        "audit": sql.Identifier(f"{table}_audit"),
        "version": sql.Identifier(f"{table}_version"),
        "touch": sql.Identifier(f"{table}_touch"),
        "name": sql.Literal(table),
    }


def audit_triggers(table: str) -> str:
    """Triggers that keep ``table``'s history and bump its data version."""
    # grant_species has no updated_at to touch
    body = _TRIGGERS + (_TOUCH_TRIGGER if table != "grant_species" else "")
    return sql.SQL(body).format(**_names(table)).as_string()


def drop_audit_triggers(table: str) -> str:
    return sql.SQL(_DROP_TRIGGERS).format(**_names(table)).as_string()

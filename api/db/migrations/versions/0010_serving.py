"""serving at scale: change notifications for data versions and accounts (issue 14).

Every bump of a table's data version (``irbis_bump_version``) also sends
``pg_notify('irbis_changes', 'v:<table>:<version>')``, and a change of what a login may do
(users, roles, grants, revoked tokens, ended sessions) sends ``'auth'``. Notifications are
delivered at commit, so each process of the service (``api.versions``) learns of a write
when it becomes visible, without asking the database on every request.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

CHANNEL = "irbis_changes"

BUMP_WITH_NOTIFY = f"""
CREATE OR REPLACE FUNCTION irbis_bump_version() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  v bigint;
BEGIN
  INSERT INTO layer_versions (table_name, version, changed_at)
  VALUES (TG_TABLE_NAME, 1, clock_timestamp())
  ON CONFLICT (table_name)
  DO UPDATE SET version = layer_versions.version + 1, changed_at = clock_timestamp()
  RETURNING version INTO v;
  PERFORM pg_notify('{CHANNEL}', 'v:' || TG_TABLE_NAME || ':' || v);
  RETURN NULL;
END
$$;
"""

BUMP_WITHOUT_NOTIFY = """
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

AUTH_NOTIFY = f"""
CREATE OR REPLACE FUNCTION irbis_notify_auth() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('{CHANNEL}', 'auth');
  RETURN NULL;
END
$$;
"""

#: (trigger name, table, events): what changes who a cached principal is or whether it exists.
#: Touching ``last_seen_at``/``last_used_at`` is not among them, so logins stay cacheable.
AUTH_TRIGGERS = (
    ("users_auth_notify", "users", "UPDATE OR DELETE"),
    ("user_roles_auth_notify", "user_roles", "INSERT OR UPDATE OR DELETE OR TRUNCATE"),
    ("user_grants_auth_notify", "user_grants", "INSERT OR UPDATE OR DELETE OR TRUNCATE"),
    ("api_tokens_auth_notify", "api_tokens", "UPDATE OF revoked_at, user_id OR DELETE"),
    ("sessions_auth_notify", "sessions", "DELETE OR UPDATE OF user_id, expires_at"),
)


def upgrade() -> None:
    op.execute(BUMP_WITH_NOTIFY)
    op.execute(AUTH_NOTIFY)
    for name, table, events in AUTH_TRIGGERS:
        op.execute(
            f"CREATE TRIGGER {name} AFTER {events} ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION irbis_notify_auth()"
        )


def downgrade() -> None:
    for name, table, _events in AUTH_TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
    op.execute("DROP FUNCTION IF EXISTS irbis_notify_auth()")
    op.execute(BUMP_WITHOUT_NOTIFY)

"""Accounts: users, roles, grant links, API tokens, sessions, and field-site versions.

Password hashes, token hashes and sessions are not readable by the read-only role. Changes to
users, their roles and grant links, and API tokens are kept in ``audit_log`` (the users trigger
leaves the password hash out). ``field_site_versions`` shows every past state of a field site.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from api.db.history import audit_triggers, drop_audit_triggers

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

ROLES = ("admin", "analyst", "grantee", "advocate", "public")
AUDITED = ("user_roles", "user_grants")
PRIVATE = ("users", "api_tokens", "sessions")

USERS_AUDIT_SQL = r"""
CREATE OR REPLACE FUNCTION irbis_audit_users() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  b jsonb;
  a jsonb;
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN b := to_jsonb(OLD) - 'password_hash'; END IF;
  IF TG_OP IN ('UPDATE', 'INSERT') THEN a := to_jsonb(NEW) - 'password_hash'; END IF;
  IF TG_OP = 'UPDATE' THEN
    IF OLD.password_hash IS DISTINCT FROM NEW.password_hash THEN
      a := a || '{"password_changed": true}'::jsonb;
    ELSIF (a - 'updated_at' - 'last_login_at' - 'failed_logins' - 'locked_until')
        = (b - 'updated_at' - 'last_login_at' - 'failed_logins' - 'locked_until') THEN
      RETURN NEW;
    END IF;
  END IF;
  INSERT INTO audit_log (table_name, row_id, action, actor, at, before, after)
  VALUES (TG_TABLE_NAME, COALESCE(a, b) ->> 'id', lower(TG_OP),
          NULLIF(current_setting('irbis.actor', true), ''), now(), b, a);
  RETURN COALESCE(NEW, OLD);
END
$$;
CREATE TRIGGER users_audit AFTER INSERT OR UPDATE OR DELETE ON users
  FOR EACH ROW EXECUTE FUNCTION irbis_audit_users();
CREATE TRIGGER users_touch BEFORE UPDATE ON users
  FOR EACH ROW EXECUTE FUNCTION irbis_touch();
-- tokens: creation, renaming, revocation and deletion, not every use (last_used_at)
CREATE TRIGGER api_tokens_audit AFTER INSERT OR DELETE OR UPDATE OF name, revoked_at
  ON api_tokens FOR EACH ROW EXECUTE FUNCTION irbis_audit();
"""

VERSIONS_VIEW_SQL = """
CREATE VIEW field_site_versions AS
SELECT a.id AS version_id,
       (COALESCE(a.before, a.after) ->> 'id')::integer AS site_id,
       (COALESCE(a.before, a.after) ->> 'grant_id')::integer AS grant_id,
       a.action,
       a.actor,
       a.at,
       a.before,
       a.after
FROM audit_log a
WHERE a.table_name = 'field_sites';
"""


def upgrade() -> None:
    now = sa.func.now()
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("username", sa.Text(), nullable=False),
        sa.Column("display_name", sa.Text(), nullable=False),
        sa.Column("email", sa.Text(), nullable=True),
        sa.Column("password_hash", sa.Text(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failed_logins", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=now, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=now, nullable=False),
    )
    op.create_index("uq_users_username", "users", ["username"], unique=True)
    op.create_index("uq_users_email", "users", ["email"], unique=True)
    op.create_table(
        "user_roles",
        sa.Column(
            "user_id",
            sa.Integer(),
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("role", sa.String(16), primary_key=True),
        sa.CheckConstraint(
            "role IN (" + ", ".join(f"'{r}'" for r in ROLES) + ")", name="ck_user_roles_role"
        ),
    )
    op.create_table(
        "user_grants",
        sa.Column(
            "user_id",
            sa.Integer(),
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "grant_id",
            sa.Integer(),
            sa.ForeignKey("grants.id", ondelete="CASCADE"),
            primary_key=True,
        ),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "user_id",
            sa.Integer(),
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=now, nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "sessions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "user_id",
            sa.Integer(),
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=now, nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("user_agent", sa.Text(), nullable=True),
    )
    op.execute(USERS_AUDIT_SQL)
    for table in AUDITED:
        op.execute(audit_triggers(table))
    op.execute(VERSIONS_VIEW_SQL)
    op.execute(
        "DO $$ BEGIN IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'irbis_reader') THEN "
        + " ".join(f"REVOKE ALL ON {t} FROM irbis_reader;" for t in PRIVATE)
        + " GRANT SELECT ON user_roles, user_grants, field_site_versions TO irbis_reader;"
        + " END IF; END $$;"
    )


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS field_site_versions")
    for table in AUDITED:
        op.execute(drop_audit_triggers(table))
    op.execute("DROP TRIGGER IF EXISTS api_tokens_audit ON api_tokens")
    op.execute("DROP TRIGGER IF EXISTS users_audit ON users")
    op.execute("DROP TRIGGER IF EXISTS users_touch ON users")
    op.execute("DROP FUNCTION IF EXISTS irbis_audit_users()")
    op.drop_table("sessions")
    op.drop_table("api_tokens")
    op.drop_table("user_grants")
    op.drop_table("user_roles")
    op.drop_index("uq_users_email", table_name="users")
    op.drop_index("uq_users_username", table_name="users")
    op.drop_table("users")

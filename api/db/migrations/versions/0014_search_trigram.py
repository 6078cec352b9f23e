"""search by trigrams: Latin spellings of Cyrillic settlement names, and trigram indexes.

Name search (``GET /search``) matched a name, or one of its words, by its beginning only, and
scanned every settlement to do it. Kazakh settlements are often named in Cyrillic only, so a
Latin query ("Shymkent", "Kaskelen", "Talgar") found nothing. This migration

- creates ``pg_trgm`` (a trusted extension: the database's owner may create it);
- adds ``settlements.name_latin``: the Latin forms (``anyascii``) of the settlement's names that
  are not ASCII already, distinct, separated by `` / ``; filled here for the rows already there
  and by the model's column default for every row inserted afterwards
  (:func:`geo.names.latin_names`);
- indexes the searched settlement names (``name``, ``name_en``, ``name_ru``, ``name_kk``,
  ``name_latin``) with trigram GIN indexes, which serve ``ILIKE`` with a leading wildcard and
  the word similarity operator ``<%`` alike.

Revision ID: 0014_search_trigram
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from geo.names import latin_names

revision = "0014_search_trigram"
down_revision = "0013"
branch_labels = None
depends_on = None

COLUMNS = ("name", "name_en", "name_ru", "name_kk", "name_latin")


def _fill() -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT id, name, name_en, name_ru, name_kk FROM settlements"))
    ids, forms = [], []
    for r in rows:
        if (latin := latin_names(r.name, r.name_en, r.name_ru, r.name_kk)) is not None:
            ids.append(r.id)
            forms.append(latin)
    if ids:  # one statement for all rows; a derived column is no edit: not audited or touched
        conn.execute(sa.text("ALTER TABLE settlements DISABLE TRIGGER USER"))
        conn.execute(
            sa.text(
                "UPDATE settlements s SET name_latin = v.latin "
                "FROM unnest(CAST(:ids AS integer[]), CAST(:forms AS text[])) AS v(id, latin) "
                "WHERE s.id = v.id"
            ),
            {"ids": ids, "forms": forms},
        )
        conn.execute(sa.text("ALTER TABLE settlements ENABLE TRIGGER USER"))


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.add_column("settlements", sa.Column("name_latin", sa.Text(), nullable=True))
    _fill()
    for col in COLUMNS:
        op.execute(
            f"CREATE INDEX settlements_{col}_trgm ON settlements USING gin ({col} gin_trgm_ops)"
        )


def downgrade() -> None:
    for col in COLUMNS:
        op.execute(f"DROP INDEX IF EXISTS settlements_{col}_trgm")
    op.drop_column("settlements", "name_latin")
    # the extension goes only if this role made it (one made by a superuser may serve others)
    op.execute(
        "DO $$ BEGIN IF EXISTS (SELECT FROM pg_extension WHERE extname = 'pg_trgm' "
        "AND extowner = (SELECT oid FROM pg_roles WHERE rolname = current_user)) THEN "
        "DROP EXTENSION pg_trgm; END IF; END $$;"
    )

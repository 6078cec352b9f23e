"""feature names in Russian and Kazakh: ranges, lakes, rivers, peaks and protected areas.

Natural Earth names its physical regions, lakes, rivers and peaks in English only (its ranges in
capitals), and the protected areas kept their OpenStreetMap Kazakh name as ``original_name``
but dropped the Russian one. Maps, labels and search read a name in the reader's language; this
migration adds the columns they read:

- ``regions``: ``name_en`` (the name in English as a map writes it, not in capitals),
  ``name_ru``, ``name_kk``;
- ``lakes``, ``rivers``, ``peaks``: ``name_ru``, ``name_kk``;
- ``protected_areas``: ``name_ru``, ``name_kk`` (from OpenStreetMap ``name:ru`` and
  ``name:kk``).

The demo loader fills them from the reviewed gazetteer ``api/demo/feature_names.csv`` and the
OpenStreetMap file; an empty value means "the name as stored" (a reader of Kazakh falls back to
Russian, then to the stored name).

Revision ID: 0015_feature_names
Revises: 0014_search_trigram
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015_feature_names"
down_revision = "0014_search_trigram"
branch_labels = None
depends_on = None

COLUMNS: dict[str, tuple[str, ...]] = {
    "regions": ("name_en", "name_ru", "name_kk"),
    "lakes": ("name_ru", "name_kk"),
    "rivers": ("name_ru", "name_kk"),
    "peaks": ("name_ru", "name_kk"),
    "protected_areas": ("name_ru", "name_kk"),
}


def upgrade() -> None:
    for table, columns in COLUMNS.items():
        for column in columns:
            op.add_column(table, sa.Column(column, sa.Text(), nullable=True))


def downgrade() -> None:
    for table, columns in COLUMNS.items():
        for column in reversed(columns):
            op.drop_column(table, column)

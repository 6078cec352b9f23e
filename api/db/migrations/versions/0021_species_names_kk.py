"""species get a Kazakh common name.

``species`` had English and Russian common names (``common_name_en``, ``common_name_ru``);
pages in Kazakh showed the English one. ``species.common_name_kk`` holds the Kazakh name,
given here for the programme's two species unless it is set already: the snow leopard is
"Ілбіс", the goitered gazelle "Қарақұйрық".

Revision ID: 0021_species_names_kk
Revises: 0020_indicator_names_kk
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021_species_names_kk"
down_revision = "0020_indicator_names_kk"
branch_labels = None
depends_on = None

#: The Kazakh common names of the programme's species, by scientific name.
NAMES_KK = {"Panthera uncia": "Ілбіс", "Gazella subgutturosa": "Қарақұйрық"}


def upgrade() -> None:
    op.add_column("species", sa.Column("common_name_kk", sa.Text(), nullable=True))
    op.execute("SELECT set_config('irbis.actor', 'migration 0021', true)")
    for scientific_name, name in NAMES_KK.items():
        op.execute(
            sa.text(
                "UPDATE species SET common_name_kk = :name "
                "WHERE scientific_name = :sn AND common_name_kk IS NULL"
            ).bindparams(sn=scientific_name, name=name)
        )


def downgrade() -> None:
    op.drop_column("species", "common_name_kk")

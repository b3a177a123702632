"""history read model: rendered indicators

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03

`visit_indicators.scalars` (the comparable values of a visit, what "changes" and the
indicators across facilities read) and `visit_indicators.rendered` (the visit's `indicators`
object as the API renders it): a facility's history is then assembled without parsing or
re-encoding the indicator documents (bench/history_bench.py). Both are filled by the refresh;
rows computed before are recomputed by `monitor-api migrate` (reads fall back meanwhile).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('visit_indicators', sa.Column(
        'scalars', postgresql.JSONB(astext_type=sa.Text()), nullable=True))
    op.add_column('visit_indicators', sa.Column('rendered', sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column('visit_indicators', 'rendered')
    op.drop_column('visit_indicators', 'scalars')

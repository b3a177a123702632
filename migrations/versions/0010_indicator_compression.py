"""indicator documents compressed with lz4

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02

Every push that changes a visit rewrites its `visit_indicators` row (about 6 KB of JSON
documents and their rendering), in the push's own transaction. PostgreSQL's default
compression (pglz) was most of that write's cost; lz4 compresses these documents about as
well in a fraction of the time. A server built without lz4 keeps pglz (a notice says so).
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DOCUMENTS = ('space_thresholds', 'compliance', 'findings', 'access_incidents',
             'recommendations', 'scalars', 'rendered')


def _set(method: str) -> str:
    return ', '.join(f'alter column {c} set compression {method}' for c in DOCUMENTS)


def upgrade() -> None:
    op.execute(f"""
        do $$ begin
            alter table visit_indicators {_set('lz4')};
        exception when feature_not_supported then
            raise notice 'lz4 is not available on this server: indicators keep pglz';
        end $$""")


def downgrade() -> None:
    op.execute(f"alter table visit_indicators {_set('default')}")

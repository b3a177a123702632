"""the pulled tables keep their records' JSON

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02

`raw_json`: each row's sync record as JSON text, written by a trigger on every insert and
update, read by pulls instead of building it row by row (sync/stored.py). The triggers are
derived from the sync registry, so `monitor-api migrate` installs them after Alembic (and
recomputes a table's rows whenever its trigger changes); until then the column is NULL and
pulls build the JSON as before.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ('facilities', 'checklist_templates', 'checklist_questions', 'visits',
          'room_inspections', 'answers', 'findings', 'recommendations',
          'recommendation_reviews', 'photos', 'access_incidents')


def upgrade() -> None:
    for table in TABLES:
        op.add_column(table, sa.Column('raw_json', sa.Text(), nullable=True))


def downgrade() -> None:
    for table in TABLES:
        op.execute(f'drop trigger if exists zzz_record_json on {table}')
        op.execute(f'drop function if exists sync_record_json_{table}()')
        op.execute(f'drop type if exists sync_record_{table}')
        op.drop_column(table, 'raw_json')

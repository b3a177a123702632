"""indicators_due: visits whose indicators a committed change made stale

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04

A write no longer recomputes the indicators of the visits it touched inside its own
transaction: it marks them here (one statement), and they are recomputed after its commit
by the web process's background refresher, or by the first read that needs them, whichever
comes first (`monitor_api/histories/due.py`). `reuse_follow_up` is false when the marking
transaction wrote a recommendation or a review (the follow-up indicators must be read
again); `generation` counts the marks since the row was made.
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0015'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("""
        create table indicators_due (
            visit_id uuid primary key,
            reuse_follow_up boolean not null,
            generation bigint not null default 1,
            marked_at timestamptz not null default now()
        )""")


def downgrade() -> None:
    op.execute("drop table indicators_due")

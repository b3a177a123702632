"""sync_idempotency_claim(lock_key, device, key): an Idempotency-Key's lock and stored answer
in one call

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05

A push with an Idempotency-Key took the key's advisory lock in one statement and read the
answer kept for it in a second one (its snapshot had to be taken after the lock, to see the
answer a concurrent retry of the same key committed while this one waited). A VOLATILE
PL/pgSQL function takes a new snapshot for each of its statements (READ COMMITTED), so the
read after the lock inside it sees that answer: one round trip. The lock is the one
`sync/push.py` took before: hashtextextended('<device>:<key>', 7201).
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0017'
down_revision: str | None = '0016'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("""
        create function sync_idempotency_claim(lock_key text, dev uuid, k text)
        returns setof sync_idempotency
        language plpgsql volatile as $$
        begin
            perform pg_advisory_xact_lock(hashtextextended(lock_key, 7201));
            return query select * from sync_idempotency i where i.device_id = dev and i.key = k;
        end
        $$""")


def downgrade() -> None:
    op.execute("drop function sync_idempotency_claim(text, uuid, text)")

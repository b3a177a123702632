"""audit_chain_head(n): the audit chain's lock, head and n new ids in one call

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04

Every audited commit took the chain's advisory lock in one statement and read the head and
its entries' ids in a second one (its snapshot had to be taken after the lock). A VOLATILE
PL/pgSQL function takes a new snapshot for each of its statements (READ COMMITTED), so the
read after the lock inside it sees the entry the previous holder committed: one round trip.
The lock key is `monitor_api.audit.service.AUDIT_LOCK_KEY`.
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0016'
down_revision: str | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("""
        create function audit_chain_head(n integer, out head text, out ids bigint[])
        language plpgsql volatile as $$
        begin
            perform pg_advisory_xact_lock(7201100001);
            select (select a.hash from audit_log a order by a.id desc limit 1),
                   array(select nextval(pg_get_serial_sequence('audit_log', 'id'))
                         from generate_series(1, n))
              into head, ids;
        end
        $$""")


def downgrade() -> None:
    op.execute("drop function audit_chain_head(integer)")

"""sync hardening

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02

What real WatermelonDB apps, faults and fuzzing showed the sync needs:
- `origin_device_id` on synced tables: a device's own new rows go back to it as `updated`;
- `findings.standard_refs` as `json` (not `jsonb`): JSON text comes back exactly as pushed;
- revisions keep the columns a phone sent that the server does not know (`ignored`);
- the quarantine knows its reviewing team (`scope_group_id`), keeps one pending row per
  device, record and content (`content_hash`, `times_received`), and a status `superseded`
  for rows a later accepted version replaced;
- per-device push marks and held-back scope losses (a device's unsent edits of a visit it
  lost are pushed before the visit is deleted on the phone);
- `sync_state` records where the tombstones and scope log were pruned (retention).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql


class XID8(sa.types.UserDefinedType):
    cache_ok = True

    def get_col_spec(self, **kw):
        return "xid8"


revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ORIGIN_TABLES = ("checklist_templates", "checklist_questions", "visits", "answers",
                 "room_inspections", "findings", "recommendations", "recommendation_reviews",
                 "photos", "access_incidents", "interviews", "allegations")
# The content a quarantine row holds, as PostgreSQL computes it (the same on insert and in
# this backfill): the raw record without WatermelonDB's bookkeeping fields.
CONTENT_HASH = ("encode(sha256(convert_to((raw - '_status' - '_changed')::text, 'UTF8')), "
                "'hex')")


def upgrade() -> None:
    for table in ORIGIN_TABLES:
        op.add_column(table, sa.Column('origin_device_id', sa.UUID(), nullable=True))
    op.execute("alter table findings alter column standard_refs type json "
               "using standard_refs::json")
    op.add_column('sync_revisions', sa.Column(
        'ignored', postgresql.JSONB(astext_type=sa.Text()), nullable=True))

    op.add_column('sync_quarantine', sa.Column('scope_group_id', sa.UUID(), nullable=True))
    op.add_column('sync_quarantine', sa.Column('content_hash', sa.String(64), nullable=True))
    op.add_column('sync_quarantine', sa.Column('times_received', sa.Integer(),
                                               server_default='1', nullable=False))
    op.add_column('sync_quarantine', sa.Column(
        'last_received_at', sa.DateTime(timezone=True), server_default=sa.text('now()'),
        nullable=False))
    backfill = f"update sync_quarantine set last_received_at = received_at, content_hash = {CONTENT_HASH}"  # noqa: S608
    op.execute(backfill)
    # Existing rows: the visit's team reviews them, else the sender's first team by name.
    op.execute("""
        update sync_quarantine q set scope_group_id = v.team_id
        from visits v where v.id = q.visit_id;
        update sync_quarantine q set scope_group_id = (
            select t.id from teams t join team_members m on m.team_id = t.id
            where m.user_id = q.user_id order by t.name limit 1)
        where q.scope_group_id is null;
    """)
    op.drop_constraint('ck_sync_quarantine_status', 'sync_quarantine', type_='check')
    op.create_check_constraint(
        'ck_sync_quarantine_status', 'sync_quarantine',
        "status in ('pending', 'accepted', 'fixed', 'discarded', 'superseded')")
    # Keep only the newest of duplicate pending rows before the unique index.
    op.execute("""
        update sync_quarantine q set status = 'superseded', resolved_at = now(),
            resolution = '{"reason": "duplicate of a later pending row"}'
        where status = 'pending' and exists (
            select 1 from sync_quarantine o where o.status = 'pending'
            and o.device_id = q.device_id and o.table_name = q.table_name
            and o.record_id = q.record_id and o.content_hash = q.content_hash
            and (o.received_at, o.id) > (q.received_at, q.id))
    """)
    op.create_index('uq_sync_quarantine_pending', 'sync_quarantine',
                    ['device_id', 'table_name', 'record_id', 'content_hash'], unique=True,
                    postgresql_where=sa.text("status = 'pending'"))
    op.create_index('ix_sync_quarantine_record', 'sync_quarantine',
                    ['table_name', 'record_id'])
    op.create_index('ix_sync_quarantine_scope_group_id', 'sync_quarantine',
                    ['scope_group_id'])

    op.create_table('sync_devices',
    sa.Column('device_id', sa.UUID(), nullable=False),
    sa.Column('last_push_xid', XID8(), nullable=True),
    sa.Column('last_push_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('device_id', name='pk_sync_devices'),
    )
    op.create_table('sync_scope_holds',
    sa.Column('device_id', sa.UUID(), nullable=False),
    sa.Column('root_id', sa.UUID(), nullable=False),
    sa.Column('from_xid', XID8(), nullable=False),
    sa.Column('lost_xid', XID8(), nullable=False),
    sa.Column('held_at', sa.DateTime(timezone=True), server_default=sa.text('now()'),
              nullable=False),
    sa.Column('released_hi', XID8(), nullable=True),
    sa.Column('regained', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.PrimaryKeyConstraint('device_id', 'root_id', name='pk_sync_scope_holds'),
    )
    op.create_table('sync_state',
    sa.Column('key', sa.String(40), nullable=False),
    sa.Column('value', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'),
              nullable=False),
    sa.PrimaryKeyConstraint('key', name='pk_sync_state'),
    )
    op.create_index('ix_sync_idempotency_created_at', 'sync_idempotency', ['created_at'])
    op.create_index('ix_sync_tombstones_scope_id', 'sync_tombstones', ['scope_id'])


def downgrade() -> None:
    op.drop_index('ix_sync_tombstones_scope_id', table_name='sync_tombstones')
    op.drop_index('ix_sync_idempotency_created_at', table_name='sync_idempotency')
    op.drop_table('sync_state')
    op.drop_table('sync_scope_holds')
    op.drop_table('sync_devices')
    op.drop_index('ix_sync_quarantine_scope_group_id', table_name='sync_quarantine')
    op.drop_index('ix_sync_quarantine_record', table_name='sync_quarantine')
    op.drop_index('uq_sync_quarantine_pending', table_name='sync_quarantine')
    op.execute("update sync_quarantine set status = 'discarded' where status = 'superseded'")
    op.drop_constraint('ck_sync_quarantine_status', 'sync_quarantine', type_='check')
    op.create_check_constraint('ck_sync_quarantine_status', 'sync_quarantine',
                               "status in ('pending', 'accepted', 'fixed', 'discarded')")
    for column in ('last_received_at', 'times_received', 'content_hash', 'scope_group_id'):
        op.drop_column('sync_quarantine', column)
    op.drop_column('sync_revisions', 'ignored')
    op.execute("alter table findings alter column standard_refs type jsonb "
               "using standard_refs::jsonb")
    for table in ORIGIN_TABLES:
        op.drop_column(table, 'origin_device_id')

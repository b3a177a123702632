"""sync

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29

The sync engine's own tables: tombstones, per-record revision history, the quarantine of
rejected pushed records, stored push results per Idempotency-Key, and the scope-change log
(written by triggers on team_members and visits.team_id). Every synced table also gets
`created_xid` (the inserting transaction; never updated) so a pull can tell created from
updated records.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql


class XID8(sa.types.UserDefinedType):
    cache_ok = True

    def get_col_spec(self, **kw):
        return "xid8"


revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SYNCED = (
    'facilities', 'checklist_templates', 'checklist_questions', 'visits', 'answers',
    'room_inspections', 'findings', 'recommendations', 'recommendation_reviews', 'photos',
    'access_incidents', 'interviews', 'allegations',
)


def _xid() -> sa.Column:
    return sa.Column('change_xid', XID8(), server_default=sa.text('pg_current_xact_id()'),
                     nullable=False)


def upgrade() -> None:
    for table in SYNCED:
        op.add_column(table, sa.Column('created_xid', XID8(), nullable=False,
                                       server_default=sa.text('pg_current_xact_id()')))

    op.create_table('sync_tombstones',
    sa.Column('table_name', sa.String(60), nullable=False),
    sa.Column('record_id', sa.UUID(), nullable=False),
    sa.Column('scope_id', sa.UUID(), nullable=True),
    sa.Column('scope_group_id', sa.UUID(), nullable=True),
    sa.Column('user_id', sa.UUID(), nullable=True),
    sa.Column('device_id', sa.UUID(), nullable=True),
    sa.Column('deleted_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    _xid(),
    sa.PrimaryKeyConstraint('table_name', 'record_id', name='pk_sync_tombstones'),
    )
    op.create_index('ix_sync_tombstones_change_xid', 'sync_tombstones', ['change_xid'])

    op.create_table('sync_revisions',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('table_name', sa.String(60), nullable=False),
    sa.Column('record_id', sa.UUID(), nullable=False),
    sa.Column('op', sa.String(10), nullable=False),
    sa.Column('before', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('after', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('user_id', sa.UUID(), nullable=True),
    sa.Column('device_id', sa.UUID(), nullable=True),
    sa.Column('source', sa.String(20), nullable=False),
    sa.Column('quarantine_id', sa.UUID(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    _xid(),
    sa.CheckConstraint("op in ('create', 'update', 'delete')", name='ck_sync_revisions_op'),
    sa.PrimaryKeyConstraint('id', name='pk_sync_revisions'),
    )
    op.create_index('ix_sync_revisions_record', 'sync_revisions', ['table_name', 'record_id', 'id'])

    op.create_table('sync_quarantine',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('table_name', sa.String(100), nullable=False),
    sa.Column('record_id', sa.String(100), nullable=False),
    sa.Column('visit_id', sa.UUID(), nullable=True),
    sa.Column('op', sa.String(10), nullable=False),
    sa.Column('raw', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('errors', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('user_id', sa.UUID(), nullable=False),
    sa.Column('device_id', sa.UUID(), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('status', sa.String(20), server_default='pending', nullable=False),
    sa.Column('resolved_by_id', sa.UUID(), nullable=True),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolution', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.CheckConstraint("status in ('pending', 'accepted', 'fixed', 'discarded')",
                       name='ck_sync_quarantine_status'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name='fk_sync_quarantine_user_id_users'),
    sa.PrimaryKeyConstraint('id', name='pk_sync_quarantine'),
    )
    op.create_index('ix_sync_quarantine_status', 'sync_quarantine', ['status', 'received_at'])
    op.create_index('ix_sync_quarantine_visit_id', 'sync_quarantine', ['visit_id'])
    op.create_index('ix_sync_quarantine_user_id', 'sync_quarantine', ['user_id'])

    op.create_table('sync_idempotency',
    sa.Column('device_id', sa.UUID(), nullable=False),
    sa.Column('key', sa.String(200), nullable=False),
    sa.Column('request_hash', sa.String(64), nullable=False),
    sa.Column('status', sa.Integer(), nullable=False),
    sa.Column('body', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('device_id', 'key', name='pk_sync_idempotency'),
    )

    op.create_table('sync_scope_changes',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('kind', sa.String(20), nullable=False),
    sa.Column('user_id', sa.UUID(), nullable=True),
    sa.Column('team_id', sa.UUID(), nullable=True),
    sa.Column('visit_id', sa.UUID(), nullable=True),
    sa.Column('old_team_id', sa.UUID(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    _xid(),
    sa.PrimaryKeyConstraint('id', name='pk_sync_scope_changes'),
    )
    op.create_index('ix_sync_scope_changes_change_xid', 'sync_scope_changes', ['change_xid'])

    # Scope changes are logged by the database itself, so no writer (REST, CLI, SQL) can
    # forget them: a pull reads the log to send gained visits whole and lost ones as deleted.
    op.execute("""
        create function sync_log_membership() returns trigger language plpgsql as $$
        begin
            if tg_op = 'INSERT' then
                insert into sync_scope_changes (kind, user_id, team_id)
                values ('member_added', new.user_id, new.team_id);
                return new;
            end if;
            insert into sync_scope_changes (kind, user_id, team_id)
            values ('member_removed', old.user_id, old.team_id);
            return old;
        end $$;
        create function sync_log_visit_team() returns trigger language plpgsql as $$
        begin
            if old.team_id is distinct from new.team_id then
                insert into sync_scope_changes (kind, visit_id, team_id, old_team_id)
                values ('visit_moved', new.id, new.team_id, old.team_id);
            end if;
            return new;
        end $$;
        create trigger team_members_sync_scope after insert or delete on team_members
            for each row execute function sync_log_membership();
        create trigger visits_sync_scope after update of team_id on visits
            for each row execute function sync_log_visit_team();
    """)


def downgrade() -> None:
    op.execute("drop trigger if exists visits_sync_scope on visits")
    op.execute("drop trigger if exists team_members_sync_scope on team_members")
    op.execute("drop function if exists sync_log_visit_team()")
    op.execute("drop function if exists sync_log_membership()")
    op.drop_index('ix_sync_scope_changes_change_xid', table_name='sync_scope_changes')
    op.drop_table('sync_scope_changes')
    op.drop_table('sync_idempotency')
    op.drop_index('ix_sync_quarantine_user_id', table_name='sync_quarantine')
    op.drop_index('ix_sync_quarantine_visit_id', table_name='sync_quarantine')
    op.drop_index('ix_sync_quarantine_status', table_name='sync_quarantine')
    op.drop_table('sync_quarantine')
    op.drop_index('ix_sync_revisions_record', table_name='sync_revisions')
    op.drop_table('sync_revisions')
    op.drop_index('ix_sync_tombstones_change_xid', table_name='sync_tombstones')
    op.drop_table('sync_tombstones')
    for table in SYNCED:
        op.drop_column(table, 'created_xid')

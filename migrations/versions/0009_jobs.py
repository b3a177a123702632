"""background jobs

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02

The job queue on the service's own PostgreSQL: procrastinate's schema (vendored SQL of the
pinned version, so a database built today and one migrated later hold the same tables), the
errors of failed job attempts (procrastinate keeps none), and photo verification off the
request path: an upload whose bytes are all staged is `processing` until its job files it,
and the photo record says `processing` meanwhile.
"""

from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PROCRASTINATE_SQL = Path(__file__).resolve().parent.parent / "sql" / "procrastinate-3.10.0.sql"

STATUS_FUNCTION = """
    create or replace function photo_upload_status(p_id uuid, p_sha text, p_visit uuid)
    returns text language sql stable as $$
        select case
            when bool_or(u.state = 'complete' and u.actual_sha256 = lower(p_sha)
                         and b.status = 'ok') then 'verified'
            when bool_or(u.state = 'complete' and u.actual_sha256 = lower(p_sha)
                         and b.status = 'rejected') then 'rejected'
            when bool_or(u.state = 'processing') then 'processing'
            when bool_or(u.state = 'complete') then 'hash_mismatch'
        end
        from uploads u
        left join blobs b on b.sha256 = u.actual_sha256
        where u.photo_id = p_id and u.state in ('complete', 'processing')
          and (exists (select 1 from users a where a.id = u.user_id and a.role = 'admin')
               or exists (select 1 from visits v
                          join team_members tm on tm.team_id = v.team_id
                          where v.id = p_visit and tm.user_id = u.user_id))
    $$;
"""

OLD_STATUS_FUNCTION = """
    create or replace function photo_upload_status(p_id uuid, p_sha text, p_visit uuid)
    returns text language sql stable as $$
        select case
            when bool_or(u.actual_sha256 = lower(p_sha) and b.status = 'ok') then 'verified'
            when bool_or(u.actual_sha256 = lower(p_sha) and b.status = 'rejected')
                then 'rejected'
            when count(*) > 0 then 'hash_mismatch'
        end
        from uploads u
        left join blobs b on b.sha256 = u.actual_sha256
        where u.photo_id = p_id and u.state = 'complete'
          and (exists (select 1 from users a where a.id = u.user_id and a.role = 'admin')
               or exists (select 1 from visits v
                          join team_members tm on tm.team_id = v.team_id
                          where v.id = p_visit and tm.user_id = u.user_id))
    $$;
"""


def upgrade() -> None:
    # Through the driver as one script; "%" doubled because psycopg reads placeholders.
    op.get_bind().exec_driver_sql(PROCRASTINATE_SQL.read_text(encoding="utf-8").replace("%", "%%"))
    op.create_table(
        'job_failures',
        sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column('job_id', sa.BigInteger(), nullable=False),
        sa.Column('task_name', sa.String(length=128), nullable=False),
        sa.Column('attempt', sa.Integer(), nullable=False),
        sa.Column('error', sa.Text(), nullable=False),
        sa.Column('traceback', sa.Text(), nullable=False),
        sa.Column('will_retry', sa.Boolean(), nullable=False),
        sa.Column('worker', sa.String(length=200), nullable=True),
        sa.Column('failed_at', sa.DateTime(timezone=True), server_default=sa.text('now()'),
                  nullable=False),
        sa.ForeignKeyConstraint(['job_id'], ['procrastinate_jobs.id'],
                                name=op.f('fk_job_failures_job_id_procrastinate_jobs'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_job_failures')),
    )
    op.create_index('ix_job_failures_job_id', 'job_failures', ['job_id', 'id'], unique=False)
    op.drop_constraint(op.f('ck_uploads_state'), 'uploads', type_='check')
    op.create_check_constraint(
        op.f('ck_uploads_state'), 'uploads',
        "state in ('open', 'processing', 'complete', 'terminated', 'expired')")
    op.create_index('ix_uploads_processing', 'uploads', ['updated_at'], unique=False,
                    postgresql_where=sa.text("state = 'processing'"))
    op.drop_constraint(op.f('ck_photos_upload_status'), 'photos', type_='check')
    op.create_check_constraint(
        op.f('ck_photos_upload_status'), 'photos',
        "upload_status in ('pending', 'processing', 'verified', 'hash_mismatch', 'rejected')")
    op.execute(STATUS_FUNCTION)


def downgrade() -> None:
    op.execute(OLD_STATUS_FUNCTION)
    op.execute("update photos set upload_status = 'pending' where upload_status = 'processing'")
    op.drop_constraint(op.f('ck_photos_upload_status'), 'photos', type_='check')
    op.create_check_constraint(
        op.f('ck_photos_upload_status'), 'photos',
        "upload_status in ('pending', 'verified', 'hash_mismatch', 'rejected')")
    op.drop_index('ix_uploads_processing', table_name='uploads')
    op.execute("update uploads set state = 'expired' where state = 'processing'")
    op.drop_constraint(op.f('ck_uploads_state'), 'uploads', type_='check')
    op.create_check_constraint(
        op.f('ck_uploads_state'), 'uploads',
        "state in ('open', 'complete', 'terminated', 'expired')")
    op.drop_index('ix_job_failures_job_id', table_name='job_failures')
    op.drop_table('job_failures')
    for statement in (
        "drop table if exists procrastinate_events, procrastinate_periodic_defers, "
        "procrastinate_jobs, procrastinate_workers cascade",
        "drop type if exists procrastinate_job_to_defer_v1 cascade",
        "drop type if exists procrastinate_job_event_type cascade",
        "drop type if exists procrastinate_job_status cascade",
    ):
        op.execute(statement)
    op.execute("""
        do $$ declare f record; begin
            for f in select p.oid::regprocedure as sig from pg_proc p
                     join pg_namespace n on n.oid = p.pronamespace
                     where n.nspname = current_schema() and p.proname like 'procrastinate%'
            loop execute 'drop function if exists ' || f.sig || ' cascade'; end loop;
        end $$;
    """)

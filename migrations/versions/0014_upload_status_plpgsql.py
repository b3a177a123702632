"""photo_upload_status in PL/pgSQL, so that its query stays planned per connection

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03

`photo_upload_status` was a SQL function. Its body (an aggregate over the photo's uploads)
cannot be inlined, and PostgreSQL 15 plans such a function's query afresh for every
statement that calls it: 0.7-1.3 ms a call, measured inside an upload's transaction.
Re-deriving a photo's status calls it three times (the UPDATE's value, its WHERE, the
`photos_upload_join` trigger), i.e. about 3 ms of an upload's 9 ms of SQL. The same query
in PL/pgSQL is prepared once per connection and reused. The body and the result are
unchanged.
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

QUERY = """
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
                          where v.id = p_visit and tm.user_id = u.user_id))"""


def upgrade() -> None:
    # Same signature and return type: CREATE OR REPLACE may change the language in place.
    op.execute(f"""
        create or replace function photo_upload_status(p_id uuid, p_sha text, p_visit uuid)
        returns text language plpgsql stable as $$
        begin
            return ({QUERY});
        end $$;
    """)


def downgrade() -> None:
    op.execute(f"""
        create or replace function photo_upload_status(p_id uuid, p_sha text, p_visit uuid)
        returns text language sql stable as $${QUERY}
        $$;
    """)

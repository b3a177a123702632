"""cheaper photo triggers: the upload join's fast path, the custody entry per statement

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03

`photos_upload_join` (before insert or update on photos) called the SQL function
`photo_upload_status` for every row. PostgreSQL 15 plans a non-inlined SQL function on each
call (~30 µs), although for almost every new photo record there is no upload of it yet and
the answer is NULL ('pending'). The trigger now asks first, with a statement PL/pgSQL keeps
planned, whether any upload of the photo is complete or processing; only then does it call
the function. The result is the same for every row: with no such upload, the function's
aggregate over no rows is NULL, which the trigger turns into 'pending' as before.

`photos_custody_captured` wrote each new photo's 'captured' custody entry from a row trigger
(one INSERT per photo, ~30 µs each). It is now a statement trigger over the statement's new
rows (a transition table): one INSERT for all of them, with the same values.
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("""
        drop trigger photos_custody_captured on photos;
        create or replace function photos_custody_captured() returns trigger
        language plpgsql as $$
        begin
            insert into photo_custody (photo_id, event, occurred_at, sha256, details)
            select a.id, 'captured', coalesce(a.captured_at, now()), lower(a.sha256),
                   jsonb_build_object('source', 'photo record', 'byte_size', a.byte_size,
                                      'visit_id', a.visit_id)
            from added a;
            return null;
        end $$;
        create trigger photos_custody_captured after insert on photos
            referencing new table as added for each statement
            execute function photos_custody_captured();

        create or replace function photos_upload_join() returns trigger language plpgsql as $$
        begin
            if tg_op = 'UPDATE' and old.upload_status = 'verified'
               and lower(new.sha256) = lower(old.sha256) then
                new.upload_status := 'verified';
            elsif not exists (select 1 from uploads u where u.photo_id = new.id
                              and u.state in ('complete', 'processing')) then
                new.upload_status := 'pending';
            else
                new.upload_status := coalesce(
                    photo_upload_status(new.id, new.sha256, new.visit_id), 'pending');
            end if;
            return new;
        end $$;
    """)


def downgrade() -> None:
    op.execute("""
        drop trigger photos_custody_captured on photos;
        create or replace function photos_custody_captured() returns trigger
        language plpgsql as $$
        begin
            insert into photo_custody (photo_id, event, occurred_at, sha256, details)
            values (new.id, 'captured', coalesce(new.captured_at, now()), lower(new.sha256),
                    jsonb_build_object('source', 'photo record', 'byte_size', new.byte_size,
                                       'visit_id', new.visit_id));
            return null;
        end $$;
        create trigger photos_custody_captured after insert on photos
            for each row execute function photos_custody_captured();

        create or replace function photos_upload_join() returns trigger language plpgsql as $$
        begin
            if tg_op = 'UPDATE' and old.upload_status = 'verified'
               and lower(new.sha256) = lower(old.sha256) then
                new.upload_status := 'verified';
            else
                new.upload_status := coalesce(
                    photo_upload_status(new.id, new.sha256, new.visit_id), 'pending');
            end if;
            return new;
        end $$;
    """)

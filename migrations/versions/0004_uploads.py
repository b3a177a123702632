"""uploads

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29

Photo bytes: tus uploads with their offsets and staging state, blobs stored under their
SHA-256 with what inspecting them found (format, EXIF), derivatives, and the per-photo
custody log. The `photos` record (synced) and its upload meet by photo_id and sha256 in
either order: a trigger on `photos` derives `upload_status` from the completed uploads, so
the generic sync engine needs to know nothing about uploads.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geography
from sqlalchemy.dialects import postgresql

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('uploads',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('photo_id', sa.UUID(), nullable=False),
    sa.Column('declared_sha256', sa.String(length=64), nullable=False),
    sa.Column('length', sa.BigInteger(), nullable=False),
    sa.Column('offset', sa.BigInteger(), nullable=False),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('staging', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('meta', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('user_id', sa.UUID(), nullable=False),
    sa.Column('device_id', sa.UUID(), nullable=True),
    sa.Column('actual_sha256', sa.String(length=64), nullable=True),
    sa.Column('outcome', sa.String(length=16), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('quarantine_key', sa.Text(), nullable=True),
    sa.Column('deduplicated', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("state in ('open', 'complete', 'terminated', 'expired')", name=op.f('ck_uploads_state')),
    sa.CheckConstraint("outcome is null or outcome in ('verified', 'hash_mismatch', 'rejected')", name=op.f('ck_uploads_outcome')),
    sa.CheckConstraint('"offset" >= 0 and "offset" <= length', name=op.f('ck_uploads_offset_range')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_uploads_user_id_users')),
    sa.ForeignKeyConstraint(['device_id'], ['devices.id'], name=op.f('fk_uploads_device_id_devices')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_uploads'))
    )
    op.create_index('ix_uploads_photo_id', 'uploads', ['photo_id'], unique=False)
    op.create_index('ix_uploads_expires_open', 'uploads', ['expires_at'], unique=False,
                    postgresql_where=sa.text("state = 'open'"))
    op.create_geospatial_table('blobs',
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('byte_size', sa.BigInteger(), nullable=False),
    sa.Column('storage_key', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('mime_type', sa.String(length=40), nullable=True),
    sa.Column('width', sa.Integer(), nullable=True),
    sa.Column('height', sa.Integer(), nullable=True),
    sa.Column('exif', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('exif_captured_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('exif_location', Geography(geometry_type='POINT', srid=4326, spatial_index=False, from_text='ST_GeogFromText', name='geography'), nullable=True),
    sa.Column('retained_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("status in ('ok', 'rejected')", name=op.f('ck_blobs_status')),
    sa.PrimaryKeyConstraint('sha256', name=op.f('pk_blobs'))
    )
    op.create_table('derivatives',
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('storage_key', sa.Text(), nullable=False),
    sa.Column('mime_type', sa.String(length=40), nullable=False),
    sa.Column('width', sa.Integer(), nullable=False),
    sa.Column('height', sa.Integer(), nullable=False),
    sa.Column('byte_size', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("kind in ('display', 'thumbnail')", name=op.f('ck_derivatives_kind')),
    sa.ForeignKeyConstraint(['sha256'], ['blobs.sha256'], name=op.f('fk_derivatives_sha256_blobs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('sha256', 'kind', name=op.f('pk_derivatives'))
    )
    op.create_table('photo_custody',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('photo_id', sa.UUID(), nullable=False),
    sa.Column('event', sa.String(length=20), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('actor_user_id', sa.UUID(), nullable=True),
    sa.Column('actor_device_id', sa.UUID(), nullable=True),
    sa.Column('upload_id', sa.UUID(), nullable=True),
    sa.Column('sha256', sa.String(length=64), nullable=True),
    sa.Column('details', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.CheckConstraint("event in ('captured', 'upload_started', 'verified', 'hash_mismatch', 'rejected', 'derivative_made', 'viewed', 'exported')", name=op.f('ck_photo_custody_event')),
    sa.ForeignKeyConstraint(['actor_user_id'], ['users.id'], name=op.f('fk_photo_custody_actor_user_id_users')),
    sa.ForeignKeyConstraint(['actor_device_id'], ['devices.id'], name=op.f('fk_photo_custody_actor_device_id_devices')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_photo_custody'))
    )
    op.create_index('ix_photo_custody_photo', 'photo_custody', ['photo_id', 'id'], unique=False)

    # The join of a synced photo record with its upload(s), by photo_id and sha256, in either
    # order. Only uploads by someone on the visit's team (or an admin) count.
    op.execute("""
        create function photo_upload_status(p_id uuid, p_sha text, p_visit uuid)
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
        -- Verification is a fact about bytes already received: a later edit of the record
        -- (caption, finding) keeps it even if the uploader has since left the team. Only a
        -- changed sha256 re-opens the question.
        create function photos_upload_join() returns trigger language plpgsql as $$
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
        create trigger photos_upload_join before insert or update on photos
            for each row execute function photos_upload_join();
        create function photos_custody_captured() returns trigger language plpgsql as $$
        begin
            insert into photo_custody (photo_id, event, occurred_at, sha256, details)
            values (new.id, 'captured', coalesce(new.captured_at, now()), lower(new.sha256),
                    jsonb_build_object('source', 'photo record', 'byte_size', new.byte_size,
                                       'visit_id', new.visit_id));
            return null;
        end $$;
        create trigger photos_custody_captured after insert on photos
            for each row execute function photos_custody_captured();
    """)


def downgrade() -> None:
    op.execute("drop trigger if exists photos_custody_captured on photos")
    op.execute("drop function if exists photos_custody_captured()")
    op.execute("drop trigger if exists photos_upload_join on photos")
    op.execute("drop function if exists photos_upload_join()")
    op.execute("drop function if exists photo_upload_status(uuid, text, uuid)")
    op.drop_index('ix_photo_custody_photo', table_name='photo_custody')
    op.drop_table('photo_custody')
    op.drop_table('derivatives')
    op.drop_geospatial_table('blobs')
    op.drop_index('ix_uploads_expires_open', table_name='uploads')
    op.drop_index('ix_uploads_photo_id', table_name='uploads')
    op.drop_table('uploads')

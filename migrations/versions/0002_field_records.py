"""field_records

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29

Domain records of visits (DOMAIN.md), each stamped with the writing transaction's xid8
for the commit-safe sync cursor.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geography
from sqlalchemy.dialects import postgresql


class XID8(sa.types.UserDefinedType):
    cache_ok = True

    def get_col_spec(self, **kw):
        return "xid8"

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STAMPED = (
    'checklist_templates',
    'checklist_questions',
    'visits',
    'answers',
    'room_inspections',
    'findings',
    'recommendations',
    'recommendation_reviews',
    'photos',
    'access_incidents',
    'interviews',
    'allegations',
)


def upgrade() -> None:
    op.create_table('checklist_templates',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('code', sa.String(length=60), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('facility_types', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('retired_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_by_id', sa.UUID(), nullable=True),
    sa.Column('server_created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('server_updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('change_xid', XID8(), server_default=sa.text('pg_current_xact_id()'), nullable=False),
    sa.CheckConstraint("status in ('draft', 'published', 'retired')", name=op.f('ck_checklist_templates_status')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_checklist_templates_created_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_checklist_templates')),
    sa.UniqueConstraint('code', 'version', name='uq_checklist_templates_code_v')
    )
    op.create_index(op.f('ix_checklist_templates_change_xid'), 'checklist_templates', ['change_xid'], unique=False)
    op.create_table('checklist_questions',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('template_id', sa.UUID(), nullable=False),
    sa.Column('section', sa.String(length=30), nullable=False),
    sa.Column('code', sa.String(length=30), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('text_en', sa.Text(), nullable=False),
    sa.Column('text_ru', sa.Text(), nullable=True),
    sa.Column('text_tg', sa.Text(), nullable=True),
    sa.Column('answer_type', sa.String(length=20), nullable=False),
    sa.Column('options', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('unit', sa.String(length=20), nullable=True),
    sa.Column('standard_refs', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('info_sources', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('compliance', sa.String(length=200), nullable=True),
    sa.Column('indicator', sa.String(length=80), nullable=True),
    sa.Column('server_created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('server_updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('change_xid', XID8(), server_default=sa.text('pg_current_xact_id()'), nullable=False),
    sa.CheckConstraint("answer_type in ('yes_no_partial', 'count', 'measure', 'choice', 'multi_choice', 'date', 'text')", name=op.f('ck_checklist_questions_answer_type')),
    sa.CheckConstraint("section in ('treatment', 'safeguards', 'material_conditions', 'regime_activities', 'health_care', 'personnel', 'women', 'children', 'police_custody')", name=op.f('ck_checklist_questions_section')),
    sa.ForeignKeyConstraint(['template_id'], ['checklist_templates.id'], name=op.f('fk_checklist_questions_template_id_checklist_templates'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_checklist_questions')),
    sa.UniqueConstraint('template_id', 'code', name='uq_checklist_questions_code')
    )
    op.create_index(op.f('ix_checklist_questions_change_xid'), 'checklist_questions', ['change_xid'], unique=False)
    op.create_index(op.f('ix_checklist_questions_indicator'), 'checklist_questions', ['indicator'], unique=False)
    op.create_index(op.f('ix_checklist_questions_template_id'), 'checklist_questions', ['template_id'], unique=False)
    op.create_table('visits',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('facility_id', sa.UUID(), nullable=False),
    sa.Column('template_id', sa.UUID(), nullable=True),
    sa.Column('team_id', sa.UUID(), nullable=True),
    sa.Column('visit_type', sa.String(length=20), nullable=False),
    sa.Column('announced', sa.Boolean(), nullable=False),
    sa.Column('joint_with_ombudsman', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('planned_for', sa.DateTime(timezone=True), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('declared_capacity', sa.Integer(), nullable=True),
    sa.Column('population_total', sa.Integer(), nullable=True),
    sa.Column('population_remand', sa.Integer(), nullable=True),
    sa.Column('population_women', sa.Integer(), nullable=True),
    sa.Column('population_minors', sa.Integer(), nullable=True),
    sa.Column('population_foreigners', sa.Integer(), nullable=True),
    sa.Column('population_source', sa.String(length=20), nullable=True),
    sa.Column('summary', sa.Text(), nullable=True),
    sa.Column('created_by_id', sa.UUID(), nullable=True),
    sa.Column('server_created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('server_updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('change_xid', XID8(), server_default=sa.text('pg_current_xact_id()'), nullable=False),
    sa.CheckConstraint("population_source is null or population_source in ('admin_declared', 'register', 'monitor_count')", name=op.f('ck_visits_population_source')),
    sa.CheckConstraint("status in ('planned', 'in_progress', 'submitted', 'reviewed', 'reported')", name=op.f('ck_visits_status')),
    sa.CheckConstraint("visit_type in ('in_depth', 'thematic', 'follow_up', 'reactive')", name=op.f('ck_visits_visit_type')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_visits_created_by_id_users')),
    sa.ForeignKeyConstraint(['facility_id'], ['facilities.id'], name=op.f('fk_visits_facility_id_facilities')),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_visits_team_id_teams')),
    sa.ForeignKeyConstraint(['template_id'], ['checklist_templates.id'], name=op.f('fk_visits_template_id_checklist_templates')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_visits'))
    )
    op.create_index(op.f('ix_visits_change_xid'), 'visits', ['change_xid'], unique=False)
    op.create_index(op.f('ix_visits_facility_id'), 'visits', ['facility_id'], unique=False)
    op.create_index(op.f('ix_visits_team_id'), 'visits', ['team_id'], unique=False)
    op.create_table('access_incidents',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('visit_id', sa.UUID(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('target', sa.String(length=20), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('minutes_lost', sa.Integer(), nullable=True),
    sa.Column('server_created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('server_updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('change_xid', XID8(), server_default=sa.text('pg_current_xact_id()'), nullable=False),
    sa.CheckConstraint("kind in ('refused', 'delayed', 'restricted')", name=op.f('ck_access_incidents_kind')),
    sa.CheckConstraint("target in ('place', 'person', 'document')", name=op.f('ck_access_incidents_target')),
    sa.ForeignKeyConstraint(['visit_id'], ['visits.id'], name=op.f('fk_access_incidents_visit_id_visits')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_access_incidents'))
    )
    op.create_index(op.f('ix_access_incidents_change_xid'), 'access_incidents', ['change_xid'], unique=False)
    op.create_index(op.f('ix_access_incidents_visit_id'), 'access_incidents', ['visit_id'], unique=False)
    op.create_table('answers',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('visit_id', sa.UUID(), nullable=False),
    sa.Column('question_id', sa.UUID(), nullable=False),
    sa.Column('info_source', sa.String(length=20), nullable=False),
    sa.Column('value', sa.Text(), nullable=True),
    sa.Column('number_value', sa.Double(), nullable=True),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('server_created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('server_updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('change_xid', XID8(), server_default=sa.text('pg_current_xact_id()'), nullable=False),
    sa.CheckConstraint("info_source in ('observation', 'detainee', 'staff', 'management', 'document')", name=op.f('ck_answers_info_source')),
    sa.ForeignKeyConstraint(['question_id'], ['checklist_questions.id'], name=op.f('fk_answers_question_id_checklist_questions')),
    sa.ForeignKeyConstraint(['visit_id'], ['visits.id'], name=op.f('fk_answers_visit_id_visits')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_answers'))
    )
    op.create_index(op.f('ix_answers_change_xid'), 'answers', ['change_xid'], unique=False)
    op.create_index(op.f('ix_answers_question_id'), 'answers', ['question_id'], unique=False)
    op.create_index(op.f('ix_answers_visit_id'), 'answers', ['visit_id'], unique=False)
    op.create_table('interviews',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('visit_id', sa.UUID(), nullable=False),
    sa.Column('interviewee_code', sa.String(length=60), nullable=False),
    sa.Column('category', sa.String(length=20), nullable=False),
    sa.Column('gender', sa.String(length=20), nullable=True),
    sa.Column('age_group', sa.String(length=20), nullable=True),
    sa.Column('is_group', sa.Boolean(), nullable=False),
    sa.Column('consent_to_record', sa.Boolean(), nullable=False),
    sa.Column('consent_to_refer', sa.Boolean(), nullable=False),
    sa.Column('consent_to_publish', sa.Boolean(), nullable=False),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('conducted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('server_created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('server_updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('change_xid', XID8(), server_default=sa.text('pg_current_xact_id()'), nullable=False),
    sa.CheckConstraint("age_group is null or age_group in ('under_14', '14_17', '18_24', '25_39', '40_59', '60_plus', 'unknown')", name=op.f('ck_interviews_age_group')),
    sa.CheckConstraint("category in ('detainee', 'staff', 'management', 'medical', 'relative')", name=op.f('ck_interviews_category')),
    sa.CheckConstraint("gender is null or gender in ('female', 'male', 'other', 'undisclosed')", name=op.f('ck_interviews_gender')),
    sa.ForeignKeyConstraint(['visit_id'], ['visits.id'], name=op.f('fk_interviews_visit_id_visits')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_interviews'))
    )
    op.create_index(op.f('ix_interviews_change_xid'), 'interviews', ['change_xid'], unique=False)
    op.create_index(op.f('ix_interviews_visit_id'), 'interviews', ['visit_id'], unique=False)
    op.create_table('room_inspections',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('visit_id', sa.UUID(), nullable=False),
    sa.Column('label', sa.String(length=200), nullable=False),
    sa.Column('room_kind', sa.String(length=30), nullable=False),
    sa.Column('floor_area_m2', sa.Double(), nullable=True),
    sa.Column('occupants', sa.Integer(), nullable=True),
    sa.Column('beds', sa.Integer(), nullable=True),
    sa.Column('ceiling_height_m', sa.Double(), nullable=True),
    sa.Column('toilet_partitioned', sa.Boolean(), nullable=True),
    sa.Column('natural_light', sa.String(length=20), nullable=True),
    sa.Column('ventilation', sa.String(length=20), nullable=True),
    sa.Column('temperature_c', sa.Double(), nullable=True),
    sa.Column('inspected_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('server_created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('server_updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('change_xid', XID8(), server_default=sa.text('pg_current_xact_id()'), nullable=False),
    sa.CheckConstraint("natural_light is null or natural_light in ('adequate', 'insufficient', 'none')", name=op.f('ck_room_inspections_natural_light')),
    sa.CheckConstraint("room_kind in ('cell', 'dormitory', 'disciplinary_cell', 'medical', 'visiting', 'other')", name=op.f('ck_room_inspections_room_kind')),
    sa.CheckConstraint("ventilation is null or ventilation in ('adequate', 'insufficient', 'none')", name=op.f('ck_room_inspections_ventilation')),
    sa.ForeignKeyConstraint(['visit_id'], ['visits.id'], name=op.f('fk_room_inspections_visit_id_visits')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_room_inspections'))
    )
    op.create_index(op.f('ix_room_inspections_change_xid'), 'room_inspections', ['change_xid'], unique=False)
    op.create_index(op.f('ix_room_inspections_visit_id'), 'room_inspections', ['visit_id'], unique=False)
    op.create_table('allegations',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('visit_id', sa.UUID(), nullable=False),
    sa.Column('interview_id', sa.UUID(), nullable=True),
    sa.Column('alleged_when', sa.String(length=200), nullable=True),
    sa.Column('place_description', sa.Text(), nullable=True),
    sa.Column('alleged_unit', sa.String(length=300), nullable=True),
    sa.Column('methods', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('injuries_observed', sa.Text(), nullable=True),
    sa.Column('medical_exam_requested', sa.Boolean(), nullable=False),
    sa.Column('istanbul_consistency', sa.String(length=30), nullable=True),
    sa.Column('consent_legal_aid', sa.Boolean(), nullable=False),
    sa.Column('consent_prosecutor', sa.Boolean(), nullable=False),
    sa.Column('consent_publication', sa.Boolean(), nullable=False),
    sa.Column('reprisal_risk', sa.String(length=10), nullable=True),
    sa.Column('narrative', sa.Text(), nullable=True),
    sa.Column('server_created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('server_updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('change_xid', XID8(), server_default=sa.text('pg_current_xact_id()'), nullable=False),
    sa.CheckConstraint("istanbul_consistency is null or istanbul_consistency in ('not_consistent', 'consistent', 'highly_consistent', 'typical', 'diagnostic')", name=op.f('ck_allegations_istanbul_consistency')),
    sa.CheckConstraint("reprisal_risk is null or reprisal_risk in ('low', 'medium', 'high')", name=op.f('ck_allegations_reprisal_risk')),
    sa.ForeignKeyConstraint(['interview_id'], ['interviews.id'], name=op.f('fk_allegations_interview_id_interviews')),
    sa.ForeignKeyConstraint(['visit_id'], ['visits.id'], name=op.f('fk_allegations_visit_id_visits')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_allegations'))
    )
    op.create_index(op.f('ix_allegations_change_xid'), 'allegations', ['change_xid'], unique=False)
    op.create_index(op.f('ix_allegations_visit_id'), 'allegations', ['visit_id'], unique=False)
    op.create_table('findings',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('visit_id', sa.UUID(), nullable=False),
    sa.Column('theme', sa.String(length=30), nullable=False),
    sa.Column('severity', sa.String(length=20), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('standard_refs', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('question_id', sa.UUID(), nullable=True),
    sa.Column('room_inspection_id', sa.UUID(), nullable=True),
    sa.Column('is_systemic', sa.Boolean(), nullable=False),
    sa.Column('sources_count', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('confirmed_by_id', sa.UUID(), nullable=True),
    sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('server_created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('server_updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('change_xid', XID8(), server_default=sa.text('pg_current_xact_id()'), nullable=False),
    sa.CheckConstraint("severity in ('critical_urgent', 'serious', 'moderate', 'minor', 'good_practice')", name=op.f('ck_findings_severity')),
    sa.CheckConstraint("status in ('draft', 'confirmed', 'withdrawn')", name=op.f('ck_findings_status')),
    sa.CheckConstraint("theme in ('treatment', 'safeguards', 'material_conditions', 'regime_activities', 'health_care', 'personnel', 'women', 'children', 'police_custody')", name=op.f('ck_findings_theme')),
    sa.ForeignKeyConstraint(['confirmed_by_id'], ['users.id'], name=op.f('fk_findings_confirmed_by_id_users')),
    sa.ForeignKeyConstraint(['question_id'], ['checklist_questions.id'], name=op.f('fk_findings_question_id_checklist_questions')),
    sa.ForeignKeyConstraint(['room_inspection_id'], ['room_inspections.id'], name=op.f('fk_findings_room_inspection_id_room_inspections')),
    sa.ForeignKeyConstraint(['visit_id'], ['visits.id'], name=op.f('fk_findings_visit_id_visits')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_findings'))
    )
    op.create_index(op.f('ix_findings_change_xid'), 'findings', ['change_xid'], unique=False)
    op.create_index(op.f('ix_findings_visit_id'), 'findings', ['visit_id'], unique=False)
    op.create_geospatial_table('photos',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('visit_id', sa.UUID(), nullable=False),
    sa.Column('finding_id', sa.UUID(), nullable=True),
    sa.Column('room_inspection_id', sa.UUID(), nullable=True),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('byte_size', sa.BigInteger(), nullable=False),
    sa.Column('mime_type', sa.String(length=40), nullable=True),
    sa.Column('captured_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('location', Geography(geometry_type='POINT', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeogFromText', name='geography'), nullable=True),
    sa.Column('caption', sa.Text(), nullable=True),
    sa.Column('consent', sa.String(length=20), nullable=True),
    sa.Column('upload_status', sa.String(length=20), server_default='pending', nullable=False),
    sa.Column('server_created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('server_updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('change_xid', XID8(), server_default=sa.text('pg_current_xact_id()'), nullable=False),
    sa.CheckConstraint("consent is null or consent in ('not_needed', 'obtained')", name=op.f('ck_photos_consent')),
    sa.CheckConstraint("mime_type is null or mime_type in ('image/jpeg', 'image/png', 'image/webp', 'image/heic')", name=op.f('ck_photos_mime_type')),
    sa.CheckConstraint("upload_status in ('pending', 'verified', 'hash_mismatch', 'rejected')", name=op.f('ck_photos_upload_status')),
    sa.ForeignKeyConstraint(['finding_id'], ['findings.id'], name=op.f('fk_photos_finding_id_findings')),
    sa.ForeignKeyConstraint(['room_inspection_id'], ['room_inspections.id'], name=op.f('fk_photos_room_inspection_id_room_inspections')),
    sa.ForeignKeyConstraint(['visit_id'], ['visits.id'], name=op.f('fk_photos_visit_id_visits')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_photos'))
    )
    op.create_index(op.f('ix_photos_change_xid'), 'photos', ['change_xid'], unique=False)
    op.create_index(op.f('ix_photos_sha256'), 'photos', ['sha256'], unique=False)
    op.create_index(op.f('ix_photos_visit_id'), 'photos', ['visit_id'], unique=False)
    op.create_table('recommendations',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('facility_id', sa.UUID(), nullable=True),
    sa.Column('visit_id', sa.UUID(), nullable=True),
    sa.Column('finding_id', sa.UUID(), nullable=True),
    sa.Column('theme', sa.String(length=30), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('addressed_to', sa.String(length=40), nullable=False),
    sa.Column('priority', sa.String(length=20), nullable=True),
    sa.Column('due_date', sa.DateTime(timezone=True), nullable=True),
    sa.Column('repeats_id', sa.UUID(), nullable=True),
    sa.Column('server_created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('server_updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('change_xid', XID8(), server_default=sa.text('pg_current_xact_id()'), nullable=False),
    sa.CheckConstraint("addressed_to in ('ministry_of_justice', 'ministry_of_interior', 'state_security', 'ministry_of_defence', 'ministry_of_health_social', 'ministry_of_education', 'drug_control_agency', 'other')", name=op.f('ck_recommendations_addressed_to')),
    sa.CheckConstraint("priority is null or priority in ('urgent', 'high', 'medium', 'low')", name=op.f('ck_recommendations_priority')),
    sa.CheckConstraint("theme in ('treatment', 'safeguards', 'material_conditions', 'regime_activities', 'health_care', 'personnel', 'women', 'children', 'police_custody')", name=op.f('ck_recommendations_theme')),
    sa.ForeignKeyConstraint(['facility_id'], ['facilities.id'], name=op.f('fk_recommendations_facility_id_facilities')),
    sa.ForeignKeyConstraint(['finding_id'], ['findings.id'], name=op.f('fk_recommendations_finding_id_findings')),
    sa.ForeignKeyConstraint(['repeats_id'], ['recommendations.id'], name=op.f('fk_recommendations_repeats_id_recommendations')),
    sa.ForeignKeyConstraint(['visit_id'], ['visits.id'], name=op.f('fk_recommendations_visit_id_visits')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_recommendations'))
    )
    op.create_index(op.f('ix_recommendations_change_xid'), 'recommendations', ['change_xid'], unique=False)
    op.create_index(op.f('ix_recommendations_facility_id'), 'recommendations', ['facility_id'], unique=False)
    op.create_index(op.f('ix_recommendations_repeats_id'), 'recommendations', ['repeats_id'], unique=False)
    op.create_index(op.f('ix_recommendations_visit_id'), 'recommendations', ['visit_id'], unique=False)
    op.create_table('recommendation_reviews',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('recommendation_id', sa.UUID(), nullable=False),
    sa.Column('visit_id', sa.UUID(), nullable=True),
    sa.Column('status', sa.String(length=30), nullable=False),
    sa.Column('evidence', sa.Text(), nullable=True),
    sa.Column('reviewed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('server_created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('server_updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('change_xid', XID8(), server_default=sa.text('pg_current_xact_id()'), nullable=False),
    sa.CheckConstraint("status in ('implemented', 'partially_implemented', 'not_implemented', 'counteracted', 'no_longer_relevant')", name=op.f('ck_recommendation_reviews_status')),
    sa.ForeignKeyConstraint(['recommendation_id'], ['recommendations.id'], name=op.f('fk_recommendation_reviews_recommendation_id_recommendations')),
    sa.ForeignKeyConstraint(['visit_id'], ['visits.id'], name=op.f('fk_recommendation_reviews_visit_id_visits')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_recommendation_reviews'))
    )
    op.create_index(op.f('ix_recommendation_reviews_change_xid'), 'recommendation_reviews', ['change_xid'], unique=False)
    op.create_index(op.f('ix_recommendation_reviews_recommendation_id'), 'recommendation_reviews', ['recommendation_id'], unique=False)
    op.create_index(op.f('ix_recommendation_reviews_visit_id'), 'recommendation_reviews', ['visit_id'], unique=False)
    op.add_column('facilities', sa.Column('change_xid', XID8(), server_default=sa.text('pg_current_xact_id()'), nullable=False))
    op.create_index(op.f('ix_facilities_change_xid'), 'facilities', ['change_xid'], unique=False)

    # Every write stamps the row with its transaction id (the sync cursor) and the server time.
    op.execute("""
        create function sync_stamp() returns trigger language plpgsql as $$
        begin
            new.change_xid := pg_current_xact_id();
            new.server_updated_at := now();
            if tg_op = 'INSERT' then
                new.server_created_at := now();
            end if;
            return new;
        end $$;
        create function sync_stamp_xid() returns trigger language plpgsql as $$
        begin
            new.change_xid := pg_current_xact_id();
            return new;
        end $$;
    """)
    for table in STAMPED:
        op.execute(f"create trigger {table}_sync_stamp before insert or update on {table} "
                   "for each row execute function sync_stamp()")
    op.execute("create trigger facilities_sync_stamp before insert or update on facilities "
               "for each row execute function sync_stamp_xid()")


def downgrade() -> None:
    op.execute("drop trigger if exists facilities_sync_stamp on facilities")
    for table in STAMPED:
        op.execute(f"drop trigger if exists {table}_sync_stamp on {table}")
    op.drop_index(op.f('ix_facilities_change_xid'), table_name='facilities')
    op.drop_column('facilities', 'change_xid')
    op.drop_index(op.f('ix_recommendation_reviews_visit_id'), table_name='recommendation_reviews')
    op.drop_index(op.f('ix_recommendation_reviews_recommendation_id'), table_name='recommendation_reviews')
    op.drop_index(op.f('ix_recommendation_reviews_change_xid'), table_name='recommendation_reviews')
    op.drop_table('recommendation_reviews')
    op.drop_index(op.f('ix_recommendations_visit_id'), table_name='recommendations')
    op.drop_index(op.f('ix_recommendations_repeats_id'), table_name='recommendations')
    op.drop_index(op.f('ix_recommendations_facility_id'), table_name='recommendations')
    op.drop_index(op.f('ix_recommendations_change_xid'), table_name='recommendations')
    op.drop_table('recommendations')
    op.drop_index(op.f('ix_photos_visit_id'), table_name='photos')
    op.drop_index(op.f('ix_photos_sha256'), table_name='photos')
    op.drop_index(op.f('ix_photos_change_xid'), table_name='photos')
    op.drop_geospatial_table('photos')
    op.drop_index(op.f('ix_findings_visit_id'), table_name='findings')
    op.drop_index(op.f('ix_findings_change_xid'), table_name='findings')
    op.drop_table('findings')
    op.drop_index(op.f('ix_allegations_visit_id'), table_name='allegations')
    op.drop_index(op.f('ix_allegations_change_xid'), table_name='allegations')
    op.drop_table('allegations')
    op.drop_index(op.f('ix_room_inspections_visit_id'), table_name='room_inspections')
    op.drop_index(op.f('ix_room_inspections_change_xid'), table_name='room_inspections')
    op.drop_table('room_inspections')
    op.drop_index(op.f('ix_interviews_visit_id'), table_name='interviews')
    op.drop_index(op.f('ix_interviews_change_xid'), table_name='interviews')
    op.drop_table('interviews')
    op.drop_index(op.f('ix_answers_visit_id'), table_name='answers')
    op.drop_index(op.f('ix_answers_question_id'), table_name='answers')
    op.drop_index(op.f('ix_answers_change_xid'), table_name='answers')
    op.drop_table('answers')
    op.drop_index(op.f('ix_access_incidents_visit_id'), table_name='access_incidents')
    op.drop_index(op.f('ix_access_incidents_change_xid'), table_name='access_incidents')
    op.drop_table('access_incidents')
    op.drop_index(op.f('ix_visits_team_id'), table_name='visits')
    op.drop_index(op.f('ix_visits_facility_id'), table_name='visits')
    op.drop_index(op.f('ix_visits_change_xid'), table_name='visits')
    op.drop_table('visits')
    op.drop_index(op.f('ix_checklist_questions_template_id'), table_name='checklist_questions')
    op.drop_index(op.f('ix_checklist_questions_indicator'), table_name='checklist_questions')
    op.drop_index(op.f('ix_checklist_questions_change_xid'), table_name='checklist_questions')
    op.drop_table('checklist_questions')
    op.drop_index(op.f('ix_checklist_templates_change_xid'), table_name='checklist_templates')
    op.drop_table('checklist_templates')
    op.execute("drop function if exists sync_stamp()")
    op.execute("drop function if exists sync_stamp_xid()")

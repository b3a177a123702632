"""condition histories

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02

Publication of visits (`visits.published_at`), the versioned living-space thresholds (data,
cited), and the per-visit indicator rows the condition histories read. Indicators are filled
by `monitor-api rebuild-indicators` (run by `monitor-api migrate`) and kept current by the
writes that change a visit's records.
"""

from collections.abc import Sequence
from datetime import date

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

THRESHOLDS = [
    ("tj_law", 1, 4.0, 4.0, "Tajik law: 4 m² of living space per prisoner",
     "Criminal Executive Code of the Republic of Tajikistan: at least 4 m² of living space "
     "per convicted prisoner (floor area without the sanitary annex).", date(2001, 8, 6)),
    ("cpt", 1, 4.0, 6.0, "CPT: 4 m² per prisoner in a shared cell, 6 m² in a single cell",
     "European Committee for the Prevention of Torture, 'Living space per prisoner in prison "
     "establishments: CPT standards', CPT/Inf (2015) 44: minimum 6 m² for a single-occupancy "
     "cell and 4 m² per prisoner in a multiple-occupancy cell, sanitary annex excluded.",
     date(2015, 12, 15)),
    ("icrc", 1, 3.4, 5.4, "ICRC: 3.4 m² per person in dormitories, 5.4 m² in single cells",
     "ICRC, 'Water, sanitation, hygiene and habitat in prisons: supplementary guidance' "
     "(2012): 3.4 m² per person in shared accommodation (dormitories) and 5.4 m² in a single "
     "cell.", date(2012, 1, 1)),
]


def upgrade() -> None:
    op.add_column('visits', sa.Column('published_at', sa.DateTime(timezone=True),
                                      nullable=True))
    op.create_index('ix_visits_published', 'visits', ['facility_id', 'published_at'],
                    postgresql_where=sa.text('published_at is not null'))
    # Visits already reported before publication existed are the published ones.
    op.execute("update visits set published_at = server_updated_at where status = 'reported'")

    thresholds = op.create_table('space_thresholds',
    sa.Column('id', sa.Integer(), sa.Identity(always=False), nullable=False),
    sa.Column('source', sa.String(20), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('shared_m2', sa.Float(), nullable=False),
    sa.Column('single_m2', sa.Float(), nullable=False),
    sa.Column('title', sa.String(200), nullable=False),
    sa.Column('citation', sa.Text(), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'),
              nullable=False),
    sa.CheckConstraint("source in ('tj_law', 'cpt', 'icrc')", name='ck_space_thresholds_source'),
    sa.CheckConstraint('shared_m2 > 0 and single_m2 > 0', name='ck_space_thresholds_positive'),
    sa.PrimaryKeyConstraint('id', name='pk_space_thresholds'),
    sa.UniqueConstraint('source', 'version', name='uq_space_thresholds_version'),
    )
    op.bulk_insert(thresholds, [
        {"source": s, "version": v, "shared_m2": sh, "single_m2": si, "title": t,
         "citation": c, "valid_from": d} for s, v, sh, si, t, c, d in THRESHOLDS])

    op.create_table('visit_indicators',
    sa.Column('visit_id', sa.UUID(), nullable=False),
    sa.Column('facility_id', sa.UUID(), nullable=False),
    sa.Column('visit_date', sa.Date(), nullable=True),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('population_total', sa.Integer(), nullable=True),
    sa.Column('capacity', sa.Integer(), nullable=True),
    sa.Column('capacity_source', sa.String(20), nullable=True),
    sa.Column('occupancy_rate', sa.Float(), nullable=True),
    sa.Column('rooms_measured', sa.Integer(), nullable=False),
    sa.Column('space_min_m2', sa.Float(), nullable=True),
    sa.Column('space_median_m2', sa.Float(), nullable=True),
    sa.Column('space_thresholds', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('compliance', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('findings', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('access_incidents', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('recommendations', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('computed_at', sa.DateTime(timezone=True), server_default=sa.text('now()'),
              nullable=False),
    sa.ForeignKeyConstraint(['visit_id'], ['visits.id'], ondelete='CASCADE',
                            name='fk_visit_indicators_visit_id_visits'),
    sa.ForeignKeyConstraint(['facility_id'], ['facilities.id'],
                            name='fk_visit_indicators_facility_id_facilities'),
    sa.PrimaryKeyConstraint('visit_id', name='pk_visit_indicators'),
    )
    op.create_index('ix_visit_indicators_facility_id', 'visit_indicators',
                    ['facility_id', 'visit_date'])
    op.create_index('ix_visit_indicators_visit_date', 'visit_indicators', ['visit_date'])
    # Findings are queried by standard across facilities (scenario 7).
    op.create_index('ix_checklist_questions_standard_refs', 'checklist_questions',
                    ['standard_refs'], postgresql_using='gin')


def downgrade() -> None:
    op.drop_index('ix_checklist_questions_standard_refs', table_name='checklist_questions')
    op.drop_table('visit_indicators')
    op.drop_table('space_thresholds')
    op.drop_index('ix_visits_published', table_name='visits')
    op.drop_column('visits', 'published_at')

"""option labels

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02

Labels of choice and multi_choice options in English, Russian and Tajik
(`checklist_questions.option_labels`), which exports show in the language asked for. The
starter checklist (tj-core v1) already loaded into a database gets the labels it now ships
with: translations of its option codes, not a change of what the template asks.
"""

import json
from collections.abc import Sequence
from importlib import resources

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('checklist_questions',
                  sa.Column('option_labels', postgresql.JSONB(astext_type=sa.Text()),
                            nullable=True))
    starter = json.loads(resources.files('monitor_api.checklists').joinpath(
        'data/starter_checklist.json').read_text('utf-8'))
    update = sa.text(
        "update checklist_questions q set option_labels = cast(:labels as jsonb) "
        "from checklist_templates t where t.id = q.template_id and t.code = :template "
        "and t.version = :version and q.code = :code and q.option_labels is null")
    for question in starter['questions']:
        if question.get('option_labels'):
            op.get_bind().execute(update, {
                'labels': json.dumps(question['option_labels'], ensure_ascii=False),
                'template': starter['code'], 'version': starter['version'],
                'code': question['code']})


def downgrade() -> None:
    op.drop_column('checklist_questions', 'option_labels')

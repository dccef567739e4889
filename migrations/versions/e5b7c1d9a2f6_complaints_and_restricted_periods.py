"""complaints register (complaints, complaint_responses) and the restricted-periods calendar (restricted_periods)

Revision ID: e5b7c1d9a2f6
Revises: e8a4c2f6b1d3
Create Date: 2026-12-02 18:13:52.088401

"""
from alembic import op
import sqlalchemy as sa
import portal.db


# revision identifiers, used by Alembic.
revision = 'e5b7c1d9a2f6'
down_revision = 'e8a4c2f6b1d3'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('complaints',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reference', sa.String(length=16), nullable=False),
    sa.Column('agency_id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.Column('collector_id', sa.String(length=60), nullable=True),
    sa.Column('category', sa.String(length=30), nullable=False),
    sa.Column('channel', sa.String(length=20), nullable=False),
    sa.Column('received_on', sa.Date(), nullable=False),
    sa.Column('response_due_on', sa.Date(), nullable=False),
    sa.Column('complainant_name', sa.String(length=100), nullable=True),
    sa.Column('complainant_phone', sa.String(length=20), nullable=True),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('flag_set', sa.Boolean(), nullable=False),
    sa.Column('closed_on', sa.Date(), nullable=True),
    sa.Column('outcome', sa.String(length=20), nullable=True),
    sa.Column('closing_note', sa.Text(), nullable=True),
    sa.Column('created_by_user_id', sa.Integer(), nullable=True),
    sa.Column('closed_by_user_id', sa.Integer(), nullable=True),
    sa.Column('created_at', portal.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('closed_at', portal.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['agency_id'], ['agencies.id'], name=op.f('fk_complaints_agency_id_agencies')),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_complaints_case_id_cases')),
    sa.ForeignKeyConstraint(['closed_by_user_id'], ['users.id'], name=op.f('fk_complaints_closed_by_user_id_users')),
    sa.ForeignKeyConstraint(['created_by_user_id'], ['users.id'], name=op.f('fk_complaints_created_by_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_complaints')),
    sa.UniqueConstraint('reference', name=op.f('uq_complaints_reference'))
    )
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.create_index('ix_complaints_agency_id_received_on', ['agency_id', 'received_on'], unique=False)
        batch_op.create_index('ix_complaints_case_id', ['case_id'], unique=False)
        batch_op.create_index('ix_complaints_closed_on_response_due_on', ['closed_on', 'response_due_on'], unique=False)

    op.create_table('restricted_periods',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('start_on', sa.Date(), nullable=False),
    sa.Column('end_on', sa.Date(), nullable=False),
    sa.Column('planned_end_on', sa.Date(), nullable=False),
    sa.Column('regions', sa.JSON(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('created_by_user_id', sa.Integer(), nullable=True),
    sa.Column('created_at', portal.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ended_by_user_id', sa.Integer(), nullable=True),
    sa.Column('ended_at', portal.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('end_note', sa.Text(), nullable=True),
    sa.CheckConstraint('end_on >= start_on', name=op.f('ck_restricted_periods_ends_after_start')),
    sa.ForeignKeyConstraint(['created_by_user_id'], ['users.id'], name=op.f('fk_restricted_periods_created_by_user_id_users')),
    sa.ForeignKeyConstraint(['ended_by_user_id'], ['users.id'], name=op.f('fk_restricted_periods_ended_by_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_restricted_periods'))
    )
    with op.batch_alter_table('restricted_periods', schema=None) as batch_op:
        batch_op.create_index('ix_restricted_periods_start_on_end_on', ['start_on', 'end_on'], unique=False)

    op.create_table('complaint_responses',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('complaint_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('created_at', portal.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['complaint_id'], ['complaints.id'], name=op.f('fk_complaint_responses_complaint_id_complaints')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_complaint_responses_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_complaint_responses'))
    )
    with op.batch_alter_table('complaint_responses', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_complaint_responses_complaint_id'), ['complaint_id'], unique=False)



def downgrade():
    with op.batch_alter_table('complaint_responses', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_complaint_responses_complaint_id'))

    op.drop_table('complaint_responses')
    with op.batch_alter_table('restricted_periods', schema=None) as batch_op:
        batch_op.drop_index('ix_restricted_periods_start_on_end_on')

    op.drop_table('restricted_periods')
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.drop_index('ix_complaints_closed_on_response_due_on')
        batch_op.drop_index('ix_complaints_case_id')
        batch_op.drop_index('ix_complaints_agency_id_received_on')

    op.drop_table('complaints')

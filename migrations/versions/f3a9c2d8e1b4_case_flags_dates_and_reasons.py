"""case_flags: undated flags hold from before the first contact; a reason for flags set by hand

Revision ID: f3a9c2d8e1b4
Revises: e5a8c3f1d2b4
Create Date: 2026-12-02 18:00:00.000000

"""
import sqlalchemy as sa

import portal.db
from alembic import op

# revision identifiers, used by Alembic.
revision = 'f3a9c2d8e1b4'
down_revision = 'e5a8c3f1d2b4'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('case_flags', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reason', sa.String(length=500), nullable=True))
        batch_op.alter_column('effective_from', existing_type=portal.db.UTCDateTime(timezone=True), nullable=True)
    # Every flag imported so far came from a file without dates, and contract 5.3 reads an undated
    # flag as holding from before the case's first contact (the import time was only a stand-in).
    op.execute("UPDATE case_flags SET effective_from = NULL WHERE source = 'import'")


def downgrade():
    op.execute(
        "UPDATE case_flags SET effective_from = "
        "(SELECT cases.created_at FROM cases WHERE cases.id = case_flags.case_id) WHERE effective_from IS NULL"
    )
    with op.batch_alter_table('case_flags', schema=None) as batch_op:
        batch_op.alter_column('effective_from', existing_type=portal.db.UTCDateTime(timezone=True), nullable=False)
        batch_op.drop_column('reason')

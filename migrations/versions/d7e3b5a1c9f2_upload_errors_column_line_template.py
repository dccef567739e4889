"""upload_errors: the file's own column, the line or sheet row, and a translatable message

Revision ID: d7e3b5a1c9f2
Revises: c4d2a9e1b7f3
Create Date: 2026-12-02 08:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'd7e3b5a1c9f2'
down_revision = 'c4d2a9e1b7f3'
branch_labels = None
depends_on = None


def upgrade():
    # Rows rejected before this change keep their English message: no column, line or template.
    with op.batch_alter_table('upload_errors', schema=None) as batch_op:
        batch_op.add_column(sa.Column('column', sa.String(length=255), server_default='', nullable=False))
        batch_op.add_column(sa.Column('line', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('template', sa.Text(), server_default='', nullable=False))
        batch_op.add_column(sa.Column('params', sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table('upload_errors', schema=None) as batch_op:
        batch_op.drop_column('params')
        batch_op.drop_column('template')
        batch_op.drop_column('line')
        batch_op.drop_column('column')

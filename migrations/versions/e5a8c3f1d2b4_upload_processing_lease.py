"""uploads: a processing lease (owner, expiry) and the attempts made, so a dead worker's upload is retried

Revision ID: e5a8c3f1d2b4
Revises: d7e3b5a1c9f2
Create Date: 2026-12-03 08:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

import portal.db

# revision identifiers, used by Alembic.
revision = 'e5a8c3f1d2b4'
down_revision = 'd7e3b5a1c9f2'
branch_labels = None
depends_on = None


def upgrade():
    # Uploads left `processing` by a worker that died before this change have no lease: the
    # reaper treats one started longer ago than a lease as stranded and retries it.
    with op.batch_alter_table('uploads', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lease_owner', sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column('lease_expires_at', portal.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('attempts', sa.Integer(), server_default='0', nullable=False))
    op.create_index(
        'ix_uploads_unfinished',
        'uploads',
        ['status'],
        unique=False,
        sqlite_where=sa.text("status IN ('queued', 'processing')"),
        postgresql_where=sa.text("status IN ('queued', 'processing')"),
    )


def downgrade():
    op.drop_index(
        'ix_uploads_unfinished',
        table_name='uploads',
        sqlite_where=sa.text("status IN ('queued', 'processing')"),
        postgresql_where=sa.text("status IN ('queued', 'processing')"),
    )
    with op.batch_alter_table('uploads', schema=None) as batch_op:
        batch_op.drop_column('attempts')
        batch_op.drop_column('lease_expires_at')
        batch_op.drop_column('lease_owner')

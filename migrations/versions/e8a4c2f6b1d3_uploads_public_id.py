"""uploads: an opaque public id, what users and clients see instead of the global sequence

Revision ID: e8a4c2f6b1d3
Revises: d7e3b5a1c9f2
Create Date: 2026-12-02 17:40:00.000000

"""
import secrets

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'e8a4c2f6b1d3'
down_revision = 'd7e3b5a1c9f2'
branch_labels = None
depends_on = None

# As portal.db.new_public_id, copied: a migration must not change when the app's code does.
ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"


def _public_id() -> str:
    return "up_" + "".join(secrets.choice(ALPHABET) for _ in range(22))


def upgrade():
    with op.batch_alter_table('uploads', schema=None) as batch_op:
        batch_op.add_column(sa.Column('public_id', sa.String(length=32), nullable=True))
    uploads = sa.table('uploads', sa.column('id', sa.Integer), sa.column('public_id', sa.String))
    connection = op.get_bind()
    ids = connection.execute(sa.select(uploads.c.id).where(uploads.c.public_id.is_(None))).scalars().all()
    for upload_id in ids:
        connection.execute(uploads.update().where(uploads.c.id == upload_id).values(public_id=_public_id()))
    with op.batch_alter_table('uploads', schema=None) as batch_op:
        batch_op.alter_column('public_id', existing_type=sa.String(length=32), nullable=False)
        batch_op.create_unique_constraint(batch_op.f('uq_uploads_public_id'), ['public_id'])


def downgrade():
    with op.batch_alter_table('uploads', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_uploads_public_id'), type_='unique')
        batch_op.drop_column('public_id')

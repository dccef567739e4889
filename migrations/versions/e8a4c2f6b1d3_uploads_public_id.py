"""uploads and findings: an opaque public id, what users and clients see instead of the global sequence

Revision ID: e8a4c2f6b1d3
Revises: f3a9c2d8e1b4
Create Date: 2026-12-02 17:40:00.000000

"""
import secrets

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'e8a4c2f6b1d3'
down_revision = 'f3a9c2d8e1b4'
branch_labels = None
depends_on = None

# As portal.db.new_public_id, copied: a migration must not change when the app's code does.
ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"


# table -> the prefix of its public ids
TABLES = {'uploads': 'up', 'findings': 'fi'}


def _public_id(prefix: str) -> str:
    return prefix + "_" + "".join(secrets.choice(ALPHABET) for _ in range(22))


def upgrade():
    connection = op.get_bind()
    for name, prefix in TABLES.items():
        with op.batch_alter_table(name, schema=None) as batch_op:
            batch_op.add_column(sa.Column('public_id', sa.String(length=32), nullable=True))
        table = sa.table(name, sa.column('id', sa.Integer), sa.column('public_id', sa.String))
        ids = connection.execute(sa.select(table.c.id)).scalars().all()
        for row_id in ids:
            connection.execute(table.update().where(table.c.id == row_id).values(public_id=_public_id(prefix)))
        with op.batch_alter_table(name, schema=None) as batch_op:
            batch_op.alter_column('public_id', existing_type=sa.String(length=32), nullable=False)
            batch_op.create_unique_constraint(batch_op.f(f'uq_{name}_public_id'), ['public_id'])


def downgrade():
    for name in reversed(TABLES):
        with op.batch_alter_table(name, schema=None) as batch_op:
            batch_op.drop_constraint(batch_op.f(f'uq_{name}_public_id'), type_='unique')
            batch_op.drop_column('public_id')

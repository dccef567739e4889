"""audit trail: canonical bytes per event, signed checkpoints, append-only triggers

Revision ID: a1c0de0a0d17
Revises: bffa7e53437e
Create Date: 2026-11-29 02:10:00.000000

"""
from alembic import op
import rfc8785
import sqlalchemy as sa
import portal.db


# revision identifiers, used by Alembic.
revision = 'a1c0de0a0d17'
down_revision = 'bffa7e53437e'
branch_labels = None
depends_on = None

# Frozen copies (a migration must not change when the code does) of portal/audit/models.py's DDL.
REFUSE_CHANGE_FUNCTION = """
CREATE OR REPLACE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION USING
    MESSAGE = TG_OP || ' on ' || TG_TABLE_NAME || ' refused: the audit trail is append-only; '
              || 'record a correcting event instead',
    ERRCODE = 'restrict_violation';
END
$$
"""
APPEND_ONLY_TABLES = ('audit_events', 'audit_checkpoints')
BACKFILL_CHUNK = 5000


def _backfill_canonical():
    """Events written before this revision get the JCS bytes of their leaf object, as record_event now stores them."""
    events = sa.table(
        'audit_events',
        sa.column('seq', sa.Integer()),
        sa.column('occurred_at', portal.db.UTCDateTime()),
        sa.column('actor_user_id', sa.Integer()),
        sa.column('actor_role', sa.String()),
        sa.column('agency_id', sa.Integer()),
        sa.column('source', sa.String()),
        sa.column('ip', sa.String()),
        sa.column('user_agent', sa.String()),
        sa.column('action', sa.String()),
        sa.column('object_type', sa.String()),
        sa.column('object_id', sa.String()),
        sa.column('outcome', sa.String()),
        sa.column('details', sa.JSON()),
        sa.column('canonical', sa.Text()),
    )
    bind = op.get_bind()
    # details are rewritten as their own RFC 8785 text too (what portal.audit.models.CanonicalJSON writes).
    details_text = sa.bindparam('b_details', type_=sa.Text())
    if bind.dialect.name == 'postgresql':
        details_text = sa.cast(details_text, sa.JSON())
    update = (
        events.update()
        .where(events.c.seq == sa.bindparam('b_seq'))
        .values(canonical=sa.bindparam('b_canonical'), details=details_text)
    )
    last = 0
    while True:
        rows = bind.execute(
            sa.select(events).where(events.c.seq > last).order_by(events.c.seq).limit(BACKFILL_CHUNK)
        ).all()
        if not rows:
            return
        values = []
        for row in rows:
            leaf = {
                'seq': row.seq,
                'occurred_at': row.occurred_at.strftime('%Y-%m-%dT%H:%M:%S.%fZ'),
                'actor_user_id': row.actor_user_id,
                'actor_role': row.actor_role,
                'agency_id': row.agency_id,
                'source': row.source,
                'ip': row.ip,
                'user_agent': row.user_agent,
                'action': row.action,
                'object_type': row.object_type,
                'object_id': row.object_id,
                'outcome': row.outcome,
                'details': row.details,
            }
            values.append({
                'b_seq': row.seq,
                'b_canonical': rfc8785.dumps(leaf).decode('utf-8'),
                'b_details': rfc8785.dumps(row.details).decode('utf-8'),
            })
        bind.execute(update, values)
        last = rows[-1].seq


def upgrade():
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('canonical', sa.Text(), nullable=True))
    _backfill_canonical()
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.alter_column('canonical', existing_type=sa.Text(), nullable=False)

    op.create_table('audit_checkpoints',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tree_size', sa.BigInteger(), nullable=False),
    sa.Column('root_hash', sa.String(length=64), nullable=False),
    sa.Column('signed_at', portal.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('key_id', sa.String(length=16), nullable=False),
    sa.Column('public_key', sa.String(length=44), nullable=False),
    sa.Column('signature', sa.String(length=88), nullable=False),
    sa.Column('compact_range', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_checkpoints')),
    sa.UniqueConstraint('tree_size', name=op.f('uq_audit_checkpoints_tree_size'))
    )

    if op.get_bind().dialect.name == 'postgresql':
        op.execute(REFUSE_CHANGE_FUNCTION)
        for table in APPEND_ONLY_TABLES:
            op.execute(
                f'CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON {table} '
                'FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change()'
            )


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        for table in APPEND_ONLY_TABLES:
            op.execute(f'DROP TRIGGER IF EXISTS {table}_append_only ON {table}')
        op.execute('DROP FUNCTION IF EXISTS audit_refuse_change()')
    op.drop_table('audit_checkpoints')
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_column('canonical')

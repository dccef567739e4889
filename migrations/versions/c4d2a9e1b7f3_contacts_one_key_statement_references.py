"""contacts: one key for duplicates and a case's timeline; references checked per statement

Revision ID: c4d2a9e1b7f3
Revises: b2f1e5a7c0de
Create Date: 2026-11-29 04:00:00.000000

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = 'c4d2a9e1b7f3'
down_revision = 'b2f1e5a7c0de'
branch_labels = None
depends_on = None

# Frozen copies (a migration must not change when the code does) of portal/contacts/models.py's DDL.
REFERENCES_CHECK_FUNCTION = """
CREATE OR REPLACE FUNCTION contacts_check_references() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  missing bigint;
BEGIN
  SELECT n.id INTO missing FROM (SELECT DISTINCT case_id AS id FROM new_contacts) n
    WHERE NOT EXISTS (SELECT FROM cases c WHERE c.id = n.id) LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation',
      MESSAGE = format('contacts refer to case %s, which does not exist', missing);
  END IF;
  SELECT n.id INTO missing FROM (SELECT DISTINCT agency_id AS id FROM new_contacts) n
    WHERE NOT EXISTS (SELECT FROM agencies a WHERE a.id = n.id) LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation',
      MESSAGE = format('contacts refer to agency %s, which does not exist', missing);
  END IF;
  SELECT n.id INTO missing FROM (SELECT DISTINCT upload_id AS id FROM new_contacts) n
    WHERE NOT EXISTS (SELECT FROM uploads u WHERE u.id = n.id) LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation',
      MESSAGE = format('contacts refer to upload %s, which does not exist', missing);
  END IF;
  RETURN NULL;
END
$$
"""
KEEP_REFERENCED_FUNCTION = """
CREATE OR REPLACE FUNCTION contacts_keep_referenced() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION USING ERRCODE = 'restrict_violation',
    MESSAGE = TG_OP || ' on ' || TG_TABLE_NAME || ' refused: stored contacts refer to its rows, '
              || 'which are kept (end or deactivate them instead)';
END
$$
"""
REFERENCED_TABLES = ('cases', 'agencies', 'uploads')
FOREIGN_KEYS = (('agency_id', 'agencies'), ('case_id', 'cases'), ('upload_id', 'uploads'))


def upgrade():
    postgresql = op.get_bind().dialect.name == 'postgresql'
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.drop_index('ix_contacts_upload_id_row')
        batch_op.drop_index('ix_contacts_case_id_contacted_at')
        batch_op.drop_constraint('uq_contacts_identity', type_='unique')
        batch_op.create_unique_constraint(
            'uq_contacts_identity', ['case_id', 'contacted_at', 'agency_id', 'channel', 'phone', 'collector_id']
        )
        for column, table in FOREIGN_KEYS:
            batch_op.drop_constraint(f'fk_contacts_{column}_{table}', type_='foreignkey')
    if postgresql:
        op.execute(REFERENCES_CHECK_FUNCTION)
        for operation in ('INSERT', 'UPDATE'):
            op.execute(
                f'CREATE TRIGGER contacts_references_{operation.lower()} AFTER {operation} ON contacts '
                'REFERENCING NEW TABLE AS new_contacts FOR EACH STATEMENT EXECUTE FUNCTION contacts_check_references()'
            )
        op.execute(KEEP_REFERENCED_FUNCTION)
        for table in REFERENCED_TABLES:
            op.execute(
                f'CREATE TRIGGER {table}_keep_referenced BEFORE DELETE OR TRUNCATE OR UPDATE OF id ON {table} '
                'FOR EACH STATEMENT EXECUTE FUNCTION contacts_keep_referenced()'
            )


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        for table in REFERENCED_TABLES:
            op.execute(f'DROP TRIGGER IF EXISTS {table}_keep_referenced ON {table}')
        op.execute('DROP FUNCTION IF EXISTS contacts_keep_referenced()')
        for operation in ('insert', 'update'):
            op.execute(f'DROP TRIGGER IF EXISTS contacts_references_{operation} ON contacts')
        op.execute('DROP FUNCTION IF EXISTS contacts_check_references()')
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        for column, table in FOREIGN_KEYS:
            batch_op.create_foreign_key(f'fk_contacts_{column}_{table}', table, [column], ['id'])
        batch_op.drop_constraint('uq_contacts_identity', type_='unique')
        batch_op.create_unique_constraint(
            'uq_contacts_identity', ['agency_id', 'case_id', 'contacted_at', 'channel', 'phone', 'collector_id']
        )
        batch_op.create_index('ix_contacts_case_id_contacted_at', ['case_id', 'contacted_at'], unique=False)
        batch_op.create_index('ix_contacts_upload_id_row', ['upload_id', 'row'], unique=False)

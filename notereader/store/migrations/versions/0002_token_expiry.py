"""API tokens can expire

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24

Adds ``api_tokens.expires_at`` (NULL = never expires). Existing tokens keep
working as before; a token whose ``expires_at`` has passed is refused with 401.
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('api_tokens') as batch:
        batch.add_column(sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('api_tokens') as batch:
        batch.drop_column('expires_at')

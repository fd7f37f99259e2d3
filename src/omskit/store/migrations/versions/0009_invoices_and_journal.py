"""Invoices and credit notes, their numbering counters per series and year, and the
journal of postings.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-10
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from omskit.store.migrations import names
from omskit.store.types import DecimalText, UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_ID = 128
_TEXT = 500


def upgrade() -> None:
    P, S = names()
    op.create_table(
        f"{P}invoices",
        sa.Column("id", sa.String(_ID), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("number", sa.String(_ID), nullable=False),
        sa.Column("series", sa.String(32), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.String(_ID), nullable=False),
        sa.Column("external_id", sa.String(_ID), nullable=False),
        sa.Column("channel", sa.String(_ID), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("issued_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("issue_date", sa.Date(), nullable=False),
        sa.Column("source", sa.String(_ID), nullable=False),
        sa.Column("shipment_id", sa.String(_ID), nullable=True),
        sa.Column("net", DecimalText(), nullable=False),
        sa.Column("vat", DecimalText(), nullable=False),
        sa.Column("gross", DecimalText(), nullable=False),
        sa.Column("document", _JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{P}invoices")),
        sa.UniqueConstraint("number", name=op.f(f"uq_{P}invoices_number")),
        sa.UniqueConstraint("series", "year", "sequence",
                            name=op.f(f"uq_{P}invoices_series_year_sequence")),
        sa.UniqueConstraint("order_id", "kind", "source",
                            name=op.f(f"uq_{P}invoices_order_id_kind_source")),
        schema=S,
    )
    op.create_index(f"ix_{P}invoices_issue_date", f"{P}invoices", ["issue_date"], schema=S)
    op.create_table(
        f"{P}document_counters",
        sa.Column("series", sa.String(32), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("last_number", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("series", "year", name=op.f(f"pk_{P}document_counters")),
        schema=S,
    )
    op.create_table(
        f"{P}journal_postings",
        sa.Column("seq", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("posting_key", sa.String(_ID), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("posted_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("posted_on", sa.Date(), nullable=False),
        sa.Column("document_number", sa.String(_ID), nullable=False),
        sa.Column("order_id", sa.String(_ID), nullable=False),
        sa.Column("external_id", sa.String(_ID), nullable=False),
        sa.Column("channel", sa.String(_ID), nullable=False),
        sa.Column("account", sa.String(_ID), nullable=False),
        sa.Column("counter_account", sa.String(_ID), nullable=False),
        sa.Column("vat_rate", DecimalText(), nullable=True),
        sa.Column("net", DecimalText(), nullable=False),
        sa.Column("vat", DecimalText(), nullable=False),
        sa.Column("gross", DecimalText(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("reference", sa.String(_TEXT), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f(f"pk_{P}journal_postings")),
        sa.UniqueConstraint("posting_key", name=op.f(f"uq_{P}journal_postings_posting_key")),
        schema=S,
    )
    op.create_index(f"ix_{P}journal_postings_posted_on", f"{P}journal_postings",
                    ["posted_on", "seq"], schema=S)


def downgrade() -> None:
    P, S = names()
    for table in ("journal_postings", "document_counters", "invoices"):
        op.drop_table(f"{P}{table}", schema=S)

"""The members' purchase statistics move from res_partner to loyalty_member_stats.

Up to 18.0.1.0.0 the nightly RFM job stored them in eight columns of
res_partner; the fields are now computed from loyalty_member_stats (a row per
member who bought). Odoo leaves the columns of fields that stopped being stored:
their values are copied into the new table (so that the segments and campaigns
work before the next night's job) and the columns, and the index of the last
purchase date, are dropped.
"""

import logging

from odoo.tools import SQL
from odoo.tools.sql import column_exists

_logger = logging.getLogger(__name__)

COLUMNS = (
    "loyalty_rfm_recency",
    "loyalty_rfm_frequency",
    "loyalty_rfm_monetary",
    "loyalty_last_purchase_date",
    "loyalty_orders_30d",
    "loyalty_orders_90d",
    "loyalty_orders_365d",
    "loyalty_revenue_365d",
)


def migrate(cr, version):
    if not all(column_exists(cr, "res_partner", column) for column in COLUMNS):
        return
    # a row for each partner the job found a purchase for (no date: none)
    cr.execute(
        """
        INSERT INTO loyalty_member_stats
            (partner_id, rfm_recency, rfm_frequency, rfm_monetary,
             last_purchase_date, orders_30d, orders_90d, orders_365d, revenue_365d)
        SELECT id, COALESCE(loyalty_rfm_recency, 0),
               COALESCE(loyalty_rfm_frequency, 0), COALESCE(loyalty_rfm_monetary, 0),
               loyalty_last_purchase_date, COALESCE(loyalty_orders_30d, 0),
               COALESCE(loyalty_orders_90d, 0), COALESCE(loyalty_orders_365d, 0),
               COALESCE(loyalty_revenue_365d, 0)
          FROM res_partner
         WHERE loyalty_last_purchase_date IS NOT NULL
        ON CONFLICT (partner_id) DO NOTHING
        """
    )
    _logger.info("loyalty_crm: purchase statistics of %s members moved", cr.rowcount)
    cr.execute(
        SQL(
            "ALTER TABLE res_partner %s",
            SQL(", ").join(
                SQL("DROP COLUMN %s", SQL.identifier(column)) for column in COLUMNS
            ),
        )
    )

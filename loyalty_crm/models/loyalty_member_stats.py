"""A member's purchase statistics (RFM scores, purchase counts, spend), kept by
the nightly RFM job in a narrow table of their own.

On ``res_partner`` (over a hundred columns and dozens of indexes) the job's
first computation rewrote every member's row: minutes at a million members.
Here a row is a few numbers. ``res.partner`` shows them as its
``loyalty_rfm_*``, ``loyalty_orders_*``, ``loyalty_revenue_365d`` and
``loyalty_last_purchase_date`` fields (see ``res_partner_marketing.py``).

A member has a row once they have bought; no row means no purchase: every
score and count 0 and no date, as the partner's fields show.
"""

from odoo import fields, models


class LoyaltyMemberStats(models.Model):
    _name = "loyalty.member.stats"
    _description = "Member Purchase Statistics"
    _rec_name = "partner_id"
    _order = "partner_id"
    # written only by the nightly job, in SQL: no create/write stamps to keep
    _log_access = False

    partner_id = fields.Many2one(
        "res.partner", string="Member", required=True, ondelete="cascade"
    )
    rfm_recency = fields.Integer(
        string="Recency Score",
        required=True,
        help="1 (longest ago) to 5 (most recent purchase).",
    )
    rfm_frequency = fields.Integer(
        string="Frequency Score",
        required=True,
        help="1 to 5 by number of purchases over the last 365 days; 0: none.",
    )
    rfm_monetary = fields.Integer(
        string="Monetary Score",
        required=True,
        help="1 to 5 by amount spent over the last 365 days; 0: nothing.",
    )
    last_purchase_date = fields.Date(string="Last Purchase", required=True)
    orders_30d = fields.Integer(string="Purchases (30 Days)", required=True)
    orders_90d = fields.Integer(string="Purchases (90 Days)", required=True)
    orders_365d = fields.Integer(string="Purchases (365 Days)", required=True)
    revenue_365d = fields.Float(
        string="Spend (365 Days)", required=True, digits=(16, 2)
    )

    _sql_constraints = [
        (
            "partner_uniq",
            "UNIQUE (partner_id)",
            "A member has one row of purchase statistics.",
        ),
    ]

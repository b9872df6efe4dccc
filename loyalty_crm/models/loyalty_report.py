"""Reporting views of the bonus program (read-only SQL views, ``_auto = False``).

* ``loyalty.purchase.report``: one row per purchase (a paid POS order or a
  confirmed sale order), with the customer, whether they were a member at the
  time, the store and the points the purchase earned and spent.
* ``loyalty.points.report``: one row per ledger entry, with points split into
  issued / spent / expired / adjusted columns (points issued and spent by month).
* ``loyalty.member.report``: one row per member, the portrait (age group,
  gender, marital status, city, tier, home store, acquisition source), spend
  and purchases over the last 365 days and the spend segment (top 20 %: RFM
  monetary score 5) as the nightly RFM job stored them, and the number of
  promotions taken part in.

Purchases come from the one definition (:mod:`.loyalty_purchase`); members are
the partners with a bonus card today (``loyalty_is_member``), active, as on the
dashboard (:mod:`.loyalty_kpi`).
"""

from odoo import api, fields, models
from odoo.tools import SQL
from odoo.tools.sql import create_index

from .loyalty_ledger import ENTRY_TYPES
from .loyalty_purchase import AGE_GROUPS, age_group_sql

# Bonus entries that are not promotions: their idempotency key prefixes.
NON_PROMO_KEYS = ("res.partner/%", "referral/%")
CUSTOMER_TYPES = [("member", "Members"), ("other", "Non-members")]
GENDERS = [("male", "Male"), ("female", "Female"), ("other", "Other")]
MARITAL_STATUSES = [
    ("single", "Single"),
    ("married", "Married"),
    ("divorced", "Divorced"),
    ("widowed", "Widowed"),
]
SEGMENTS = [("top", "Top 20 % by spend"), ("other", "Other members")]


class LoyaltyPurchaseReport(models.Model):
    _name = "loyalty.purchase.report"
    _description = "Purchases Analysis (Bonus Program)"
    _auto = False
    _order = "date desc"
    _rec_name = "name"

    name = fields.Char(string="Order", readonly=True)
    channel = fields.Selection(
        [("pos", "Point of Sale"), ("sale", "Sales")], readonly=True
    )
    date = fields.Datetime(readonly=True)
    company_id = fields.Many2one("res.company", readonly=True)
    partner_id = fields.Many2one("res.partner", string="Customer", readonly=True)
    pos_config_id = fields.Many2one("pos.config", string="Store", readonly=True)
    team_id = fields.Many2one("crm.team", string="Sales Team", readonly=True)
    customer_type = fields.Selection(
        CUSTOMER_TYPES,
        readonly=True,
        help="Members: the customer had a bonus card on the day of the purchase.",
    )
    amount = fields.Float(string="Revenue", readonly=True, digits=(16, 2))
    average_check = fields.Float(readonly=True, aggregator="avg", digits=(16, 2))
    order_count = fields.Integer(string="Purchases", readonly=True)
    points_earned = fields.Float(readonly=True)
    points_spent = fields.Float(readonly=True)
    with_points = fields.Boolean(string="Paid Partly with Points", readonly=True)

    @property
    def _table_query(self):
        return SQL(
            """
            SELECT pu.id, pu.channel, pu.name, pu.date, pu.company_id, pu.partner_id,
                   pu.pos_config_id, pu.team_id,
                   CASE WHEN pu.is_member THEN 'member' ELSE 'other' END
                       AS customer_type,
                   pu.amount, pu.amount AS average_check, 1 AS order_count,
                   pts.earned AS points_earned, pts.spent AS points_spent,
                   pts.spent > 0 AS with_points
              FROM loyalty_purchase pu
         CROSS JOIN LATERAL (
                   SELECT COALESCE(SUM(l.points) FILTER (
                              WHERE l.entry_type = 'accrual'), 0) AS earned,
                          COALESCE(-SUM(l.points) FILTER (
                              WHERE l.entry_type = 'redemption'), 0) AS spent
                     FROM loyalty_ledger l
                    WHERE l.res_id = pu.res_id AND l.res_model = pu.res_model
                      AND l.state <> 'cancelled'
                   ) pts
            """
        )


class LoyaltyPointsReport(models.Model):
    _name = "loyalty.points.report"
    _description = "Bonus Points Analysis"
    _auto = False
    _order = "date desc"
    _rec_name = "date"

    date = fields.Datetime(readonly=True)
    entry_type = fields.Selection(
        ENTRY_TYPES,
        string="Type",
        readonly=True,
    )
    state = fields.Selection(
        [
            ("pending", "Pending"),
            ("available", "Available"),
            ("posted", "Posted"),
        ],
        readonly=True,
    )
    partner_id = fields.Many2one("res.partner", string="Member", readonly=True)
    program_id = fields.Many2one("loyalty.program", readonly=True)
    company_id = fields.Many2one("res.company", readonly=True)
    tier_id = fields.Many2one("loyalty.tier", string="Tier", readonly=True)
    channel = fields.Selection(
        [("pos", "Point of Sale"), ("sale", "Sales"), ("other", "Other channels")],
        readonly=True,
    )
    points = fields.Float(string="Net Points", readonly=True)
    points_issued = fields.Float(readonly=True)
    points_spent = fields.Float(readonly=True)
    points_expired = fields.Float(readonly=True)
    points_other = fields.Float(
        string="Adjustments and Returns",
        readonly=True,
        help="Manual adjustments, transfers and reversals (net).",
    )
    value_issued = fields.Float(
        readonly=True,
        help="Points issued times the program's value of a point.",
    )
    value_spent = fields.Float(
        readonly=True,
        help="Points spent times the program's value of a point: the discounts "
        "the program paid.",
    )

    def init(self):
        # the dashboard sums the ledger over a period
        create_index(
            self.env.cr, "loyalty_ledger_date_report_index", "loyalty_ledger", ["date"]
        )

    @property
    def _table_query(self):
        return SQL(
            """
            SELECT l.id, l.date, l.entry_type, l.state, l.partner_id, l.program_id,
                   l.company_id, p.loyalty_tier_id AS tier_id,
                   CASE l.res_model WHEN 'pos.order' THEN 'pos'
                                    WHEN 'sale.order' THEN 'sale'
                                    ELSE 'other' END AS channel,
                   l.points,
                   CASE WHEN l.entry_type IN ('accrual', 'bonus')
                        THEN l.points ELSE 0 END AS points_issued,
                   CASE WHEN l.entry_type = 'redemption'
                        THEN -l.points ELSE 0 END AS points_spent,
                   CASE WHEN l.entry_type = 'expiry'
                        THEN -l.points ELSE 0 END AS points_expired,
                   CASE WHEN l.entry_type IN ('adjustment', 'transfer', 'reversal')
                        THEN l.points ELSE 0 END AS points_other,
                   CASE WHEN l.entry_type IN ('accrual', 'bonus')
                        THEN l.points * COALESCE(pr.point_value, 1) ELSE 0 END
                       AS value_issued,
                   CASE WHEN l.entry_type = 'redemption'
                        THEN -l.points * COALESCE(pr.point_value, 1) ELSE 0 END
                       AS value_spent
              FROM loyalty_ledger l
         LEFT JOIN res_partner p ON p.id = l.partner_id
         LEFT JOIN loyalty_program pr ON pr.id = l.program_id
             WHERE l.state <> 'cancelled'
            """
        )


class LoyaltyMemberReport(models.Model):
    _name = "loyalty.member.report"
    _description = "Member Portrait"
    _auto = False
    _order = "spend desc"
    _rec_name = "partner_id"

    partner_id = fields.Many2one("res.partner", string="Member", readonly=True)
    company_id = fields.Many2one("res.company", readonly=True)
    member_since = fields.Datetime(readonly=True)
    age_group = fields.Selection(AGE_GROUPS, readonly=True)
    gender = fields.Selection(GENDERS, readonly=True)
    marital_status = fields.Selection(MARITAL_STATUSES, readonly=True)
    city = fields.Char(readonly=True)
    tier_id = fields.Many2one("loyalty.tier", string="Tier", readonly=True)
    home_store_id = fields.Many2one("pos.config", string="Home Store", readonly=True)
    source_id = fields.Many2one(
        "utm.source", string="Acquisition Source", readonly=True
    )
    segment = fields.Selection(
        SEGMENTS,
        readonly=True,
        help="Top 20 %: the fifth of the members who spent the most over the "
        "last 365 days (monetary score 5 of the nightly RFM job).",
    )
    spend = fields.Float(
        string="Spend (365 Days)", readonly=True, digits=(16, 2), aggregator="sum"
    )
    average_spend = fields.Float(
        string="Average Spend (365 Days)",
        readonly=True,
        digits=(16, 2),
        aggregator="avg",
    )
    purchase_count = fields.Integer(string="Purchases (365 Days)", readonly=True)
    member_count = fields.Integer(string="Members", readonly=True)
    promo_count = fields.Integer(
        string="Promotions Taken Part In",
        readonly=True,
        help="Promotional bonuses received (welcome, questionnaire, birthday and "
        "referral bonuses left out).",
    )
    points = fields.Float(string="Balance", readonly=True)
    liability = fields.Float(
        readonly=True,
        help="Balance times the program's value of a point.",
    )

    @api.model
    def _promo_filter(self, alias="l"):
        return SQL(
            "%s.entry_type = 'bonus' AND %s.state <> 'cancelled' "
            "AND NOT (COALESCE(%s.idempotency_key, '') LIKE ANY (%s))",
            SQL.identifier(alias),
            SQL.identifier(alias),
            SQL.identifier(alias),
            list(NON_PROMO_KEYS),
        )

    @api.model
    def _promo_participation_sql(self):
        """``(partner_id, promos)`` rows: promotions each member took part in.

        Promotional bonus entries of the ledger; campaigns that keep their own
        record of who took part extend this with ``UNION ALL`` of their rows.
        """
        return SQL(
            "SELECT l.partner_id, COUNT(*) AS promos FROM loyalty_ledger l"
            " WHERE %s GROUP BY l.partner_id",
            self._promo_filter(),
        )

    @property
    def _table_query(self):
        return SQL(
            """
            WITH promo AS (
                SELECT pa.partner_id, SUM(pa.promos) AS promos
                  FROM (%(promo)s) pa
              GROUP BY pa.partner_id
            )
            SELECT p.id, p.id AS partner_id, c.company_id,
                   p.loyalty_member_since AS member_since,
                   %(age)s AS age_group,
                   p.loyalty_gender AS gender,
                   p.loyalty_marital_status AS marital_status,
                   p.city, p.loyalty_tier_id AS tier_id,
                   p.loyalty_home_store_id AS home_store_id,
                   p.loyalty_source_id AS source_id,
                   COALESCE(st.revenue_365d, 0) AS spend,
                   COALESCE(st.revenue_365d, 0) AS average_spend,
                   COALESCE(st.orders_365d, 0) AS purchase_count,
                   1 AS member_count,
                   COALESCE(pm.promos, 0) AS promo_count,
                   COALESCE(c.points, 0) AS points,
                   COALESCE(c.points, 0) * COALESCE(pr.point_value, 1) AS liability,
                   CASE WHEN st.rfm_monetary = 5 THEN 'top' ELSE 'other' END
                       AS segment
              FROM res_partner p
              JOIN loyalty_card c ON c.id = p.loyalty_card_id
         LEFT JOIN loyalty_program pr ON pr.id = c.program_id
         LEFT JOIN loyalty_member_stats st ON st.partner_id = p.id
         LEFT JOIN promo pm ON pm.partner_id = p.id
             WHERE p.loyalty_is_member AND p.active
               AND p.loyalty_member_since IS NOT NULL
            """,
            promo=self._promo_participation_sql(),
            age=age_group_sql(SQL("p.loyalty_birthdate")),
        )

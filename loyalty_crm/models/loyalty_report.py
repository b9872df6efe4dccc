"""Reporting views of the bonus program (read-only SQL views, ``_auto = False``).

* ``loyalty.purchase.report``: one row per purchase (a paid POS order or a
  confirmed sale order), with the customer, whether they were a member at the
  time, the store and the points the purchase earned and spent.
* ``loyalty.points.report``: one row per ledger entry, with points split into
  issued / spent / expired / adjusted columns (points issued and spent by month).
* ``loyalty.member.report``: one row per member, the portrait (age group,
  gender, marital status, city, tier, home store, acquisition source), spend
  and purchases over the last 12 months, the spend segment (top 20 %) and the
  number of promotions taken part in.

They read the base tables directly, so they are always up to date; the
dashboard (:mod:`.loyalty_dashboard`) runs its own date-filtered queries.
"""

from odoo import api, fields, models
from odoo.tools import SQL
from odoo.tools.sql import create_index

from .loyalty_ledger import ENTRY_TYPES

# States of a purchase that counts (POS: paid, posted, invoiced; Sales: confirmed).
POS_DONE_STATES = ("paid", "done", "invoiced")
SALE_DONE_STATES = ("sale", "done")
# Bonus entries that are not promotions: their idempotency key prefixes.
NON_PROMO_KEYS = ("res.partner/%", "referral/%")

AGE_GROUPS = [
    ("under_25", "Under 25"),
    ("25_34", "25-34"),
    ("35_44", "35-44"),
    ("45_54", "45-54"),
    ("55_plus", "55 and over"),
    ("unknown", "Not given"),
]
GENDERS = [("male", "Male"), ("female", "Female"), ("other", "Other")]
MARITAL_STATUSES = [
    ("single", "Single"),
    ("married", "Married"),
    ("divorced", "Divorced"),
    ("widowed", "Widowed"),
]
SEGMENTS = [("top", "Top 20 % by spend"), ("other", "Other members")]


def member_since_sql():
    """``(partner_id, since)``: when each customer first got a bonus card."""
    return SQL(
        """
        SELECT c.partner_id, MIN(c.create_date) AS since
          FROM loyalty_card c
         WHERE c.is_bonus_card AND c.partner_id IS NOT NULL
      GROUP BY c.partner_id
        """
    )


def purchases_sql(with_points=True):
    """Every purchase: POS orders paid and sale orders confirmed (refunds left out).

    Columns: id, channel, res_model, res_id, name, date, company_id, partner_id
    (the commercial partner; NULL for an anonymous POS sale), pos_config_id,
    team_id, amount (tax included), is_member (the customer had a bonus card on
    the day of the purchase), points_earned, points_spent (0 without
    ``with_points``: cheaper when they are not needed).
    """
    if not with_points:
        return SQL(
            "SELECT * FROM (%s) pu0",
            SQL(
                _PURCHASES,
                pos_ledger=SQL("0 AS points_earned, 0 AS points_spent"),
                sale_ledger=SQL("0, 0"),
                since=member_since_sql(),
                pos_states=POS_DONE_STATES,
                sale_states=SALE_DONE_STATES,
            ),
        )
    ledger = """
        (SELECT COALESCE(SUM(l.points), 0) FROM loyalty_ledger l
          WHERE l.res_id = o.id AND l.res_model = %(model)s
            AND l.entry_type = 'accrual' AND l.state <> 'cancelled')
            AS points_earned,
        (SELECT COALESCE(-SUM(l.points), 0) FROM loyalty_ledger l
          WHERE l.res_id = o.id AND l.res_model = %(model)s
            AND l.entry_type = 'redemption' AND l.state <> 'cancelled')
            AS points_spent
    """
    return SQL(
        _PURCHASES,
        pos_ledger=SQL(ledger, model="pos.order"),
        sale_ledger=SQL(ledger, model="sale.order"),
        since=member_since_sql(),
        pos_states=POS_DONE_STATES,
        sale_states=SALE_DONE_STATES,
    )


_PURCHASES = """
        SELECT o.id * 2 AS id, 'pos' AS channel, 'pos.order' AS res_model,
               o.id AS res_id, o.name, o.date_order AS date, o.company_id,
               cp.id AS partner_id, o.config_id AS pos_config_id,
               NULL::integer AS team_id, o.amount_total AS amount,
               COALESCE(cp.loyalty_is_member
                        AND m.since::date <= o.date_order::date, FALSE) AS is_member,
               %(pos_ledger)s
          FROM pos_order o
     LEFT JOIN res_partner p ON p.id = o.partner_id
     LEFT JOIN res_partner cp ON cp.id = p.commercial_partner_id
     LEFT JOIN (%(since)s) m ON m.partner_id = cp.id
         WHERE o.state IN %(pos_states)s AND o.amount_total > 0
     UNION ALL
        SELECT o.id * 2 + 1, 'sale', 'sale.order', o.id, o.name, o.date_order,
               o.company_id, cp.id, NULL::integer, o.team_id, o.amount_total,
               COALESCE(cp.loyalty_is_member
                        AND m.since::date <= o.date_order::date, FALSE),
               %(sale_ledger)s
          FROM sale_order o
          JOIN res_partner p ON p.id = o.partner_id
          JOIN res_partner cp ON cp.id = p.commercial_partner_id
     LEFT JOIN (%(since)s) m ON m.partner_id = cp.id
         WHERE o.state IN %(sale_states)s AND o.amount_total > 0
"""


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
    is_member = fields.Boolean(string="Member Purchase", readonly=True)
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
                   pu.pos_config_id, pu.team_id, pu.is_member, pu.amount,
                   pu.amount AS average_check, 1 AS order_count,
                   pu.points_earned, pu.points_spent,
                   pu.points_spent > 0 AS with_points
              FROM (%s) pu
            """,
            purchases_sql(),
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
        [("pos", "Point of Sale"), ("sale", "Sales"), ("other", "Other")],
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
        "last 12 months.",
    )
    spend = fields.Float(
        string="Spend (12 months)", readonly=True, digits=(16, 2), aggregator="sum"
    )
    average_spend = fields.Float(
        string="Average Spend (12 months)",
        readonly=True,
        digits=(16, 2),
        aggregator="avg",
    )
    purchase_count = fields.Integer(string="Purchases (12 months)", readonly=True)
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
            WITH spend AS (
                SELECT pu.partner_id, SUM(pu.amount) AS spend, COUNT(*) AS purchases
                  FROM (%(purchases)s) pu
                 WHERE pu.is_member
                   AND pu.date >= (now() AT TIME ZONE 'UTC') - interval '12 months'
              GROUP BY pu.partner_id
            ), promo AS (
                SELECT pa.partner_id, SUM(pa.promos) AS promos
                  FROM (%(promo)s) pa
              GROUP BY pa.partner_id
            ), base AS (
                SELECT p.id AS partner_id, c.company_id, m.since AS member_since,
                       CASE
                         WHEN p.loyalty_birthdate IS NULL THEN 'unknown'
                         WHEN age(p.loyalty_birthdate) < interval '25 years'
                           THEN 'under_25'
                         WHEN age(p.loyalty_birthdate) < interval '35 years'
                           THEN '25_34'
                         WHEN age(p.loyalty_birthdate) < interval '45 years'
                           THEN '35_44'
                         WHEN age(p.loyalty_birthdate) < interval '55 years'
                           THEN '45_54'
                         ELSE '55_plus'
                       END AS age_group,
                       p.loyalty_gender AS gender,
                       p.loyalty_marital_status AS marital_status,
                       p.city, p.loyalty_tier_id AS tier_id,
                       p.loyalty_home_store_id AS home_store_id,
                       p.loyalty_source_id AS source_id,
                       COALESCE(s.spend, 0) AS spend,
                       COALESCE(s.purchases, 0) AS purchase_count,
                       COALESCE(pm.promos, 0) AS promo_count,
                       COALESCE(c.points, 0) AS points,
                       COALESCE(c.points, 0) * COALESCE(pr.point_value, 1)
                           AS liability
                  FROM res_partner p
                  JOIN loyalty_card c ON c.id = p.loyalty_card_id
             LEFT JOIN loyalty_program pr ON pr.id = c.program_id
             LEFT JOIN (%(since)s) m ON m.partner_id = p.id
             LEFT JOIN spend s ON s.partner_id = p.id
             LEFT JOIN promo pm ON pm.partner_id = p.id
                 WHERE p.loyalty_is_member AND p.active
            )
            SELECT b.partner_id AS id, b.*, b.spend AS average_spend, 1 AS member_count,
                   CASE WHEN b.spend > 0 AND percent_rank() OVER (
                            ORDER BY b.spend DESC, b.partner_id) < 0.2
                        THEN 'top' ELSE 'other' END AS segment
              FROM base b
            """,
            purchases=purchases_sql(),
            promo=self._promo_participation_sql(),
            since=member_since_sql(),
        )

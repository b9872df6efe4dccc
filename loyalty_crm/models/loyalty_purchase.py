"""The one definition of a purchase, read by every report, job and screen.

* ``loyalty.purchase`` (database view ``loyalty_purchase``): one row per
  purchase, a POS order paid (paid / posted / invoiced) or a sale order
  confirmed, with a positive total (refunds are not purchases). The customer is
  the *commercial* partner (an order placed by a member's child contact is the
  member's); ``is_member`` says whether that customer was a member on the day
  (their first bonus card issued on or before it, and a member today). Amounts
  are tax included.
* ``loyalty.purchase.line`` (view ``loyalty_purchase_line``): the product lines
  of those purchases, tax included, with their product category.

The dashboard's facts (:mod:`.loyalty_kpi`), the reports
(:mod:`.loyalty_report`), RFM and segments (:mod:`.res_partner_marketing`),
campaign conversion and the after-purchase trigger (:mod:`.loyalty_campaign`)
and the acquisition report read these views and nothing else.
"""

from odoo import fields, models, tools
from odoo.tools import SQL

# States of a purchase that counts (POS: paid, posted, invoiced; Sales: confirmed).
POS_DONE_STATES = ("paid", "done", "invoiced")
SALE_DONE_STATES = ("sale", "done")

AGE_GROUPS = [
    ("under_25", "Under 25"),
    ("25_34", "25-34"),
    ("35_44", "35-44"),
    ("45_54", "45-54"),
    ("55_plus", "55 and over"),
    ("unknown", "Not given"),
]


def age_group_sql(column):
    """SQL expression: the age group (``AGE_GROUPS`` key) of a birth date column."""
    return SQL(
        """CASE
             WHEN %(c)s IS NULL THEN 'unknown'
             WHEN age(%(c)s) < interval '25 years' THEN 'under_25'
             WHEN age(%(c)s) < interval '35 years' THEN '25_34'
             WHEN age(%(c)s) < interval '45 years' THEN '35_44'
             WHEN age(%(c)s) < interval '55 years' THEN '45_54'
             ELSE '55_plus'
           END""",
        c=column,
    )


def _purchase_view_sql():
    member = SQL(
        "COALESCE(cp.loyalty_is_member AND cp.active"
        " AND cp.loyalty_member_since::date <= o.date_order::date, FALSE)"
    )
    return SQL(
        """
        SELECT o.id * 2 AS id, 'pos' AS channel, 'pos.order' AS res_model,
               o.id AS res_id, o.name, o.date_order AS date, o.company_id,
               cp.id AS partner_id, o.config_id AS pos_config_id,
               NULL::integer AS team_id, o.amount_total AS amount,
               %(member)s AS is_member
          FROM pos_order o
     LEFT JOIN res_partner p ON p.id = o.partner_id
     LEFT JOIN res_partner cp ON cp.id = p.commercial_partner_id
         WHERE o.state IN %(pos_states)s AND o.amount_total > 0
     UNION ALL
        SELECT o.id * 2 + 1, 'sale', 'sale.order', o.id, o.name, o.date_order,
               o.company_id, cp.id, NULL::integer, o.team_id, o.amount_total,
               %(member)s
          FROM sale_order o
          JOIN res_partner p ON p.id = o.partner_id
          JOIN res_partner cp ON cp.id = p.commercial_partner_id
         WHERE o.state IN %(sale_states)s AND o.amount_total > 0
        """,
        member=member,
        pos_states=POS_DONE_STATES,
        sale_states=SALE_DONE_STATES,
    )


class LoyaltyPurchase(models.Model):
    _name = "loyalty.purchase"
    _description = "Purchase (Bonus Program Analytics)"
    _auto = False
    _order = "date desc"
    _rec_name = "name"

    channel = fields.Selection(
        [("pos", "Point of Sale"), ("sale", "Sales")], readonly=True
    )
    res_model = fields.Char(string="Document Model", readonly=True)
    res_id = fields.Many2oneReference(
        string="Document", model_field="res_model", readonly=True
    )
    name = fields.Char(string="Order", readonly=True)
    date = fields.Datetime(readonly=True)
    company_id = fields.Many2one("res.company", readonly=True)
    partner_id = fields.Many2one("res.partner", string="Customer", readonly=True)
    pos_config_id = fields.Many2one("pos.config", string="Store", readonly=True)
    team_id = fields.Many2one("crm.team", string="Sales Team", readonly=True)
    amount = fields.Float(string="Revenue", readonly=True, digits=(16, 2))
    is_member = fields.Boolean(string="Member Purchase", readonly=True)

    def init(self):
        # CASCADE: views built on this one (acquisition report, lines) are
        # recreated by their own init afterwards
        self.env.cr.execute("DROP VIEW IF EXISTS loyalty_purchase CASCADE")
        self.env.cr.execute(
            SQL("CREATE VIEW loyalty_purchase AS (%s)", _purchase_view_sql())
        )
        LoyaltyPurchaseLine._create_view(self.env.cr)


class LoyaltyPurchaseLine(models.Model):
    _name = "loyalty.purchase.line"
    _description = "Purchase Line (Bonus Program Analytics)"
    _auto = False
    _rec_name = "product_id"

    purchase_id = fields.Many2one("loyalty.purchase", readonly=True)
    date = fields.Datetime(readonly=True)
    company_id = fields.Many2one("res.company", readonly=True)
    partner_id = fields.Many2one("res.partner", string="Customer", readonly=True)
    is_member = fields.Boolean(string="Member Purchase", readonly=True)
    product_id = fields.Many2one("product.product", readonly=True)
    categ_id = fields.Many2one(
        "product.category", string="Product Category", readonly=True
    )
    amount = fields.Float(string="Revenue", readonly=True, digits=(16, 2))

    @staticmethod
    def _create_view(cr):
        tools.drop_view_if_exists(cr, "loyalty_purchase_line")
        cr.execute(
            """
            CREATE VIEW loyalty_purchase_line AS (
                SELECT l.id * 2 AS id, pu.id AS purchase_id, pu.date, pu.company_id,
                       pu.partner_id, pu.is_member, l.product_id, t.categ_id,
                       l.price_subtotal_incl AS amount
                  FROM pos_order_line l
                  JOIN loyalty_purchase pu
                    ON pu.res_model = 'pos.order' AND pu.res_id = l.order_id
                  JOIN product_product pp ON pp.id = l.product_id
                  JOIN product_template t ON t.id = pp.product_tmpl_id
             UNION ALL
                SELECT l.id * 2 + 1, pu.id, pu.date, pu.company_id, pu.partner_id,
                       pu.is_member, l.product_id, t.categ_id, l.price_total
                  FROM sale_order_line l
                  JOIN loyalty_purchase pu
                    ON pu.res_model = 'sale.order' AND pu.res_id = l.order_id
                  JOIN product_product pp ON pp.id = l.product_id
                  JOIN product_template t ON t.id = pp.product_tmpl_id
                 WHERE l.display_type IS NULL
            )
            """
        )

    def init(self):
        # loyalty.purchase creates it (it depends on that view)
        return

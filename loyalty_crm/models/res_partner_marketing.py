"""What marketing knows of a member: RFM scores, activity, preferred categories,
and the acquisition channel recorded at enrolment."""

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL
from odoo.tools.sql import column_exists, create_column

# How the member enrolled -> default acquisition source (XML ids).
ENROL_SOURCES = {
    "backoffice": "utm_source_backoffice",
    "pos": "utm_source_store",
    "portal": "utm_source_portal",
    "api": "utm_source_api",
    "import": "utm_source_import",
    "referral": "utm_source_referral",
}
ENROL_MEDIUMS = {
    "backoffice": "utm.utm_medium_direct",
    "pos": "utm.utm_medium_direct",
    "portal": "utm.utm_medium_website",
    "api": "utm.utm_medium_website",
    "import": "utm.utm_medium_direct",
    "referral": "loyalty_crm.utm_medium_referral",
}


# Kept apart from res_partner.py (questionnaire, enrolment, tiers): marketing's
# own view of the member.
class ResPartner(models.Model):
    _inherit = "res.partner"  # pylint: disable=consider-merging-classes-inherited

    loyalty_rfm_recency = fields.Integer(
        string="Recency Score",
        readonly=True,
        help="1 (longest ago) to 5 (most recent purchase); 0: no purchase. "
        "Recomputed every night.",
    )
    loyalty_rfm_frequency = fields.Integer(
        string="Frequency Score",
        readonly=True,
        help="1 to 5 by number of purchases over the last 365 days; 0: none.",
    )
    loyalty_rfm_monetary = fields.Integer(
        string="Monetary Score",
        readonly=True,
        help="1 to 5 by amount spent over the last 365 days; 0: nothing.",
    )
    loyalty_last_purchase_date = fields.Date(
        string="Last Purchase", readonly=True, index="btree_not_null"
    )
    loyalty_days_since_purchase = fields.Integer(
        string="Days Since Last Purchase",
        compute="_compute_loyalty_days_since_purchase",
        search="_search_loyalty_days_since_purchase",
    )
    loyalty_orders_30d = fields.Integer(string="Purchases (30 Days)", readonly=True)
    loyalty_orders_90d = fields.Integer(string="Purchases (90 Days)", readonly=True)
    loyalty_orders_365d = fields.Integer(string="Purchases (365 Days)", readonly=True)
    loyalty_revenue_365d = fields.Float(
        string="Spend (365 Days)", readonly=True, digits=(16, 2)
    )
    loyalty_preferred_categ_ids = fields.Many2many(
        "product.category",
        "loyalty_partner_preferred_categ_rel",
        "partner_id",
        "categ_id",
        string="Preferred Categories",
        readonly=True,
        help="The product categories the member spent most on over the last "
        "365 days (recomputed every night).",
    )
    loyalty_member_since = fields.Datetime(
        string="Member Since",
        compute="_compute_loyalty_member_since",
        store=True,
        readonly=True,
        index="btree_not_null",
        help="When the customer's first bonus card was issued.",
    )
    loyalty_campaign_occurrence_ids = fields.One2many(
        "loyalty.campaign.occurrence", "partner_id", string="Campaign Messages"
    )

    def _auto_init(self):
        # on a large base, fill the new column in one statement instead of
        # computing it record by record
        cr = self.env.cr
        if not column_exists(cr, "res_partner", "loyalty_member_since"):
            create_column(cr, "res_partner", "loyalty_member_since", "timestamp")
            if column_exists(cr, "loyalty_card", "is_bonus_card"):
                cr.execute(
                    """
                    UPDATE res_partner p SET loyalty_member_since = m.since
                      FROM (SELECT partner_id, MIN(create_date) AS since
                              FROM loyalty_card
                             WHERE is_bonus_card AND partner_id IS NOT NULL
                          GROUP BY partner_id) m
                     WHERE m.partner_id = p.id
                    """
                )
        return super()._auto_init()

    @api.depends("loyalty_card_ids", "loyalty_card_ids.is_bonus_card")
    def _compute_loyalty_member_since(self):
        partners = self.filtered("id")
        since = dict(
            self.env["loyalty.card"]
            .sudo()
            .with_context(active_test=False)
            ._read_group(
                [("partner_id", "in", partners.ids), ("is_bonus_card", "=", True)],
                ["partner_id"],
                ["create_date:min"],
            )
        )
        for partner in self:
            partner.loyalty_member_since = since.get(partner._origin) or False

    @api.depends("loyalty_last_purchase_date")
    def _compute_loyalty_days_since_purchase(self):
        today = fields.Date.context_today(self)
        for partner in self:
            last = partner.loyalty_last_purchase_date
            partner.loyalty_days_since_purchase = (today - last).days if last else 0

    def _search_loyalty_days_since_purchase(self, operator, value):
        """``days since >= N`` means a last purchase on or before today - N."""
        if operator not in ("<", "<=", ">", ">=", "=") or not isinstance(value, int):
            raise UserError(
                _(
                    "Days since the last purchase can only be compared (<, <=, >, "
                    ">=, =) with a whole number of days."
                )
            )
        today = fields.Date.context_today(self)
        date = fields.Date.subtract(today, days=value)
        flipped = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "=": "="}[operator]
        return [("loyalty_last_purchase_date", flipped, date)]

    # ------------------------------------------------------------ enrolment
    def _loyalty_set_acquisition(self, source):
        """Record a default acquisition channel when none was given."""
        source = source if source in ENROL_SOURCES else "backoffice"
        vals = {}
        if not self.loyalty_source_id:
            vals["loyalty_source_id"] = self.env.ref(
                f"loyalty_crm.{ENROL_SOURCES[source]}"
            ).id
        if not self.loyalty_medium_id:
            medium = self.env.ref(
                ENROL_MEDIUMS[source],
                raise_if_not_found=False,
            )
            vals["loyalty_medium_id"] = medium.id if medium else False
        if vals:
            self.sudo().write(vals)

    # ------------------------------------------------------------ RFM
    @api.model
    def _cron_compute_rfm(self):
        """Nightly: recency/frequency/monetary scores, purchase counts and
        preferred categories of every member, in three bulk statements."""
        self.env.flush_all()
        # sorts and hashes over every member and purchase: in memory
        self.env.cr.execute("SET LOCAL work_mem = '64MB'")
        now = fields.Datetime.now()
        self.env.execute_query(
            SQL(
                """
                WITH stats AS (
                    SELECT p.id AS partner_id,
                           MAX(pu.date) AS last_date,
                           COUNT(pu.date) FILTER (
                               WHERE pu.date >= %(now)s::timestamp - interval '30 days'
                           ) AS n30,
                           COUNT(pu.date) FILTER (
                               WHERE pu.date >= %(now)s::timestamp - interval '90 days'
                           ) AS n90,
                           COUNT(pu.date) FILTER (
                               WHERE pu.date >= %(now)s::timestamp - interval '365 days'
                           ) AS n365,
                           COALESCE(SUM(pu.amount) FILTER (
                               WHERE pu.date >= %(now)s::timestamp - interval '365 days'
                           ), 0) AS m365
                      FROM res_partner p
                 LEFT JOIN loyalty_purchase pu ON pu.partner_id = p.id
                     WHERE p.loyalty_is_member
                  GROUP BY p.id
                ),
                scored AS (
                    SELECT partner_id, last_date, n30, n90, n365, m365,
                           -- quintiles by cumulative distribution: ties share
                           -- a score, the best get 5
                           CASE WHEN last_date IS NULL THEN 0 ELSE CEIL(5 * CUME_DIST()
                               OVER (PARTITION BY last_date IS NULL ORDER BY last_date))
                           END::int AS r,
                           CASE WHEN n365 = 0 THEN 0 ELSE CEIL(5 * CUME_DIST() OVER (
                               PARTITION BY n365 = 0 ORDER BY n365)) END::int AS f,
                           CASE WHEN m365 <= 0 THEN 0 ELSE CEIL(5 * CUME_DIST() OVER (
                               PARTITION BY m365 <= 0 ORDER BY m365)) END::int AS m
                      FROM stats
                )
                UPDATE res_partner p
                   SET loyalty_rfm_recency = s.r,
                       loyalty_rfm_frequency = s.f,
                       loyalty_rfm_monetary = s.m,
                       loyalty_last_purchase_date = s.last_date::date,
                       loyalty_orders_30d = s.n30,
                       loyalty_orders_90d = s.n90,
                       loyalty_orders_365d = s.n365,
                       loyalty_revenue_365d = s.m365
                  FROM scored s
                 WHERE s.partner_id = p.id
                   AND (p.loyalty_rfm_recency, p.loyalty_rfm_frequency,
                        p.loyalty_rfm_monetary, p.loyalty_last_purchase_date,
                        p.loyalty_orders_30d, p.loyalty_orders_90d,
                        p.loyalty_orders_365d, p.loyalty_revenue_365d)
                       IS DISTINCT FROM
                       (s.r, s.f, s.m, s.last_date::date, s.n30::int, s.n90::int,
                        s.n365::int, s.m365::float)
                """,
                now=now,
            )
        )
        self.env.execute_query(
            SQL(
                """
                DELETE FROM loyalty_partner_preferred_categ_rel r
                 USING res_partner p
                 WHERE p.id = r.partner_id AND p.loyalty_is_member
                """
            )
        )
        self.env.execute_query(
            SQL(
                """
                INSERT INTO loyalty_partner_preferred_categ_rel (partner_id, categ_id)
                SELECT partner_id, categ_id FROM (
                    SELECT l.partner_id, l.categ_id,
                           ROW_NUMBER() OVER (PARTITION BY l.partner_id
                                              ORDER BY SUM(l.amount) DESC,
                                                       l.categ_id) AS rank
                      FROM loyalty_purchase_line l
                      JOIN res_partner p ON p.id = l.partner_id AND p.loyalty_is_member
                     WHERE l.date >= %(now)s::timestamp - interval '365 days'
                       AND l.categ_id IS NOT NULL AND l.amount > 0
                  GROUP BY l.partner_id, l.categ_id
                ) ranked
                 WHERE rank <= 3
                """,
                now=now,
            )
        )
        self.invalidate_model(
            [
                "loyalty_rfm_recency",
                "loyalty_rfm_frequency",
                "loyalty_rfm_monetary",
                "loyalty_last_purchase_date",
                "loyalty_orders_30d",
                "loyalty_orders_90d",
                "loyalty_orders_365d",
                "loyalty_revenue_365d",
                "loyalty_preferred_categ_ids",
            ]
        )
        return True

"""What marketing knows of a member: RFM scores, activity, preferred categories,
and the acquisition channel recorded at enrolment."""

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL
from odoo.tools.query import Query
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
# res.partner's purchase statistics -> their column in loyalty.member.stats
STATS = {
    "loyalty_rfm_recency": "rfm_recency",
    "loyalty_rfm_frequency": "rfm_frequency",
    "loyalty_rfm_monetary": "rfm_monetary",
    "loyalty_last_purchase_date": "last_purchase_date",
    "loyalty_orders_30d": "orders_30d",
    "loyalty_orders_90d": "orders_90d",
    "loyalty_orders_365d": "orders_365d",
    "loyalty_revenue_365d": "revenue_365d",
}


# Kept apart from res_partner.py (questionnaire, enrolment, tiers): marketing's
# own view of the member.
class ResPartner(models.Model):
    _inherit = "res.partner"  # pylint: disable=consider-merging-classes-inherited

    # the purchase statistics live in loyalty.member.stats (one row per member
    # who bought, written by the nightly job only): shown and searched here
    loyalty_stats_ids = fields.One2many(
        "loyalty.member.stats",
        "partner_id",
        string="Purchase Statistics",
        readonly=True,
        groups="loyalty_crm.group_loyalty_user",
    )
    loyalty_rfm_recency = fields.Integer(
        string="Recency Score",
        compute="_compute_loyalty_stats",
        search="_search_loyalty_rfm_recency",
        compute_sudo=True,
        help="1 (longest ago) to 5 (most recent purchase); 0: no purchase. "
        "Recomputed every night.",
    )
    loyalty_rfm_frequency = fields.Integer(
        string="Frequency Score",
        compute="_compute_loyalty_stats",
        search="_search_loyalty_rfm_frequency",
        compute_sudo=True,
        help="1 to 5 by number of purchases over the last 365 days; 0: none.",
    )
    loyalty_rfm_monetary = fields.Integer(
        string="Monetary Score",
        compute="_compute_loyalty_stats",
        search="_search_loyalty_rfm_monetary",
        compute_sudo=True,
        help="1 to 5 by amount spent over the last 365 days; 0: nothing.",
    )
    loyalty_last_purchase_date = fields.Date(
        string="Last Purchase",
        compute="_compute_loyalty_stats",
        search="_search_loyalty_last_purchase_date",
        compute_sudo=True,
    )
    loyalty_days_since_purchase = fields.Integer(
        string="Days Since Last Purchase",
        compute="_compute_loyalty_days_since_purchase",
        search="_search_loyalty_days_since_purchase",
    )
    loyalty_days_without_purchase = fields.Integer(
        string="Days Without Purchase",
        compute="_compute_loyalty_days_since_purchase",
        search="_search_loyalty_days_without_purchase",
        help="Days since the last purchase; in a search, a member who never "
        "bought counts as without purchase for any number of days.",
    )
    loyalty_orders_30d = fields.Integer(
        string="Purchases (30 Days)",
        compute="_compute_loyalty_stats",
        search="_search_loyalty_orders_30d",
        compute_sudo=True,
    )
    loyalty_orders_90d = fields.Integer(
        string="Purchases (90 Days)",
        compute="_compute_loyalty_stats",
        search="_search_loyalty_orders_90d",
        compute_sudo=True,
    )
    loyalty_orders_365d = fields.Integer(
        string="Purchases (365 Days)",
        compute="_compute_loyalty_stats",
        search="_search_loyalty_orders_365d",
        compute_sudo=True,
    )
    loyalty_revenue_365d = fields.Float(
        string="Spend (365 Days)",
        digits=(16, 2),
        compute="_compute_loyalty_stats",
        search="_search_loyalty_revenue_365d",
        compute_sudo=True,
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

    @api.depends(*(f"loyalty_stats_ids.{stat}" for stat in STATS.values()))
    def _compute_loyalty_stats(self):
        for partner in self:
            # none for a member who never bought: its empty recordset reads 0
            # for the scores and counts and False for the date
            stats = partner.loyalty_stats_ids[:1]
            for fname, stat in STATS.items():
                partner[fname] = stats[stat]

    @api.depends("loyalty_last_purchase_date")
    def _compute_loyalty_days_since_purchase(self):
        today = fields.Date.context_today(self)
        for partner in self:
            last = partner.loyalty_last_purchase_date
            partner.loyalty_days_since_purchase = (today - last).days if last else 0
            partner.loyalty_days_without_purchase = partner.loyalty_days_since_purchase

    def _loyalty_stats_domain(self, stat, operator, value, without_stats=None):
        """The partners whose statistics satisfy ``(stat, operator, value)``,
        as one ``id in (subquery)``: a semi-join, fast at any size (an OR of
        two such subqueries is not: PostgreSQL then tests each partner against
        each subquery's rows unless they fit in ``work_mem``).

        A partner without a row (no purchase) has the defaults, 0 and no date:
        ``without_stats`` says whether such partners match, by default whether
        the defaults satisfy the condition (``= 0``, ``< 3``, ``= False``...);
        then the subquery is a left join of the partners with their rows.
        """
        Stats = self.env["loyalty.member.stats"].sudo()
        condition = [(stat, operator, value)]
        if without_stats is None:
            without_stats = bool(Stats.new({}).filtered_domain(condition))
        if not without_stats:
            rows = Stats._search(condition)
            return [("id", "in", rows.subselect("partner_id"))]
        query = Query(self.env, self._table)
        alias = query.left_join(
            self._table, "id", Stats._table, "partner_id", "loyalty_stats"
        )
        query.add_where(
            SQL(
                "(%s IS NULL OR %s)",
                SQL.identifier(alias, "id"),
                Stats._condition_to_sql(alias, stat, operator, value, query),
            )
        )
        return [("id", "in", query.subselect())]

    def _search_loyalty_rfm_recency(self, operator, value):
        return self._loyalty_stats_domain("rfm_recency", operator, value)

    def _search_loyalty_rfm_frequency(self, operator, value):
        return self._loyalty_stats_domain("rfm_frequency", operator, value)

    def _search_loyalty_rfm_monetary(self, operator, value):
        return self._loyalty_stats_domain("rfm_monetary", operator, value)

    def _search_loyalty_last_purchase_date(self, operator, value):
        return self._loyalty_stats_domain("last_purchase_date", operator, value)

    def _search_loyalty_orders_30d(self, operator, value):
        return self._loyalty_stats_domain("orders_30d", operator, value)

    def _search_loyalty_orders_90d(self, operator, value):
        return self._loyalty_stats_domain("orders_90d", operator, value)

    def _search_loyalty_orders_365d(self, operator, value):
        return self._loyalty_stats_domain("orders_365d", operator, value)

    def _search_loyalty_revenue_365d(self, operator, value):
        return self._loyalty_stats_domain("revenue_365d", operator, value)

    def _loyalty_days_cutoff(self, operator, value):
        """``days since >= N`` means a last purchase on or before today - N."""
        if operator not in ("<", "<=", ">", ">=", "=") or not isinstance(value, int):
            raise UserError(
                _(
                    "Days since the last purchase can only be compared (<, <=, >, "
                    ">=, =) with a whole number of days."
                )
            )
        today = fields.Date.context_today(self)
        flipped = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "=": "="}[operator]
        return flipped, fields.Date.subtract(today, days=value)

    def _search_loyalty_days_since_purchase(self, operator, value):
        flipped, date = self._loyalty_days_cutoff(operator, value)
        return [("loyalty_last_purchase_date", flipped, date)]

    def _search_loyalty_days_without_purchase(self, operator, value):
        """As the days since the last purchase, but a member who never bought
        matches ``>`` and ``>=`` (without purchase for longer than any number
        of days): one condition, where ``last purchase = False OR days since
        >= N`` would be an OR of two subqueries."""
        flipped, date = self._loyalty_days_cutoff(operator, value)
        if operator not in (">", ">="):
            return [("loyalty_last_purchase_date", flipped, date)]
        # no purchase after the date: none at all, or the last on or before it
        return self._loyalty_stats_domain(
            "last_purchase_date", flipped, date, without_stats=True
        )

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
        preferred categories of every member, in two bulk statements.

        The statistics go to ``loyalty_member_stats`` (a row per member who
        bought), never to ``res_partner``: only the rows whose figures changed
        are written, and a first computation inserts narrow rows instead of
        rewriting every member's wide one."""
        self.env.flush_all()
        # sorts and hashes over every member and purchase: in memory. No nested
        # loops: the tables written may look empty to the planner (the first
        # run, once analyzed empty), which would then scan them again for each
        # member while the statement fills them (hours at a million members)
        self.env.cr.execute(
            "SET LOCAL work_mem = '64MB'; SET LOCAL enable_nestloop = off"
        )
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
                    SELECT partner_id, last_date::date AS last_date,
                           n30::int AS n30, n90::int AS n90, n365::int AS n365,
                           m365::numeric AS m365,
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
                ),
                updated AS (
                    UPDATE loyalty_member_stats t
                       SET rfm_recency = s.r,
                           rfm_frequency = s.f,
                           rfm_monetary = s.m,
                           last_purchase_date = s.last_date,
                           orders_30d = s.n30,
                           orders_90d = s.n90,
                           orders_365d = s.n365,
                           revenue_365d = s.m365
                      FROM scored s
                     WHERE s.partner_id = t.partner_id AND s.last_date IS NOT NULL
                       AND (t.rfm_recency, t.rfm_frequency, t.rfm_monetary,
                            t.last_purchase_date, t.orders_30d, t.orders_90d,
                            t.orders_365d, t.revenue_365d)
                           IS DISTINCT FROM
                           (s.r, s.f, s.m, s.last_date, s.n30, s.n90, s.n365, s.m365)
                ),
                -- new rows apart from the updates: an upsert (ON CONFLICT) would
                -- draw an id from the sequence for every member every night
                inserted AS (
                    INSERT INTO loyalty_member_stats
                        (partner_id, rfm_recency, rfm_frequency, rfm_monetary,
                         last_purchase_date, orders_30d, orders_90d, orders_365d,
                         revenue_365d)
                    SELECT s.partner_id, s.r, s.f, s.m, s.last_date, s.n30, s.n90,
                           s.n365, s.m365
                      FROM scored s
                     WHERE s.last_date IS NOT NULL
                       AND NOT EXISTS (SELECT FROM loyalty_member_stats t
                                        WHERE t.partner_id = s.partner_id)
                )
                -- a member whose purchases are gone has no statistics any more
                DELETE FROM loyalty_member_stats t
                 USING scored s
                 WHERE s.partner_id = t.partner_id AND s.last_date IS NULL
                """,
                now=now,
            )
        )
        # the preferred categories: only the pairs that changed are deleted or
        # inserted (most members keep theirs from one night to the next)
        self.env.execute_query(
            SQL(
                """
                WITH ranked AS (
                    SELECT partner_id, categ_id FROM (
                        SELECT l.partner_id, l.categ_id,
                               ROW_NUMBER() OVER (PARTITION BY l.partner_id
                                                  ORDER BY SUM(l.amount) DESC,
                                                           l.categ_id) AS rank
                          FROM loyalty_purchase_line l
                          JOIN res_partner p
                            ON p.id = l.partner_id AND p.loyalty_is_member
                         WHERE l.date >= %(now)s::timestamp - interval '365 days'
                           AND l.categ_id IS NOT NULL AND l.amount > 0
                      GROUP BY l.partner_id, l.categ_id
                    ) top
                     WHERE rank <= 3
                ),
                gone AS (
                    DELETE FROM loyalty_partner_preferred_categ_rel r
                     USING res_partner p
                     WHERE p.id = r.partner_id AND p.loyalty_is_member
                       AND NOT EXISTS (SELECT FROM ranked n
                                        WHERE n.partner_id = r.partner_id
                                          AND n.categ_id = r.categ_id)
                )
                INSERT INTO loyalty_partner_preferred_categ_rel (partner_id, categ_id)
                SELECT n.partner_id, n.categ_id
                  FROM ranked n
                 WHERE NOT EXISTS (SELECT FROM loyalty_partner_preferred_categ_rel r
                                    WHERE r.partner_id = n.partner_id
                                      AND r.categ_id = n.categ_id)
                """,
                now=now,
            )
        )
        self.env.cr.execute("RESET enable_nestloop")
        self.env["loyalty.member.stats"].invalidate_model()
        self.invalidate_model(
            [*STATS, "loyalty_stats_ids", "loyalty_preferred_categ_ids"]
        )
        return True

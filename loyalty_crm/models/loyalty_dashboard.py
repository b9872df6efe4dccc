"""The bonus program's dashboard: the figures a retail manager looks at first.

Every figure is computed by a few SQL aggregates over the period (see
:meth:`LoyaltyDashboard._loyalty_kpi_values`), never by loading records, so the
dashboard opens quickly on a large base. The payback estimate follows the
retailer's usual table (set-up cost, running cost, average check and its
uplift), with the uplift measured from the data instead of assumed.
"""

from datetime import datetime, time, timedelta

from dateutil.relativedelta import relativedelta
from markupsafe import Markup

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL, date_utils

from .loyalty_report import (
    POS_DONE_STATES,
    SALE_DONE_STATES,
    member_since_sql,
    purchases_sql,
)

PERIODS = [
    ("month", "This month"),
    ("last_30", "Last 30 days"),
    ("quarter", "Last 3 months"),
    ("last_12", "Last 12 months"),
    ("year", "This year"),
    ("custom", "Custom"),
]
DAYS_PER_MONTH = 365.25 / 12
TOP_SHARE = 0.2  # the loyal customer: the top fifth of members by spend


def _pct(part, whole):
    return round(100.0 * part / whole, 2) if whole else 0.0


def _div(part, whole, digits=2):
    return round(part / whole, digits) if whole else 0.0


class LoyaltyDashboard(models.TransientModel):
    _name = "loyalty.dashboard"
    _description = "Bonus Program Dashboard"

    period = fields.Selection(PERIODS, default="quarter", required=True)
    date_from = fields.Date(
        string="From",
        required=True,
        default=lambda self: self._period_dates("quarter")[0],
    )
    date_to = fields.Date(
        string="To",
        required=True,
        default=lambda self: self._period_dates("quarter")[1],
    )
    company_id = fields.Many2one(
        "res.company", required=True, default=lambda self: self.env.company
    )
    program_id = fields.Many2one(
        "loyalty.program",
        string="Bonus Program",
        compute="_compute_program_id",
    )
    currency_id = fields.Many2one(related="company_id.currency_id")
    # ------------------------------------------------------------ KPIs
    members_total = fields.Integer(string="Members", compute="_compute_kpis")
    members_new = fields.Integer(string="New Members", compute="_compute_kpis")
    members_active = fields.Integer(
        string="Active Members",
        compute="_compute_kpis",
        help="Members who bought at least once in the period.",
    )
    members_active_share = fields.Float(
        string="Active Members (%)", compute="_compute_kpis"
    )
    purchases_member = fields.Integer(
        string="Members' Purchases", compute="_compute_kpis"
    )
    purchases_non_member = fields.Integer(
        string="Other Purchases", compute="_compute_kpis"
    )
    members_revenue_share = fields.Float(
        string="Members' Share of Revenue (%)", compute="_compute_kpis"
    )
    avg_check_member = fields.Monetary(
        string="Average Check of Members", compute="_compute_kpis"
    )
    avg_check_non_member = fields.Monetary(
        string="Average Check of Non-Members", compute="_compute_kpis"
    )
    avg_check_uplift = fields.Float(
        string="Average Check Uplift (%)", compute="_compute_kpis"
    )
    avg_check_pos_member = fields.Monetary(
        string="POS: Members", compute="_compute_kpis"
    )
    avg_check_pos_non_member = fields.Monetary(
        string="POS: Non-Members", compute="_compute_kpis"
    )
    avg_check_sale_member = fields.Monetary(
        string="Sales: Members", compute="_compute_kpis"
    )
    avg_check_sale_non_member = fields.Monetary(
        string="Sales: Non-Members", compute="_compute_kpis"
    )
    frequency_member = fields.Float(
        string="Purchases per Active Member",
        compute="_compute_kpis",
        help="Members' purchases in the period divided by the active members.",
    )
    frequency_non_member = fields.Float(
        string="Purchases per Other Customer",
        compute="_compute_kpis",
        help="Purchases of known customers who are not members, per customer "
        "(anonymous till sales are left out).",
    )
    share_with_points = fields.Float(
        string="Purchases with Points Spent (%)",
        compute="_compute_kpis",
        help="Share of the members' purchases paid partly with points.",
    )
    share_new_clients = fields.Float(
        string="New Customers (%)",
        compute="_compute_kpis",
        help="Share of the customers of the period who bought for the first time.",
    )
    points_issued = fields.Float(compute="_compute_kpis")
    points_spent = fields.Float(compute="_compute_kpis")
    points_expired = fields.Float(compute="_compute_kpis")
    redemption_rate = fields.Float(
        string="Redemption Rate (%)",
        compute="_compute_kpis",
        help="Points spent in the period per 100 points issued in the period.",
    )
    breakage_rate = fields.Float(
        string="Breakage (%)",
        compute="_compute_kpis",
        help="Points expired in the period per 100 points issued in the period.",
    )
    liability_points = fields.Float(
        string="Outstanding Points",
        compute="_compute_kpis",
        help="Points on the members' cards today, not yet spent.",
    )
    liability_value = fields.Monetary(
        string="Points Liability",
        compute="_compute_kpis",
        help="Outstanding points times the value of a point: what the program "
        "owes its members today.",
    )
    pending_points = fields.Float(
        compute="_compute_kpis",
        help="Points still in their return window (not in the balance yet).",
    )
    tier_html = fields.Html(
        string="Tier Distribution", compute="_compute_kpis", sanitize=False
    )
    store_html = fields.Html(string="By Store", compute="_compute_kpis", sanitize=False)
    portrait_html = fields.Html(
        string="Portrait of the Loyal Customer",
        compute="_compute_kpis",
        sanitize=False,
    )
    # ------------------------------------------------------------ payback
    setup_cost = fields.Monetary(
        string="Set-up Cost",
        compute="_compute_roi_inputs",
        store=True,
        readonly=False,
    )
    monthly_cost = fields.Monetary(
        string="Monthly Running Cost",
        compute="_compute_roi_inputs",
        store=True,
        readonly=False,
    )
    margin = fields.Float(
        string="Gross Margin (%)",
        compute="_compute_roi_inputs",
        store=True,
        readonly=False,
    )
    point_value = fields.Float(
        string="Value of a Point", related="program_id.point_value", digits=(16, 4)
    )
    roi_extra_revenue = fields.Monetary(
        string="Members' Extra Revenue per Month",
        compute="_compute_kpis",
        help="What active members spend per month beyond what as many non-members "
        "would spend: their purchases times their average check, minus the same "
        "at the non-members' frequency and average check.",
    )
    roi_extra_profit = fields.Monetary(
        string="Extra Gross Profit per Month", compute="_compute_kpis"
    )
    roi_points_cost = fields.Monetary(
        string="Cost of Points per Month",
        compute="_compute_kpis",
        help="Points spent per month times the value of a point.",
    )
    roi_net_monthly = fields.Monetary(
        string="Net Monthly Effect", compute="_compute_kpis"
    )
    roi_payback_months = fields.Float(
        string="Months to Pay Back",
        compute="_compute_kpis",
        help="Set-up cost divided by the net monthly effect (0: the program does "
        "not pay back at the measured effect).",
    )
    roi_pays_back = fields.Boolean(compute="_compute_kpis")

    # ------------------------------------------------------------ periods
    @api.model
    def _period_dates(self, period):
        today = fields.Date.context_today(self)
        if period == "month":
            return date_utils.start_of(today, "month"), today
        if period == "last_30":
            return today - timedelta(days=29), today
        if period == "quarter":
            return today - relativedelta(months=3) + timedelta(days=1), today
        if period == "year":
            return date_utils.start_of(today, "year"), today
        return today - relativedelta(years=1) + timedelta(days=1), today

    @api.onchange("period")
    def _onchange_period(self):
        if self.period != "custom":
            self.date_from, self.date_to = self._period_dates(self.period)

    @api.onchange("date_from", "date_to")
    def _onchange_dates(self):
        if (self.date_from, self.date_to) != self._period_dates(self.period):
            self.period = "custom"

    @api.depends("company_id")
    def _compute_program_id(self):
        for dashboard in self:
            dashboard.program_id = dashboard.company_id.loyalty_bonus_program_id

    @api.depends("program_id")
    def _compute_roi_inputs(self):
        for dashboard in self:
            program = dashboard.program_id
            dashboard.setup_cost = program.roi_setup_cost
            dashboard.monthly_cost = program.roi_monthly_cost
            dashboard.margin = program.roi_margin if program else 100.0

    @api.depends(
        "date_from", "date_to", "company_id", "setup_cost", "monthly_cost", "margin"
    )
    def _compute_kpis(self):
        for dashboard in self:
            if not (
                dashboard.date_from
                and dashboard.date_to
                and dashboard.date_from <= dashboard.date_to
            ):
                dashboard.update(self._empty_values())
                continue
            dashboard_company = self.with_company(dashboard.company_id)
            kpis = dashboard_company._loyalty_kpi_values(
                dashboard.date_from, dashboard.date_to
            )
            roi = self._loyalty_roi_values(
                kpis,
                dashboard.setup_cost,
                dashboard.monthly_cost,
                dashboard.margin,
                dashboard.point_value or 1.0,
            )
            portrait = dashboard_company._loyalty_portrait_values(
                dashboard.date_from, dashboard.date_to
            )
            values = {
                name: kpis[name]
                for name, field in self._fields.items()
                if name in kpis and field.compute == "_compute_kpis"
            }
            values.update(
                {
                    "roi_extra_revenue": roi["extra_revenue"],
                    "roi_extra_profit": roi["extra_profit"],
                    "roi_points_cost": roi["points_cost"],
                    "roi_net_monthly": roi["net_monthly"],
                    "roi_payback_months": roi["payback_months"] or 0.0,
                    "roi_pays_back": bool(roi["payback_months"]),
                    "tier_html": self._html_tiers(kpis["tiers"]),
                    "store_html": self._html_stores(kpis["stores"]),
                    "portrait_html": self._html_portrait(portrait),
                }
            )
            dashboard.update(values)

    def _empty_values(self):
        return {
            name: field.type in ("integer", "float", "monetary") and 0 or False
            for name, field in self._fields.items()
            if field.compute == "_compute_kpis"
        }

    # ------------------------------------------------------------ figures
    @api.model
    def _period_bounds(self, date_from, date_to):
        """UTC timestamps of the period's first and last day (whole days)."""
        date_from = fields.Date.to_date(date_from)
        date_to = fields.Date.to_date(date_to)
        if date_to < date_from:
            raise UserError(_("The period ends before it starts."))
        return (
            datetime.combine(date_from, time.min),
            datetime.combine(date_to + timedelta(days=1), time.min),
        )

    @api.model
    def _loyalty_kpi_values(self, date_from, date_to):
        """The program's figures for the period ``[date_from, date_to]`` (dates).

        A handful of SQL aggregates for the current company; the figures of
        today (members, outstanding points) don't depend on the period.
        Returns a dict (see the dashboard's fields for the meaning of each key;
        ``tiers`` and ``stores`` are lists of rows).
        """
        self.env.flush_all()
        start, end = self._period_bounds(date_from, date_to)
        company = self.env.company
        # purchases of the period, members vs others, per channel and store
        rows = self.env.execute_query(
            SQL(
                """
                SELECT pu.channel, pu.pos_config_id, pu.team_id, pu.is_member,
                       COUNT(*), COALESCE(SUM(pu.amount), 0),
                       COUNT(*) FILTER (WHERE pu.partner_id IS NOT NULL)
                  FROM (%s) pu
                 WHERE pu.date >= %s AND pu.date < %s AND pu.company_id = %s
              GROUP BY pu.channel, pu.pos_config_id, pu.team_id, pu.is_member
                """,
                purchases_sql(with_points=False),
                start,
                end,
                company.id,
            )
        )
        groups, by_store = {}, {}
        for channel, config_id, team_id, member, count, amount, known in rows:
            group = groups.setdefault((channel, member), [0, 0.0, 0])
            group[0] += count
            group[1] += float(amount)
            group[2] += known
            store = by_store.setdefault((channel, config_id, team_id), [0, 0.0, 0, 0.0])
            offset = 0 if member else 2
            store[offset] += count
            store[offset + 1] += float(amount)
        stores = sorted(
            ((*key, *values) for key, values in by_store.items()),
            key=lambda row: -(row[4] + row[6]),
        )

        def total(member, index, channel=None):
            return sum(
                value[index]
                for (chan, is_member), value in groups.items()
                if is_member == member and channel in (None, chan)
            )

        def avg_check(member, channel=None):
            return round(_div(total(member, 1, channel), total(member, 0, channel)), 2)

        # customers (all channels): the active members and the others counted
        # once even when they bought in both channels
        customers = self.env.execute_query(
            SQL(
                """
                WITH cust AS (
                    SELECT pu.partner_id,
                           BOOL_OR(pu.is_member) AS member,
                           BOOL_OR(NOT pu.is_member) AS non_member
                      FROM (%(purchases)s) pu
                     WHERE pu.partner_id IS NOT NULL AND pu.company_id = %(company)s
                       AND pu.date >= %(start)s AND pu.date < %(end)s
                  GROUP BY pu.partner_id
                )
                SELECT COUNT(*),
                       COUNT(*) FILTER (WHERE NOT EXISTS (
                           SELECT 1 FROM res_partner p
                             JOIN pos_order o ON o.partner_id = p.id
                            WHERE p.commercial_partner_id = cust.partner_id
                              AND o.date_order < %(start)s AND o.amount_total > 0
                              AND o.state IN %(pos_states)s
                              AND o.company_id = %(company)s
                       ) AND NOT EXISTS (
                           SELECT 1 FROM res_partner p
                             JOIN sale_order o ON o.partner_id = p.id
                            WHERE p.commercial_partner_id = cust.partner_id
                              AND o.date_order < %(start)s AND o.amount_total > 0
                              AND o.state IN %(sale_states)s
                              AND o.company_id = %(company)s
                       )),
                       COUNT(*) FILTER (WHERE member),
                       COUNT(*) FILTER (WHERE non_member)
                  FROM cust
                """,
                pos_states=POS_DONE_STATES,
                sale_states=SALE_DONE_STATES,
                purchases=purchases_sql(with_points=False),
                start=start,
                end=end,
                company=company.id,
            )
        )[0]
        # a customer who joined during the period is among both: the
        # purchases before joining count as a non-member's
        customer_count, new_customers, active, non_member_customers = customers
        # members (today) and those who joined in the period
        members_total, members_new = self.env.execute_query(
            SQL(
                """
                SELECT COUNT(*), COUNT(*) FILTER (WHERE m.since >= %s AND m.since < %s)
                  FROM res_partner p
                  JOIN loyalty_card c ON c.id = p.loyalty_card_id
                  JOIN (%s) m ON m.partner_id = p.id
                 WHERE p.loyalty_is_member AND p.active
                   AND (c.company_id = %s OR c.company_id IS NULL)
                """,
                start,
                end,
                member_since_sql(),
                company.id,
            )
        )[0]
        # points of the period
        points_rows = self.env.execute_query(
            SQL(
                """
                    SELECT l.entry_type, COALESCE(SUM(l.points), 0),
                           COUNT(DISTINCT (l.res_model, l.res_id)) FILTER (
                               WHERE l.entry_type = 'redemption'
                                 AND l.res_model IN ('pos.order', 'sale.order'))
                      FROM loyalty_ledger l
                     WHERE l.date >= %s AND l.date < %s AND l.state <> 'cancelled'
                       AND (l.company_id = %s OR l.company_id IS NULL)
                  GROUP BY l.entry_type
                    """,
                start,
                end,
                company.id,
            )
        )
        points = {entry_type: value for entry_type, value, _n in points_rows}
        # purchases paid partly with points: the orders the redemptions name
        with_points = sum(
            n for entry_type, _t, n in points_rows if entry_type == "redemption"
        )
        issued = float(points.get("accrual", 0) + points.get("bonus", 0))
        spent = -float(points.get("redemption", 0))
        expired = -float(points.get("expiry", 0))
        # what the program owes today
        liability_points, liability_value, pending = self.env.execute_query(
            SQL(
                """
                SELECT COALESCE(SUM(c.points), 0),
                       COALESCE(SUM(c.points * COALESCE(pr.point_value, 1)), 0),
                       COALESCE((SELECT SUM(l.points) FROM loyalty_ledger l
                                  WHERE l.state = 'pending'
                                    AND (l.company_id = %s OR l.company_id IS NULL)),
                                0)
                  FROM loyalty_card c
                  JOIN loyalty_program pr ON pr.id = c.program_id
                 WHERE c.is_bonus_card AND (c.company_id = %s OR c.company_id IS NULL)
                """,
                company.id,
                company.id,
            )
        )[0]
        tiers = self.env.execute_query(
            SQL(
                """
                SELECT t.id, COUNT(p.id)
                  FROM res_partner p
                  JOIN loyalty_card c ON c.id = p.loyalty_card_id
             LEFT JOIN loyalty_tier t ON t.id = p.loyalty_tier_id
                 WHERE p.loyalty_is_member AND p.active
                   AND (c.company_id = %s OR c.company_id IS NULL)
              GROUP BY t.id, t.min_spend
              ORDER BY t.min_spend NULLS FIRST
                """,
                company.id,
            )
        )
        purchases_member = total(True, 0)
        purchases_non_member = total(False, 0)
        revenue_member = total(True, 1)
        revenue_non_member = total(False, 1)
        known_non_member_purchases = total(False, 2)
        avg_member, avg_non_member = avg_check(True), avg_check(False)
        return {
            "date_from": fields.Date.to_date(date_from),
            "date_to": fields.Date.to_date(date_to),
            "months": (end - start).days / DAYS_PER_MONTH,
            "members_total": members_total,
            "members_new": members_new,
            "members_active": active,
            "members_active_share": _pct(active, members_total),
            "purchases_member": purchases_member,
            "purchases_non_member": purchases_non_member,
            "revenue_member": round(revenue_member, 2),
            "revenue_non_member": round(revenue_non_member, 2),
            "members_revenue_share": _pct(
                revenue_member, revenue_member + revenue_non_member
            ),
            "avg_check_member": avg_member,
            "avg_check_non_member": avg_non_member,
            "avg_check_uplift": _pct(avg_member - avg_non_member, avg_non_member)
            if avg_member and avg_non_member
            else 0.0,
            "avg_check_pos_member": avg_check(True, "pos"),
            "avg_check_pos_non_member": avg_check(False, "pos"),
            "avg_check_sale_member": avg_check(True, "sale"),
            "avg_check_sale_non_member": avg_check(False, "sale"),
            "frequency_member": _div(purchases_member, active),
            "frequency_non_member": _div(
                known_non_member_purchases, non_member_customers
            ),
            "customers_non_member": non_member_customers,
            "share_with_points": _pct(
                min(with_points, purchases_member), purchases_member
            ),
            "customers": customer_count,
            "customers_new": new_customers,
            "share_new_clients": _pct(new_customers, customer_count),
            "points_issued": round(issued, 2),
            "points_spent": round(spent, 2),
            "points_expired": round(expired, 2),
            "redemption_rate": _pct(spent, issued),
            "breakage_rate": _pct(expired, issued),
            "liability_points": round(float(liability_points), 2),
            "liability_value": round(float(liability_value), 2),
            "pending_points": round(float(pending), 2),
            "tiers": tiers,
            "stores": stores,
        }

    @api.model
    def _loyalty_roi_values(
        self, kpis, setup_cost, monthly_cost, margin=100.0, point_value=1.0
    ):
        """Payback of the program from measured figures (seed table 10).

        Extra revenue per month = active members x (members' frequency x their
        average check - non-members' frequency x their average check) / months;
        the net monthly effect is that extra revenue times the margin, minus the
        cost of the points spent and the running cost; the payback is the set-up
        cost divided by the net effect (None when it is not positive).
        Without known non-member customers, members' frequency stands for both.
        """
        months = kpis["months"] or 1.0
        active = kpis["members_active"]
        freq_member = kpis["frequency_member"]
        freq_other = (
            kpis["frequency_non_member"]
            if kpis.get("customers_non_member")
            else freq_member
        )
        extra = active * (
            freq_member * kpis["avg_check_member"]
            - freq_other * kpis["avg_check_non_member"]
        )
        if not kpis["avg_check_non_member"]:
            extra = 0.0  # nothing to compare with
        extra_revenue = round(extra / months, 2)
        extra_profit = round(extra_revenue * (margin or 0.0) / 100.0, 2)
        points_cost = round(kpis["points_spent"] * (point_value or 0.0) / months, 2)
        net = round(extra_profit - points_cost - (monthly_cost or 0.0), 2)
        payback = round((setup_cost or 0.0) / net, 1) if net > 0 else None
        return {
            "extra_revenue": extra_revenue,
            "extra_profit": extra_profit,
            "points_cost": points_cost,
            "net_monthly": net,
            "payback_months": payback,
        }

    @api.model
    def _loyalty_portrait_values(self, date_from, date_to):
        """Distributions of the loyal customers (top fifth of the members by
        spend in the period) against all members: ``{dimension: [(label,
        top %, all %)]}`` for age group, gender, marital status, city and the
        product categories bought (share of spend).
        """
        self.env.flush_all()
        start, end = self._period_bounds(date_from, date_to)
        company = self.env.company
        segment_cte = SQL(
            """
            WITH spend AS (
                SELECT pu.partner_id, SUM(pu.amount) AS spend
                  FROM (%(purchases)s) pu
                 WHERE pu.is_member AND pu.date >= %(start)s AND pu.date < %(end)s
                   AND pu.company_id = %(company)s
              GROUP BY pu.partner_id
            ), members AS MATERIALIZED (
                SELECT p.id, p.loyalty_birthdate, p.loyalty_gender,
                       p.loyalty_marital_status, p.city,
                       pa.partner_id IS NOT NULL AS promo,
                       COALESCE(s.spend, 0) > 0 AND percent_rank() OVER (
                           ORDER BY COALESCE(s.spend, 0) DESC, p.id) < %(top)s AS top
                  FROM res_partner p
                  JOIN loyalty_card c ON c.id = p.loyalty_card_id
             LEFT JOIN spend s ON s.partner_id = p.id
             LEFT JOIN (SELECT DISTINCT pr.partner_id FROM (%(promo)s) pr
                         WHERE pr.promos > 0) pa ON pa.partner_id = p.id
                 WHERE p.loyalty_is_member AND p.active
                   AND (c.company_id = %(company)s OR c.company_id IS NULL)
            )
            """,
            promo=self.env["loyalty.member.report"]._promo_participation_sql(),
            purchases=purchases_sql(with_points=False),
            start=start,
            end=end,
            company=company.id,
            top=TOP_SHARE,
        )
        age = SQL(
            """
            CASE
              WHEN loyalty_birthdate IS NULL THEN 'unknown'
              WHEN age(loyalty_birthdate) < interval '25 years' THEN 'under_25'
              WHEN age(loyalty_birthdate) < interval '35 years' THEN '25_34'
              WHEN age(loyalty_birthdate) < interval '45 years' THEN '35_44'
              WHEN age(loyalty_birthdate) < interval '55 years' THEN '45_54'
              ELSE '55_plus'
            END
            """
        )
        dimensions = {
            "age_group": age,
            "gender": SQL("COALESCE(loyalty_gender, 'unknown')"),
            "promo": SQL("CASE WHEN promo THEN 'yes' ELSE 'no' END"),
            "marital_status": SQL("COALESCE(loyalty_marital_status, 'unknown')"),
            "city": SQL("COALESCE(NULLIF(TRIM(city), ''), 'unknown')"),
        }
        # one pass over the members for every dimension, and the categories
        # bought (share of the spend of each group)
        dimension_sql = SQL(" UNION ALL ").join(
            SQL(
                "SELECT %s, %s AS value, COUNT(*) FILTER (WHERE top)::float,"
                " COUNT(*)::float FROM members GROUP BY 2",
                name,
                expression,
            )
            for name, expression in dimensions.items()
        )
        rows = self.env.execute_query(
            SQL(
                """
                %(members)s, lines AS (
                    SELECT o.partner_id, t.categ_id, l.price_subtotal_incl AS amount
                      FROM pos_order_line l
                      JOIN pos_order o ON o.id = l.order_id
                      JOIN product_product pp ON pp.id = l.product_id
                      JOIN product_template t ON t.id = pp.product_tmpl_id
                     WHERE o.state IN %(pos_states)s
                       AND o.date_order >= %(start)s AND o.date_order < %(end)s
                       AND o.company_id = %(company)s
                 UNION ALL
                    SELECT o.partner_id, t.categ_id, l.price_total
                      FROM sale_order_line l
                      JOIN sale_order o ON o.id = l.order_id
                      JOIN product_product pp ON pp.id = l.product_id
                      JOIN product_template t ON t.id = pp.product_tmpl_id
                     WHERE o.state IN %(sale_states)s AND l.display_type IS NULL
                       AND o.date_order >= %(start)s AND o.date_order < %(end)s
                       AND o.company_id = %(company)s
                )
                %(dimensions)s
                UNION ALL
                SELECT 'category', lines.categ_id::text,
                       COALESCE(SUM(lines.amount) FILTER (WHERE m.top), 0)::float,
                       COALESCE(SUM(lines.amount), 0)::float
                  FROM lines
                  JOIN res_partner p ON p.id = lines.partner_id
                  JOIN members m ON m.id = p.commercial_partner_id
                 WHERE lines.amount > 0
              GROUP BY lines.categ_id
                """,
                members=segment_cte,
                dimensions=dimension_sql,
                pos_states=POS_DONE_STATES,
                sale_states=SALE_DONE_STATES,
                start=start,
                end=end,
                company=company.id,
            )
        )
        grouped = {name: [] for name in (*dimensions, "category")}
        for name, value, top, whole in sorted(
            rows, key=lambda row: (row[0], -row[3], row[1])
        ):
            grouped[name].append((value, top, whole))
        categories = self.env["product.category"].browse(
            [int(value) for value, _top, _whole in grouped["category"]]
        )
        names = dict(
            zip(categories.ids, categories.mapped("display_name"), strict=True)
        )
        grouped["category"] = [
            (names.get(int(value), ""), top, whole)
            for value, top, whole in grouped["category"]
        ]
        return {name: self._shares(values) for name, values in grouped.items()}

    @api.model
    def _shares(self, rows, limit=8):
        """``[(value, top, all)]`` counts or sums -> ``[(value, top %, all %)]``."""
        top_total = sum(float(r[1]) for r in rows)
        all_total = sum(float(r[2]) for r in rows)
        return [
            (value, _pct(float(top), top_total), _pct(float(whole), all_total))
            for value, top, whole in rows[:limit]
        ]

    # ------------------------------------------------------------ rendering
    def _html_table(self, headers, rows):
        head = Markup("").join(Markup("<th>%s</th>") % h for h in headers)
        body = Markup("").join(
            Markup("<tr>%s</tr>")
            % Markup("").join(Markup("<td>%s</td>") % cell for cell in row)
            for row in rows
        )
        return Markup(
            '<table class="table table-sm o_loyalty_dashboard_table">'
            "<thead><tr>%s</tr></thead><tbody>%s</tbody></table>"
        ) % (head, body)

    def _html_tiers(self, tiers):
        names = {
            t.id: t.name
            for t in self.env["loyalty.tier"].browse(
                [tier_id for tier_id, _count in tiers if tier_id]
            )
        }
        total = sum(count for _tier, count in tiers)
        no_tier = _("No tier")
        rows = [
            (
                names.get(tier_id) or no_tier,
                count,
                f"{_pct(count, total):.1f} %",
            )
            for tier_id, count in tiers
        ]
        return self._html_table([_("Tier"), _("Members"), _("Share")], rows)

    def _html_stores(self, stores):
        # store names only, for managers who don't run the POS themselves
        configs = (
            self.env["pos.config"]
            .sudo()
            .browse([row[1] for row in stores if row[1]])
            .exists()
        )
        teams = (
            self.env["crm.team"]
            .sudo()
            .browse([row[2] for row in stores if row[2]])
            .exists()
        )
        config_names = dict(zip(configs.ids, configs.mapped("name"), strict=True))
        team_names = dict(zip(teams.ids, teams.mapped("name"), strict=True))
        rows = []
        for channel, config_id, team_id, m_count, m_amount, o_count, o_amount in stores:
            if channel == "pos":
                name = config_names.get(config_id) or _("Point of Sale")
            else:
                name = team_names.get(team_id) or _("Sales")
            rows.append(
                (
                    name,
                    m_count,
                    f"{_div(float(m_amount), m_count):,.2f}",
                    o_count,
                    f"{_div(float(o_amount), o_count):,.2f}",
                    f"{_pct(float(m_amount), float(m_amount) + float(o_amount)):.1f} %",
                )
            )
        return self._html_table(
            [
                _("Store"),
                _("Members' purchases"),
                _("Members' average check"),
                _("Other purchases"),
                _("Others' average check"),
                _("Members' share of revenue"),
            ],
            rows,
        )

    def _html_portrait(self, portrait):
        report_fields = self.env["loyalty.member.report"]._fields
        labels = {
            name: dict(report_fields[name]._description_selection(self.env))
            for name in ("age_group", "gender", "marital_status")
        }
        titles = {
            "age_group": _("Age"),
            "gender": _("Gender"),
            "marital_status": _("Marital Status"),
            "city": _("City"),
            "promo": _("Promotions (ever)"),
            "category": _("Categories bought (share of spend)"),
        }
        parts = []
        not_given = _("Not given")
        labels["promo"] = {
            "yes": _("Took part"),
            "no": _("Did not take part"),
        }
        for name, title in titles.items():
            selection = labels.get(name, {})
            rows = [
                (
                    not_given if value == "unknown" else selection.get(value, value),
                    f"{top:.1f} %",
                    f"{whole:.1f} %",
                )
                for value, top, whole in portrait.get(name, [])
            ]
            parts.append(
                Markup("<h5>%s</h5>") % title
                + self._html_table(
                    [title, _("Top 20 % of members"), _("All members")], rows
                )
            )
        return Markup("").join(parts)

    # ------------------------------------------------------------ actions
    def _period_domain(self):
        start, end = self._period_bounds(self.date_from, self.date_to)
        return [("date", ">=", start), ("date", "<", end)]

    def _open_report(self, xmlid, domain=None):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(xmlid)
        action["domain"] = domain if domain is not None else self._period_domain()
        return action

    def action_open_purchases(self):
        return self._open_report("loyalty_crm.loyalty_purchase_report_action")

    def action_open_points(self):
        return self._open_report("loyalty_crm.loyalty_points_report_action")

    def action_open_portrait(self):
        return self._open_report("loyalty_crm.loyalty_member_report_action", [])

    def action_refresh(self):
        return {
            "type": "ir.actions.act_window",
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
            "target": "current",
        }

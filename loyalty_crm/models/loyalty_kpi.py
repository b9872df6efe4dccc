"""Facts of the bonus program, kept by a job so that the dashboard reads a few
thousand rows whatever the size of the base.

All of them are derived from the one definition of a purchase
(:mod:`.loyalty_purchase`) and from the ledger; they are written only here, in a
few set-based statements per month, never record by record:

* ``loyalty.kpi.purchase``: per month, company, channel, store / sales team and
  member or not: purchases, revenue, purchases of known customers, purchases
  paid partly with points;
* ``loyalty.kpi.points``: per month, company and entry type: points (every
  entry that is not cancelled), points in the balance, pending points, their
  value;
* ``loyalty.kpi.member``: per month of joining, company and tier: the members
  of today (a member's tier is today's);
* ``loyalty.kpi.customer``: per customer and month: their member and other
  purchases (the input of the next one, not read by the dashboard);
* ``loyalty.kpi.active``: per company, kind (member / other / any purchase),
  month and *previous* month with a purchase of that kind: customers. A
  customer bought in the months ``[a, b]`` exactly once "for the first time
  within the range": in the month ``m`` of ``[a, b]`` whose previous month with
  a purchase is before ``a``. So the distinct customers of any range of months
  are ``SUM(customers) WHERE month BETWEEN a AND b AND (prev_month < a OR
  prev_month IS NULL)`` — a sum over at most months² / 2 rows, and those whose
  first purchase ever is in the range are the rows without a previous month.

``loyalty.analytics._refresh_facts()`` recomputes the months that changed since
its last run (orders, ledger entries and cards written since), the cron runs it
every hour, and recomputes every month once a day; ``full=True`` recomputes
every month.
"""

import logging
from datetime import timedelta

from odoo import _, api, fields, models
from odoo.exceptions import AccessError
from odoo.tools import SQL
from odoo.tools.sql import create_index

from .loyalty_ledger import BALANCE_STATES

_logger = logging.getLogger(__name__)

REFRESHED_AT = "loyalty_crm.analytics_refreshed_at"
FULL_REFRESHED_AT = "loyalty_crm.analytics_full_refreshed_at"
CHANNELS = [("pos", "Point of Sale"), ("sale", "Sales")]
KINDS = [("member", "Members"), ("other", "Non-members"), ("any", "All customers")]


class LoyaltyKpiPurchase(models.Model):
    _name = "loyalty.kpi.purchase"
    _description = "Purchases per Month (Facts)"
    _log_access = False
    _order = "month"

    month = fields.Date(required=True, readonly=True, index=True)
    company_id = fields.Many2one("res.company", readonly=True, ondelete="cascade")
    channel = fields.Selection(CHANNELS, readonly=True)
    pos_config_id = fields.Many2one(
        "pos.config", string="Store", readonly=True, ondelete="cascade"
    )
    team_id = fields.Many2one(
        "crm.team", string="Sales Team", readonly=True, ondelete="cascade"
    )
    is_member = fields.Boolean(string="Member Purchases", readonly=True)
    purchases = fields.Integer(readonly=True)
    revenue = fields.Float(readonly=True, digits=(16, 2))
    known_purchases = fields.Integer(
        string="Purchases of Known Customers", readonly=True
    )
    with_points = fields.Integer(string="Paid Partly with Points", readonly=True)

    def init(self):
        # what the refresh looks for: documents written since its last run
        for table in ("pos_order", "sale_order", "loyalty_ledger", "loyalty_card"):
            create_index(
                self.env.cr,
                f"{table}_loyalty_write_date_index",
                table,
                ["write_date"],
            )


class LoyaltyKpiPoints(models.Model):
    _name = "loyalty.kpi.points"
    _description = "Points per Month (Facts)"
    _log_access = False
    _order = "month"

    month = fields.Date(required=True, readonly=True, index=True)
    company_id = fields.Many2one("res.company", readonly=True, ondelete="cascade")
    entry_type = fields.Char(readonly=True)
    points = fields.Float(readonly=True, digits=(16, 2))
    balance_points = fields.Float(
        string="Points in the Balance", readonly=True, digits=(16, 2)
    )
    pending_points = fields.Float(readonly=True, digits=(16, 2))
    value = fields.Float(readonly=True, digits=(16, 2))
    balance_value = fields.Float(readonly=True, digits=(16, 2))
    entries = fields.Integer(readonly=True)


class LoyaltyKpiMember(models.Model):
    _name = "loyalty.kpi.member"
    _description = "Members per Month of Joining (Facts)"
    _log_access = False
    _order = "month"

    month = fields.Date(required=True, readonly=True, index=True)
    company_id = fields.Many2one("res.company", readonly=True, ondelete="cascade")
    tier_id = fields.Many2one("loyalty.tier", readonly=True, ondelete="cascade")
    members = fields.Integer(readonly=True)


class LoyaltyKpiCustomer(models.Model):
    _name = "loyalty.kpi.customer"
    _description = "Purchases per Customer and Month (Facts)"
    _log_access = False
    _order = "month"

    # plain ids, not foreign keys: a full refresh writes one row per customer
    # and month, and a foreign key would check (and lock) the partner of each
    month = fields.Date(required=True, readonly=True, index=True)
    company_id = fields.Integer(string="Company", readonly=True)
    partner_id = fields.Integer(string="Customer", readonly=True, index=True)
    member_purchases = fields.Integer(readonly=True)
    other_purchases = fields.Integer(readonly=True)

    def init(self):
        # databases from before these were plain ids
        for column in ("company_id", "partner_id"):
            self.env.cr.execute(
                SQL(
                    "ALTER TABLE loyalty_kpi_customer DROP CONSTRAINT IF EXISTS %s",
                    SQL.identifier(f"loyalty_kpi_customer_{column}_fkey"),
                )
            )


class LoyaltyKpiActive(models.Model):
    _name = "loyalty.kpi.active"
    _description = "Customers per Month and Previous Month (Facts)"
    _log_access = False
    _order = "month"

    month = fields.Date(required=True, readonly=True, index=True)
    prev_month = fields.Date(string="Previous Month", readonly=True)
    company_id = fields.Many2one("res.company", readonly=True, ondelete="cascade")
    kind = fields.Selection(KINDS, readonly=True)
    customers = fields.Integer(readonly=True)


class LoyaltyAnalytics(models.AbstractModel):
    _name = "loyalty.analytics"
    _description = "Bonus Program Analytics"

    @api.model
    def _check_manager(self):
        if not (
            self.env.su or self.env.user.has_group("loyalty_crm.group_loyalty_manager")
        ):
            raise AccessError(
                _("Only Loyalty Managers can read the program's analytics.")
            )

    @api.model
    def _cron_refresh_facts(self):
        """Hourly: the months that changed; once a day, every month (what the
        hourly run cannot see: a member archived, a tier or a point value
        changed, an order moved to another customer)."""
        self.with_context(loyalty_facts_daily_full=True)._refresh_facts()
        return True

    @api.model
    def action_refresh_facts(self):
        """The dashboard's refresh button: the months changed since the last run."""
        self._check_manager()
        self.sudo()._refresh_facts()
        return True

    @api.model
    def _refresh_facts(self, full=False):
        """Recompute the facts of the months that changed (every month with
        ``full``). Returns the months recomputed (first days)."""
        self.env.flush_all()
        cr = self.env.cr
        # sorts and hashes of a batch job over the whole history: in memory
        cr.execute("SET LOCAL work_mem = '64MB'")
        params = self.env["ir.config_parameter"].sudo()
        last = params.get_param(REFRESHED_AT)
        # the next run looks for what was written from the start of the oldest
        # transaction still running now: those may commit after this one's
        # snapshot, with a write date before it
        now = self.env.execute_query(
            SQL(
                """
                SELECT LEAST(now(), MIN(xact_start)) AT TIME ZONE 'UTC'
                  FROM pg_stat_activity
                 WHERE datname = current_database() AND xact_start IS NOT NULL
                """
            )
        )[0][0]
        if not full and self.env.context.get("loyalty_facts_daily_full"):
            last_full = params.get_param(FULL_REFRESHED_AT)
            full = not last_full or fields.Datetime.to_datetime(
                last_full
            ) < fields.Datetime.now() - timedelta(days=1)
        if full or not last:
            months = None
        else:
            months = [
                row[0]
                for row in self.env.execute_query(
                    SQL(
                        """
                        SELECT DISTINCT date_trunc('month', d)::date FROM (
                            SELECT date_order AS d FROM pos_order
                             WHERE write_date >= %(since)s
                         UNION ALL
                            SELECT date_order FROM sale_order
                             WHERE write_date >= %(since)s
                         UNION ALL
                            SELECT date FROM loyalty_ledger
                             WHERE write_date >= %(since)s
                         UNION ALL
                            SELECT p.loyalty_member_since
                              FROM loyalty_card c
                              JOIN res_partner p ON p.id = c.partner_id
                             WHERE c.write_date >= %(since)s
                         UNION ALL
                            SELECT k.month
                              FROM loyalty_card c
                              JOIN loyalty_kpi_customer k
                                ON k.partner_id = c.partner_id
                             WHERE c.write_date >= %(since)s
                        ) t WHERE d IS NOT NULL
                        """,
                        since=last,
                    )
                )
            ]
        if full:
            # member since is kept by the ORM; documents dated back by SQL
            # (imports, the demo) are caught up here
            cr.execute(
                """
                UPDATE res_partner p SET loyalty_member_since = m.since
                  FROM (SELECT partner_id, MIN(create_date) AS since
                          FROM loyalty_card
                         WHERE is_bonus_card AND partner_id IS NOT NULL
                      GROUP BY partner_id) m
                 WHERE m.partner_id = p.id
                   AND p.loyalty_member_since IS DISTINCT FROM m.since
                """
            )
            self.env["res.partner"].invalidate_model(["loyalty_member_since"])
        if months is None or months:
            # a new member writes a card: the month they joined is among these
            self._refresh_months(months)
            self._refresh_members()
            self._refresh_active()
        params.set_param(REFRESHED_AT, fields.Datetime.to_string(now))
        if months is None:
            params.set_param(FULL_REFRESHED_AT, fields.Datetime.to_string(now))
        _logger.info(
            "Analytics facts refreshed (%s)",
            "every month" if months is None else f"{len(months)} months",
        )
        return months

    def _month_filter(self, months, column):
        """SQL condition: ``column`` (a timestamp) in one of the months, or TRUE."""
        if months is None:
            return SQL("TRUE")
        return SQL(
            "(%s >= %s AND %s < %s AND date_trunc('month', %s)::date = ANY(%s))",
            column,
            min(months),
            column,
            fields.Date.add(max(months), months=1),
            column,
            list(months),
        )

    def _refresh_months(self, months):
        cr = self.env.cr
        where_month = (
            SQL("TRUE") if months is None else SQL("month = ANY(%s)", list(months))
        )
        for table in ("loyalty_kpi_purchase", "loyalty_kpi_points"):
            cr.execute(
                SQL("DELETE FROM %s WHERE %s", SQL.identifier(table), where_month)
            )
        cr.execute(SQL("DELETE FROM loyalty_kpi_customer WHERE %s", where_month))
        cr.execute(
            SQL(
                """
                INSERT INTO loyalty_kpi_purchase
                       (month, company_id, channel, pos_config_id, team_id, is_member,
                        purchases, revenue, known_purchases, with_points)
                SELECT date_trunc('month', pu.date)::date, pu.company_id, pu.channel,
                       pu.pos_config_id, pu.team_id, pu.is_member, COUNT(*),
                       SUM(pu.amount), COUNT(pu.partner_id),
                       COUNT(*) FILTER (WHERE EXISTS (
                           SELECT 1 FROM loyalty_ledger l
                            WHERE l.res_id = pu.res_id AND l.res_model = pu.res_model
                              AND l.entry_type = 'redemption'
                              AND l.state <> 'cancelled'))
                  FROM loyalty_purchase pu
                 WHERE %s
              GROUP BY 1, 2, 3, 4, 5, 6
                """,
                self._month_filter(months, SQL("pu.date")),
            )
        )
        cr.execute(
            SQL(
                """
                INSERT INTO loyalty_kpi_customer
                       (month, company_id, partner_id,
                        member_purchases, other_purchases)
                SELECT date_trunc('month', pu.date)::date, pu.company_id, pu.partner_id,
                       COUNT(*) FILTER (WHERE pu.is_member),
                       COUNT(*) FILTER (WHERE NOT pu.is_member)
                  FROM loyalty_purchase pu
                 WHERE pu.partner_id IS NOT NULL AND %s
              GROUP BY 1, 2, 3
                """,
                self._month_filter(months, SQL("pu.date")),
            )
        )
        cr.execute(
            SQL(
                """
                INSERT INTO loyalty_kpi_points
                       (month, company_id, entry_type, points, balance_points,
                        pending_points, value, balance_value, entries)
                SELECT date_trunc('month', l.date)::date, l.company_id, l.entry_type,
                       SUM(l.points),
                       COALESCE(SUM(l.points) FILTER (WHERE l.state IN %(bal)s), 0),
                       COALESCE(SUM(l.points) FILTER (WHERE l.state = 'pending'), 0),
                       SUM(l.points * COALESCE(pr.point_value, 1)),
                       COALESCE(SUM(l.points * COALESCE(pr.point_value, 1))
                                FILTER (WHERE l.state IN %(bal)s), 0),
                       COUNT(*)
                  FROM loyalty_ledger l
             LEFT JOIN loyalty_program pr ON pr.id = l.program_id
                 WHERE l.state <> 'cancelled' AND %(month)s
              GROUP BY 1, 2, 3
                """,
                bal=BALANCE_STATES,
                month=self._month_filter(months, SQL("l.date")),
            )
        )

    def _refresh_members(self):
        """Members of today by month of joining and tier (one pass, small)."""
        cr = self.env.cr
        cr.execute("DELETE FROM loyalty_kpi_member")
        cr.execute(
            """
            INSERT INTO loyalty_kpi_member (month, company_id, tier_id, members)
            SELECT date_trunc('month', p.loyalty_member_since)::date, c.company_id,
                   p.loyalty_tier_id, COUNT(*)
              FROM res_partner p
              JOIN loyalty_card c ON c.id = p.loyalty_card_id
             WHERE p.loyalty_is_member AND p.active
               AND p.loyalty_member_since IS NOT NULL
          GROUP BY 1, 2, 3
            """
        )

    def _refresh_active(self):
        """Customers per (month, previous month with a purchase), per kind."""
        cr = self.env.cr
        cr.execute("DELETE FROM loyalty_kpi_active")
        # one sort of the customer-months: the previous month of each kind
        # is the latest month of that kind before this one
        cr.execute(
            """
            INSERT INTO loyalty_kpi_active
                   (company_id, kind, month, prev_month, customers)
            SELECT t.company_id, v.kind, t.month, v.prev, COUNT(*)
              FROM (
                SELECT company_id, month,
                       member_purchases > 0 AS is_member,
                       other_purchases > 0 AS is_other,
                       MAX(month) FILTER (WHERE member_purchases > 0) OVER w
                           AS prev_member,
                       MAX(month) FILTER (WHERE other_purchases > 0) OVER w
                           AS prev_other,
                       MAX(month) OVER w AS prev_any
                  FROM loyalty_kpi_customer
                WINDOW w AS (PARTITION BY company_id, partner_id ORDER BY month
                             ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
              ) t
        CROSS JOIN LATERAL (
                VALUES ('member', t.is_member, t.prev_member),
                       ('other', t.is_other, t.prev_other),
                       ('any', TRUE, t.prev_any)
              ) v (kind, present, prev)
             WHERE v.present
          GROUP BY 1, 2, 3, 4
            """
        )

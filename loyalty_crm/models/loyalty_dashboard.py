"""The bonus program's dashboard: the figures an owner looks at first.

An Owl client action (``static/src/dashboard``) asks
:meth:`LoyaltyDashboard.get_dashboard_data` for a period of whole months and
draws the figures, each compared with the period before, and the trend charts
with the chart library Odoo ships. Every figure is read from the facts that
:mod:`.loyalty_kpi` keeps (a few thousand rows at most), never from the order
history, so the page opens in the same time on 10 thousand or a million
members. The payback estimate follows the retailer's usual table (set-up cost,
running cost, average check and its uplift), with the uplift measured from the
data instead of assumed.
"""

from datetime import timedelta

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL, date_utils

PERIOD_MONTHS = (1, 3, 6, 12, 24)
DAYS_PER_MONTH = 365.25 / 12
MAX_MONEY = 10**12  # payback inputs beyond this are refused
CHART_MONTHS = 12  # the charts show at least a year


def _pct(part, whole):
    return round(100.0 * part / whole, 2) if whole else 0.0


def _div(part, whole, digits=2):
    return round(part / whole, digits) if whole else 0.0


def _month(value):
    return date_utils.start_of(fields.Date.to_date(value), "month")


def _add_months(month, count):
    return fields.Date.add(month, months=count)


class LoyaltyDashboard(models.TransientModel):
    """No records: the client action calls the ``api.model`` methods below."""

    _name = "loyalty.dashboard"
    _description = "Bonus Program Dashboard"

    # ------------------------------------------------------------ periods
    @api.model
    def _month_range(self, date_from, date_to):
        """First days of the period's first and last months."""
        first, last = _month(date_from), _month(date_to)
        if last < first:
            raise UserError(_("The period ends before it starts."))
        if (last.year - first.year) * 12 + last.month - first.month >= 120:
            raise UserError(_("The period cannot be longer than ten years."))
        return first, last

    @api.model
    def _months_between(self, first, last):
        months, month = [], first
        while month <= last:
            months.append(month)
            month = _add_months(month, 1)
        return months

    @api.model
    def _period_months(self, first, last):
        """Length of the period in months (the current month up to today)."""
        today = fields.Date.context_today(self)
        end = min(_add_months(last, 1), today + timedelta(days=1))
        return max((end - first).days, 1) / DAYS_PER_MONTH

    # ------------------------------------------------------------ figures
    @api.model
    def _loyalty_kpi_values(self, date_from, date_to):
        """The program's figures for the whole months from ``date_from``'s to
        ``date_to``'s, for the current company, read from the facts.

        Returns a dict (keys: see the cards of the dashboard); ``series`` holds
        one value per month of ``chart_months`` for the charts.
        """
        first, last = self._month_range(date_from, date_to)
        return self._loyalty_figures(first, last)[0]

    @api.model
    def _loyalty_figures(self, first, last, previous=None, chart_first=None):
        """Figures of ``[first, last]`` (and of ``previous``, another range),
        with monthly series from ``chart_first`` to ``last``: a fixed number of
        queries on the facts whatever the size of the base."""
        company = self.env.company
        chart_first = min(chart_first or first, first)
        ranges = {"period": (first, last)}
        if previous:
            ranges["previous"] = previous
        chart = self._months_between(chart_first, last)
        low = min([chart_first] + [r[0] for r in ranges.values()])
        # purchases per month, member or not
        purchase_rows = self.env.execute_query(
            SQL(
                """
                SELECT month, is_member, channel, SUM(purchases), SUM(revenue),
                       SUM(known_purchases), SUM(with_points)
                  FROM loyalty_kpi_purchase
                 WHERE company_id = %s AND month >= %s AND month <= %s
              GROUP BY month, is_member, channel
                """,
                company.id,
                low,
                last,
            )
        )
        # points per month (all of history: the liability is cumulative)
        points_rows = self.env.execute_query(
            SQL(
                """
                SELECT month, entry_type, SUM(points), SUM(balance_points),
                       SUM(pending_points), SUM(balance_value)
                  FROM loyalty_kpi_points
                 WHERE (company_id = %s OR company_id IS NULL) AND month <= %s
              GROUP BY month, entry_type
                """,
                company.id,
                last,
            )
        )
        # members of today by month of joining and tier
        member_rows = self.env.execute_query(
            SQL(
                """
                SELECT month, tier_id, SUM(members)
                  FROM loyalty_kpi_member
                 WHERE company_id = %s OR company_id IS NULL
              GROUP BY month, tier_id
                """,
                company.id,
            )
        )
        # distinct customers of each range (see loyalty_kpi)
        keyed = [(key, a, b) for key, (a, b) in ranges.items()] + [
            (month.isoformat(), month, month) for month in chart
        ]
        active_rows = self.env.execute_query(
            SQL(
                """
                SELECT r.key, a.kind, SUM(a.customers),
                       SUM(a.customers) FILTER (WHERE a.prev_month IS NULL)
                  FROM loyalty_kpi_active a
                  JOIN (VALUES %s) r (key, first, last)
                    ON a.month >= r.first AND a.month <= r.last
                   AND (a.prev_month IS NULL OR a.prev_month < r.first)
                 WHERE a.company_id = %s
              GROUP BY r.key, a.kind
                """,
                SQL(", ").join(
                    SQL("(%s, %s::date, %s::date)", key, a, b) for key, a, b in keyed
                ),
                company.id,
            )
        )
        active = {(key, kind): (n or 0, new or 0) for key, kind, n, new in active_rows}

        def purchases_in(a, b):
            acc = {}
            for month, member, channel, n, revenue, known, with_points in purchase_rows:
                if a <= month <= b:
                    for key in ((member, None), (member, channel)):
                        row = acc.setdefault(key, [0, 0.0, 0, 0])
                        row[0] += n
                        row[1] += float(revenue or 0)
                        row[2] += known
                        row[3] += with_points
            return acc

        def points_in(a, b):
            acc = {}
            for month, entry_type, pts, _bal, _pend, _val in points_rows:
                if a <= month <= b:
                    acc[entry_type] = acc.get(entry_type, 0.0) + float(pts or 0)
            return acc

        def figures(key, a, b):
            acc = purchases_in(a, b)
            zero = [0, 0.0, 0, 0]
            mem, other = acc.get((True, None), zero), acc.get((False, None), zero)
            pts = points_in(a, b)
            issued = pts.get("accrual", 0.0) + pts.get("bonus", 0.0)
            spent = -pts.get("redemption", 0.0)
            expired = -pts.get("expiry", 0.0)
            active_members = active.get((key, "member"), (0, 0))[0]
            other_customers = active.get((key, "other"), (0, 0))[0]
            customers, new_customers = active.get((key, "any"), (0, 0))
            joined = sum(n for month, _t, n in member_rows if a <= month <= b)
            members = sum(n for month, _t, n in member_rows if month <= b)
            balance = sum(float(r[3] or 0) for r in points_rows if r[0] <= b)
            balance_value = sum(float(r[5] or 0) for r in points_rows if r[0] <= b)
            avg_member, avg_other = _div(mem[1], mem[0]), _div(other[1], other[0])

            def avg(member, channel):
                row = acc.get((member, channel), zero)
                return _div(row[1], row[0])

            return {
                "date_from": a,
                "date_to": _add_months(b, 1) - timedelta(days=1),
                "months": self._period_months(a, b),
                "members_total": members,
                "members_new": joined,
                "members_active": active_members,
                "members_active_share": _pct(active_members, members),
                "purchases_member": mem[0],
                "purchases_non_member": other[0],
                "revenue_member": round(mem[1], 2),
                "revenue_non_member": round(other[1], 2),
                "members_revenue_share": _pct(mem[1], mem[1] + other[1]),
                "avg_check_member": avg_member,
                "avg_check_non_member": avg_other,
                "avg_check_uplift": _pct(avg_member - avg_other, avg_other)
                if avg_member and avg_other
                else 0.0,
                "avg_check_pos_member": avg(True, "pos"),
                "avg_check_pos_non_member": avg(False, "pos"),
                "avg_check_sale_member": avg(True, "sale"),
                "avg_check_sale_non_member": avg(False, "sale"),
                "frequency_member": _div(mem[0], active_members),
                "frequency_non_member": _div(other[2], other_customers),
                "customers_non_member": other_customers,
                "share_with_points": _pct(min(mem[3], mem[0]), mem[0]),
                "customers": customers,
                "customers_new": new_customers,
                "share_new_clients": _pct(new_customers, customers),
                "points_issued": round(issued, 2),
                "points_spent": round(spent, 2),
                "points_expired": round(expired, 2),
                "redemption_rate": _pct(spent, issued),
                "breakage_rate": _pct(expired, issued),
                "liability_points": round(balance, 2),
                "liability_value": round(balance_value, 2),
                "pending_points": round(
                    sum(float(r[4] or 0) for r in points_rows if r[0] <= b), 2
                ),
            }

        result = {key: figures(key, a, b) for key, (a, b) in ranges.items()}
        period = result["period"]
        tiers = {}
        for _m, tier_id, n in member_rows:
            tiers[tier_id] = tiers.get(tier_id, 0) + n
        period["tiers"] = sorted(tiers.items(), key=lambda t: (t[0] or 0))
        period["series"] = {"months": [m.isoformat() for m in chart]}
        series = [figures(m.isoformat(), m, m) for m in chart]
        for name in (
            "members_total",
            "members_active",
            "avg_check_member",
            "avg_check_non_member",
            "points_issued",
            "points_spent",
            "points_expired",
            "breakage_rate",
            "liability_value",
            "liability_points",
        ):
            period["series"][name] = [row[name] for row in series]
        return period, result.get("previous")

    @api.model
    def _loyalty_stores(self, first, last):
        """Purchases, average checks and members' share of revenue per store
        (POS) and sales team over the months ``[first, last]``."""
        rows = self.env.execute_query(
            SQL(
                """
                SELECT channel, pos_config_id, team_id,
                       SUM(purchases) FILTER (WHERE is_member),
                       SUM(revenue) FILTER (WHERE is_member),
                       SUM(purchases) FILTER (WHERE NOT is_member),
                       SUM(revenue) FILTER (WHERE NOT is_member)
                  FROM loyalty_kpi_purchase
                 WHERE company_id = %s AND month >= %s AND month <= %s
              GROUP BY channel, pos_config_id, team_id
              ORDER BY SUM(revenue) DESC
                """,
                self.env.company.id,
                first,
                last,
            )
        )
        # store names only, for managers who don't run the POS themselves
        configs = self.env["pos.config"].sudo().browse([r[1] for r in rows if r[1]])
        teams = self.env["crm.team"].sudo().browse([r[2] for r in rows if r[2]])
        config_names = dict(zip(configs.ids, configs.mapped("name"), strict=True))
        team_names = dict(zip(teams.ids, teams.mapped("name"), strict=True))
        stores = []
        for channel, config_id, team_id, m_n, m_rev, o_n, o_rev in rows:
            m_n, o_n = m_n or 0, o_n or 0
            m_rev, o_rev = float(m_rev or 0), float(o_rev or 0)
            if channel == "pos":
                name = config_names.get(config_id) or _("Point of Sale")
            else:
                name = team_names.get(team_id) or _("Sales")
            stores.append(
                {
                    "name": name,
                    "channel": channel,
                    "pos_config_id": config_id or False,
                    "team_id": team_id or False,
                    "member_purchases": m_n,
                    "member_avg_check": _div(m_rev, m_n),
                    "other_purchases": o_n,
                    "other_avg_check": _div(o_rev, o_n),
                    "member_share": _pct(m_rev, m_rev + o_rev),
                }
            )
        return stores

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

    # ------------------------------------------------------------ client action
    @api.model
    @api.readonly
    def get_dashboard_data(self, months=3, month_to=None, roi=None):
        """Everything the dashboard shows, for the ``months`` whole months up
        to ``month_to`` (default: this month), compared with as many months
        before. ``roi`` may override the payback inputs (set-up cost, monthly
        cost, margin %); they are checked like any user input."""
        self.env["loyalty.analytics"]._check_manager()
        if months not in PERIOD_MONTHS:
            raise UserError(_("Choose a period of 1, 3, 6, 12 or 24 months."))
        today = fields.Date.context_today(self)
        last = _month(month_to) if month_to else _month(today)
        if last > _month(today):
            raise UserError(_("The period cannot end in the future."))
        first = _add_months(last, 1 - months)
        previous = (_add_months(first, -months), _add_months(first, -1))
        chart_first = _add_months(last, 1 - max(months, CHART_MONTHS))
        period, before = self._loyalty_figures(first, last, previous, chart_first)
        program = self.env.company.loyalty_bonus_program_id
        inputs = self._loyalty_roi_inputs(program, roi or {})
        payback = self._loyalty_roi_values(
            period,
            inputs["setup_cost"],
            inputs["monthly_cost"],
            inputs["margin"],
            program.point_value or 1.0,
        )
        tier_names = {
            tier.id: tier.name
            for tier in self.env["loyalty.tier"]
            .sudo()
            .browse([tier_id for tier_id, _n in period["tiers"] if tier_id])
        }
        total = sum(n for _t, n in period["tiers"])
        refreshed = (
            self.env["ir.config_parameter"]
            .sudo()
            .get_param("loyalty_crm.analytics_refreshed_at")
        )
        return {
            "period": {
                "months": months,
                "from": first.isoformat(),
                "to": period["date_to"].isoformat(),
                "month_to": last.isoformat(),
            },
            "previous": {
                "from": previous[0].isoformat(),
                "to": before["date_to"].isoformat(),
            },
            "refreshed_at": refreshed or False,
            "currency_id": self.env.company.currency_id.id,
            "kpis": {
                key: {"value": value, "previous": before.get(key)}
                for key, value in period.items()
                if isinstance(value, int | float) and key != "months"
            },
            "series": period["series"],
            "tiers": [
                {
                    "tier_id": tier_id or False,
                    "name": tier_names.get(tier_id) or _("No tier"),
                    "members": n,
                    "share": _pct(n, total),
                }
                for tier_id, n in period["tiers"]
            ],
            "stores": self._loyalty_stores(first, last),
            "payback": dict(
                inputs,
                point_value=program.point_value or 1.0,
                extra_revenue=payback["extra_revenue"],
                extra_profit=payback["extra_profit"],
                points_cost=payback["points_cost"],
                net_monthly=payback["net_monthly"],
                payback_months=payback["payback_months"] or False,
            ),
        }

    @api.model
    def _loyalty_roi_inputs(self, program, roi):
        inputs = {
            "setup_cost": program.roi_setup_cost,
            "monthly_cost": program.roi_monthly_cost,
            "margin": program.roi_margin if program else 100.0,
        }
        for key, value in roi.items():
            if key not in inputs:
                raise UserError(_("Unknown payback input %(key)s.", key=key))
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise UserError(_("Payback inputs are numbers."))
            limit = 100 if key == "margin" else MAX_MONEY
            if not 0 <= value <= limit:
                labels = {
                    "setup_cost": _("Set-up cost"),
                    "monthly_cost": _("Monthly running cost"),
                    "margin": _("Gross margin, %"),
                }
                shown = f"{limit:,}".replace(",", "\N{NO-BREAK SPACE}")
                raise UserError(
                    _(
                        "%(input)s must be between 0 and %(limit)s.",
                        input=labels[key],
                        limit=shown,
                    )
                )
            inputs[key] = float(value)
        return inputs

    @api.model
    def get_report_action(self, report, date_from, date_to, extra=None):
        """The report behind a figure, filtered on the period (drill-down).

        ``extra``: ``{"pos_config_id": id}`` or ``{"team_id": id}`` or
        ``{"tier_id": id}`` narrows it to a store, team or tier.
        """
        self.env["loyalty.analytics"]._check_manager()
        first, last = self._month_range(date_from, date_to)
        start = fields.Datetime.to_string(first)
        end = fields.Datetime.to_string(_add_months(last, 1))
        period = [("date", ">=", start), ("date", "<", end)]
        extra = extra or {}
        reports = {
            "purchases": ("loyalty_crm.loyalty_purchase_report_action", period, {}),
            "member_purchases": (
                "loyalty_crm.loyalty_purchase_report_action",
                period + [("customer_type", "=", "member")],
                {},
            ),
            "active_members": (
                "loyalty_crm.loyalty_purchase_report_action",
                period + [("customer_type", "=", "member")],
                {"group_by": ["partner_id"]},
            ),
            "points": ("loyalty_crm.loyalty_points_report_action", period, {}),
            "liability": (
                "loyalty_crm.loyalty_points_report_action",
                [("date", "<", end)],
                {},
            ),
            "members": ("loyalty_crm.loyalty_member_report_action", [], {}),
            "new_members": (
                "loyalty_crm.loyalty_member_report_action",
                [("member_since", ">=", start), ("member_since", "<", end)],
                {},
            ),
            "tiers": (
                "loyalty_crm.loyalty_member_report_action",
                [],
                {"group_by": ["tier_id"]},
            ),
        }
        if report not in reports:
            raise UserError(_("Unknown report %(report)s.", report=report))
        xmlid, domain, context = reports[report]
        for key in ("pos_config_id", "team_id", "tier_id"):
            if extra.get(key) is not None:
                value = extra[key]
                if value is not False and (
                    isinstance(value, bool) or not isinstance(value, int)
                ):
                    raise UserError(_("Unknown filter %(key)s.", key=key))
                domain = domain + [(key, "=", value)]
        action = self.env["ir.actions.act_window"]._for_xml_id(xmlid)
        action["domain"] = domain
        action["context"] = dict(context, create=False)
        return action

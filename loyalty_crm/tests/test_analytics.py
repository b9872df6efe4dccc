from datetime import timedelta

from psycopg2 import IntegrityError

from odoo import SUPERUSER_ID, api, fields
from odoo.exceptions import AccessError, UserError
from odoo.tests import HttpCase, TransactionCase, new_test_user, tagged
from odoo.tools import SQL, mute_logger

from . import common


class AnalyticsCase(common.LoyaltyCase):
    """A small shop with known figures.

    This month (the period):
    - member M1: POS 1200 and 1800, an online order of 2000 (Sales flow);
    - member M2 (joined 100 days ago): POS 3000, 100 points spent on it;
    - customer N1 (no card): POS 1000 and 2000, plus one 60 days ago (1000),
      a refund (-500) and a draft order (left out);
    - an anonymous POS sale of 600.
    Members' average check 8000 / 4 = 2000, others' 3600 / 3 = 1200.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.program.write(
            {
                "point_value": 2.0,
                "pending_days": 0,
                "welcome_points": 0,
                "questionnaire_points": 0,
                "roi_setup_cost": 1000,
                "roi_monthly_cost": 100,
                "roi_margin": 50,
            }
        )
        cls.today = fields.Date.context_today(cls.env["res.partner"])
        cls.date_from = cls.today - timedelta(days=30)
        cls.m1 = cls._member("Анна Петрова", "+7 916 100-00-01", city="Москва")
        cls.m2 = cls._member(
            "Иван Смирнов",
            "+7 916 100-00-02",
            city="Казань",
            loyalty_gender="male",
        )
        cls.n1 = cls.env["res.partner"].create({"name": "Не участник"})
        cls.config = cls.env["pos.config"].create({"name": "Магазин на Тверской"})
        cls.session = cls.env["pos.session"].create(
            {"config_id": cls.config.id, "user_id": cls.env.uid}
        )
        cls.product = cls.env["product.product"].create(
            {"name": "Платье", "list_price": 1000, "taxes_id": [(5, 0, 0)]}
        )
        now = fields.Datetime.now()
        cls.o_m1a = cls._pos_order(cls.m1, 1200, now)
        cls.o_m1b = cls._pos_order(cls.m1, 1800, now)
        cls.o_m2 = cls._pos_order(cls.m2, 3000, now)
        cls._pos_order(cls.n1, 1000, now)
        cls._pos_order(cls.n1, 2000, now)
        cls._pos_order(cls.n1, 1000, now - timedelta(days=60))
        cls._pos_order(cls.n1, -500, now)  # a refund
        cls._pos_order(cls.n1, 700, now, state="draft")
        cls._pos_order(None, 600, now)
        cls.sale = cls.env["sale.order"].create(
            {
                "partner_id": cls.m1.id,
                "order_line": [
                    (
                        0,
                        0,
                        {
                            "product_id": cls.product.id,
                            "product_uom_qty": 2,
                            "price_unit": 1000,
                            "tax_id": [(5, 0, 0)],
                        },
                    )
                ],
            }
        )
        cls.sale.action_confirm()  # 100 points through the Sales flow
        card1, card2 = cls.m1.loyalty_card_id, cls.m2.loyalty_card_id
        cls.Ledger._accrue_purchase(card1, 1200, "t/1", source=cls.o_m1a)  # 60
        cls.Ledger._accrue_purchase(card1, 1800, "t/2", source=cls.o_m1b)  # 90
        cls.Ledger._post(card2, 500, "adjustment", reason="moved")
        cls.Ledger._post_once(
            card2, -100, "redemption", "t/3", source=cls.o_m2, amount=3000
        )
        cls.Ledger._accrue_purchase(card2, 2800, "t/4", source=cls.o_m2)  # 140
        # promotional points nobody spent in time: they expire (breakage)
        cls.Ledger._post_once(
            card1,
            50,
            "bonus",
            "promo/1/m1",
            source=cls.m1,
            expiry_date=cls.today - timedelta(days=1),
        )
        cls.Ledger._cron_expire()
        # M2 joined 100 days ago (his card was issued then)
        cls.env.flush_all()
        cls.env.cr.execute(
            SQL(
                "UPDATE loyalty_card SET create_date = %s WHERE id = %s",
                now - timedelta(days=100),
                card2.id,
            )
        )
        cls.env.invalidate_all()
        # what the nightly jobs keep: RFM (the member report) and the facts
        cls.env["loyalty.analytics"]._refresh_facts(full=True)
        cls.env["res.partner"]._cron_compute_rfm()

    @classmethod
    def _pos_order(cls, partner, amount, when, state="paid"):
        return cls.env["pos.order"].create(
            {
                "session_id": cls.session.id,
                "partner_id": partner.id if partner else False,
                "date_order": when,
                "state": state,
                "amount_tax": 0.0,
                "amount_total": amount,
                "amount_paid": amount,
                "amount_return": 0.0,
            }
        )

    def _kpis(self):
        return self.env["loyalty.dashboard"]._loyalty_kpi_values(self.today, self.today)


@tagged("post_install", "-at_install")
class TestKpis(AnalyticsCase):
    def test_average_check_members_vs_non_members(self):
        kpis = self._kpis()
        self.assertEqual(kpis["purchases_member"], 4)
        self.assertEqual(kpis["purchases_non_member"], 3)
        self.assertEqual(kpis["revenue_member"], 8000)
        self.assertEqual(kpis["avg_check_member"], 2000)
        self.assertEqual(kpis["avg_check_non_member"], 1200)
        self.assertEqual(kpis["avg_check_uplift"], 66.67)
        self.assertEqual(kpis["avg_check_pos_member"], 2000)
        self.assertEqual(kpis["avg_check_pos_non_member"], 1200)
        self.assertEqual(kpis["avg_check_sale_member"], 2000)
        self.assertEqual(kpis["avg_check_sale_non_member"], 0)
        self.assertEqual(kpis["members_revenue_share"], round(8000 * 100 / 11600, 2))

    def test_members_new_active_frequency(self):
        kpis = self._kpis()
        self.assertEqual(kpis["members_total"], 2)
        self.assertEqual(kpis["members_new"], 1)  # M2 joined before the period
        self.assertEqual(kpis["members_active"], 2)
        self.assertEqual(kpis["members_active_share"], 100)
        self.assertEqual(kpis["frequency_member"], 2.0)
        self.assertEqual(kpis["customers_non_member"], 1)
        self.assertEqual(kpis["frequency_non_member"], 2.0)  # anonymous left out
        # M1, M2 and N1 bought; N1 had bought before the period
        self.assertEqual((kpis["customers"], kpis["customers_new"]), (3, 2))
        self.assertEqual(kpis["share_new_clients"], 66.67)

    def test_purchase_before_joining_is_not_a_members(self):
        self._pos_order(self.m2, 999, fields.Datetime.now() - timedelta(days=200))
        # the refresh finds the month of the new order by itself (in a test,
        # everything is written in the same transaction: every month of it)
        months = self.env["loyalty.analytics"]._refresh_facts()
        self.assertIn(
            (fields.Datetime.now() - timedelta(days=200)).date().replace(day=1),
            months,
        )
        kpis = self.env["loyalty.dashboard"]._loyalty_kpi_values(
            self.today - timedelta(days=330), self.today
        )
        self.assertEqual(kpis["purchases_member"], 4)
        self.assertEqual(kpis["purchases_non_member"], 5)
        # M2 bought as a non-member and as a member: one customer of each
        self.assertEqual(kpis["customers_non_member"], 2)
        self.assertEqual(kpis["members_active"], 2)
        row = self.env["loyalty.purchase.report"].search(
            [("amount", "=", 999), ("partner_id", "=", self.m2.id)]
        )
        self.assertEqual(row.customer_type, "other")

    def test_redemption_breakage_liability(self):
        kpis = self._kpis()
        self.assertEqual(kpis["points_issued"], 440)  # 60 + 90 + 100 + 140 + 50
        self.assertEqual(kpis["points_spent"], 100)
        self.assertEqual(kpis["points_expired"], 50)
        self.assertEqual(kpis["redemption_rate"], round(100 * 100 / 440, 2))
        self.assertEqual(kpis["breakage_rate"], round(100 * 50 / 440, 2))
        self.assertEqual(kpis["share_with_points"], 25)  # 1 of the 4 members' buys
        # M1: 250 points, M2: 500 - 100 + 140 = 540; a point is worth 2
        self.assertEqual(kpis["liability_points"], 790)
        self.assertEqual(kpis["liability_value"], 1580)
        self.assertEqual(kpis["pending_points"], 0)
        self.assertEqual(kpis["tiers"], [(None, 2)])

    def test_period_outside_the_data(self):
        kpis = self.env["loyalty.dashboard"]._loyalty_kpi_values(
            self.today + timedelta(days=32), self.today + timedelta(days=40)
        )
        self.assertEqual(kpis["purchases_member"], 0)
        self.assertEqual(kpis["avg_check_member"], 0)
        self.assertEqual(kpis["redemption_rate"], 0)
        self.assertEqual(kpis["members_total"], 2)
        with self.assertRaisesRegex(UserError, "ends before it starts"):
            self.env["loyalty.dashboard"]._loyalty_kpi_values(
                self.today, self.today - timedelta(days=40)
            )

    def test_payback_as_in_the_retailers_table(self):
        """Seed table 10: average check 1500, members +20 %, set-up 300 000,
        running 50 000 a month: with 1000 active members buying twice a month,
        a 25 % margin and 50 000 points spent a month, it pays back in 6 months.
        """
        kpis = {
            "months": 1.0,
            "members_active": 1000,
            "frequency_member": 2.0,
            "frequency_non_member": 2.0,
            "customers_non_member": 1000,
            "avg_check_member": 1800.0,
            "avg_check_non_member": 1500.0,
            "points_spent": 50000.0,
        }
        Dashboard = self.env["loyalty.dashboard"]
        roi = Dashboard._loyalty_roi_values(kpis, 300000, 50000, 25, 1.0)
        self.assertEqual(roi["extra_revenue"], 600000)
        self.assertEqual(roi["extra_profit"], 150000)
        self.assertEqual(roi["points_cost"], 50000)
        self.assertEqual(roi["net_monthly"], 50000)
        self.assertEqual(roi["payback_months"], 6.0)
        # a higher running cost eats the effect: it never pays back
        roi = Dashboard._loyalty_roi_values(kpis, 300000, 100000, 25, 1.0)
        self.assertEqual(roi["net_monthly"], 0)
        self.assertIsNone(roi["payback_months"])
        # members who buy more often add to the effect
        kpis["frequency_member"] = 3.0
        roi = Dashboard._loyalty_roi_values(kpis, 300000, 50000, 100, 1.0)
        self.assertEqual(roi["extra_revenue"], 1000 * (3 * 1800 - 2 * 1500))

    def test_dashboard_computes_payback_from_data(self):
        Dashboard = self.env["loyalty.dashboard"].with_user(self.manager)
        data = Dashboard.get_dashboard_data(months=1)
        kpis = self._kpis()
        payback = data["payback"]
        self.assertEqual(
            (payback["setup_cost"], payback["monthly_cost"], payback["margin"]),
            (1000, 100, 50),
        )
        months = kpis["months"]
        extra = 2 * (2 * 2000 - 2 * 1200) / months
        self.assertAlmostEqual(payback["extra_revenue"], extra, places=1)
        self.assertAlmostEqual(payback["extra_profit"], extra / 2, places=1)
        points_cost = 100 * 2.0 / months
        self.assertAlmostEqual(payback["points_cost"], points_cost, places=1)
        net = round(extra / 2 - points_cost - 100, 2)
        self.assertAlmostEqual(payback["net_monthly"], net, places=1)
        self.assertAlmostEqual(payback["payback_months"], round(1000 / net, 1))
        self.assertEqual(data["kpis"]["avg_check_member"]["value"], 2000)
        # the period before: last month, where N1's purchase of 60 days ago
        # may fall
        last_month = fields.Date.subtract(self.today.replace(day=1), months=1)
        n1_before = (self.today - timedelta(days=60)).replace(day=1) == last_month
        self.assertEqual(
            data["kpis"]["purchases_non_member"]["previous"], int(n1_before)
        )
        stores = {store["name"]: store for store in data["stores"]}
        self.assertEqual(stores["Магазин на Тверской"]["member_purchases"], 3)
        self.assertEqual(stores["Магазин на Тверской"]["other_purchases"], 3)
        self.assertEqual(data["tiers"][0]["members"], 2)
        # the charts: a year of months, this one last
        self.assertEqual(len(data["series"]["months"]), 12)
        self.assertEqual(data["series"]["members_total"][-1], 2)
        self.assertEqual(data["series"]["points_issued"][-1], 440)
        # payback inputs changed on the page, and the program never pays back
        data = Dashboard.get_dashboard_data(
            months=1, roi={"setup_cost": 10**9, "monthly_cost": 10**6}
        )
        self.assertFalse(data["payback"]["payback_months"])
        # drill-down: the report behind a figure, filtered on the period
        action = Dashboard.get_report_action(
            "member_purchases", data["period"]["from"], data["period"]["to"]
        )
        self.assertEqual(action["res_model"], "loyalty.purchase.report")
        rows = self.env["loyalty.purchase.report"].search(action["domain"])
        self.assertEqual(len(rows), 4)
        action = Dashboard.get_report_action(
            "purchases",
            data["period"]["from"],
            data["period"]["to"],
            extra={"pos_config_id": self.config.id},
        )
        self.assertEqual(
            len(self.env["loyalty.purchase.report"].search(action["domain"])), 6
        )

    def test_payback_inputs_refused(self):
        for vals in ({"roi_margin": 120}, {"roi_setup_cost": -1}):
            with self.subTest(vals=vals):
                with (
                    mute_logger("odoo.sql_db"),
                    self.assertRaisesRegex(IntegrityError, "roi_inputs_positive"),
                    self.env.cr.savepoint(),
                ):
                    self.program.write(vals)
                    self.program.flush_recordset()
        self.program.invalidate_recordset()
        self.assertEqual(
            (self.program.roi_margin, self.program.roi_setup_cost), (50, 1000)
        )

    def test_reports(self):
        Purchases = self.env["loyalty.purchase.report"]
        groups = {
            member: (count, amount)
            for member, count, amount in Purchases._read_group(
                [("date", ">=", self.date_from)],
                ["customer_type"],
                ["__count", "amount:sum"],
            )
        }
        self.assertEqual(groups, {"member": (4, 8000), "other": (3, 3600)})
        spent = Purchases.search([("with_points", "=", True)])
        self.assertEqual(spent.mapped("points_spent"), [100])
        self.assertEqual(spent.pos_config_id, self.config)
        Points = self.env["loyalty.points.report"]
        [[issued, spent, expired]] = Points._read_group(
            [], [], ["points_issued:sum", "points_spent:sum", "points_expired:sum"]
        )
        self.assertEqual((issued, spent, expired), (440, 100, 50))
        Members = self.env["loyalty.member.report"]
        rows = {row.partner_id: row for row in Members.search([])}
        self.assertEqual(set(rows), {self.m1, self.m2})
        self.assertEqual(rows[self.m1].spend, 5000)
        self.assertEqual(rows[self.m1].purchase_count, 3)
        self.assertEqual(rows[self.m1].segment, "top")
        self.assertEqual(rows[self.m2].segment, "other")
        self.assertEqual(rows[self.m1].promo_count, 1)  # the promotion, not welcome
        self.assertEqual(rows[self.m2].promo_count, 0)
        self.assertEqual(rows[self.m2].liability, 1080)
        self.assertEqual(rows[self.m2].gender, "male")

    def test_portrait(self):
        """The portrait of the loyal customer: the member report by segment."""
        Members = self.env["loyalty.member.report"]
        groups = {
            (segment, city): count
            for segment, city, count in Members._read_group(
                [], ["segment", "city"], ["member_count:sum"]
            )
        }
        self.assertEqual(groups, {("top", "Москва"): 1, ("other", "Казань"): 1})

    def test_kpis_query_count(self):
        """The dashboard reads the facts in a fixed number of queries."""
        Dashboard = self.env["loyalty.dashboard"].with_user(self.manager)
        Dashboard.get_dashboard_data(months=12)
        self.env.invalidate_all()
        with self.assertQueryCount(12):
            Dashboard.get_dashboard_data(months=12)
        with self.assertQueryCount(12):
            Dashboard.get_dashboard_data(months=24)


@tagged("post_install", "-at_install")
class TestDashboardGuards(AnalyticsCase):
    """What a client may send is checked; only managers read the figures."""

    def test_only_managers(self):
        Dashboard = self.env["loyalty.dashboard"]
        for call in (
            lambda d: d.get_dashboard_data(months=3),
            lambda d: d.get_report_action("purchases", self.today, self.today),
            lambda d: d.env["loyalty.analytics"].action_refresh_facts(),
        ):
            with self.assertRaises(AccessError):
                call(Dashboard.with_user(self.cashier))
        with self.assertRaises(AccessError):
            self.env["loyalty.kpi.purchase"].with_user(self.cashier).search([])
        # facts and reports are read-only, for managers too
        with self.assertRaises(AccessError):
            self.env["loyalty.kpi.purchase"].with_user(self.manager).create(
                {"month": self.today, "purchases": 10**6}
            )

    def test_other_company_is_refused(self):
        other = self.env["res.company"].create({"name": "Другая компания"})
        foreign = new_test_user(
            self.env,
            "lc_foreign_analyst",
            groups="base.group_user,loyalty_crm.group_loyalty_manager",
            company_id=other.id,
            company_ids=[other.id],
        )
        Dashboard = self.env["loyalty.dashboard"].with_user(foreign)
        # its own company: none of the first company's figures
        data = Dashboard.get_dashboard_data(months=1)
        self.assertEqual(data["kpis"]["purchases_member"]["value"], 0)
        self.assertEqual(data["kpis"]["members_total"]["value"], 0)
        self.assertEqual(data["stores"], [])
        # asking for the first company is refused
        with self.assertRaises(AccessError):
            Dashboard.with_context(
                allowed_company_ids=[self.company.id]
            ).get_dashboard_data(months=1)
        # nor do the reports show the other company's rows
        for model in (
            "loyalty.purchase.report",
            "loyalty.points.report",
            "loyalty.member.report",
            "loyalty.kpi.purchase",
        ):
            with self.subTest(model=model):
                self.assertFalse(self.env[model].with_user(foreign).search([]))

    def test_hostile_input(self):
        Dashboard = self.env["loyalty.dashboard"].with_user(self.manager)
        future = fields.Date.add(self.today, months=2)
        for kwargs in (
            {"months": 5},
            {"months": "3"},
            {"months": 10**9},
            {"months": 3, "month_to": future},
            {"months": 3, "roi": {"setup_cost": -1}},
            {"months": 3, "roi": {"margin": 101}},
            {"months": 3, "roi": {"monthly_cost": 10**13}},
            {"months": 3, "roi": {"monthly_cost": "1e3"}},
            {"months": 3, "roi": {"margin": True}},
            {"months": 3, "roi": {"point_value": 1000}},
        ):
            with self.subTest(kwargs=kwargs), self.assertRaises(UserError):
                Dashboard.get_dashboard_data(**kwargs)
        for args, extra in (
            (("everything", self.today, self.today), None),
            (("purchases", self.today, self.today), {"pos_config_id": "1 OR 1=1"}),
            (("purchases", self.today, self.today), {"tier_id": [1, 2]}),
            (("purchases", self.today, self.today - timedelta(days=40)), None),
        ):
            with self.subTest(args=args), self.assertRaises(UserError):
                Dashboard.get_report_action(*args, extra=extra)


@tagged("post_install", "-at_install")
class TestActiveCustomers(AnalyticsCase):
    """Distinct customers of a range of months, from the facts."""

    def test_distinct_over_months(self):
        start = fields.Date.subtract(self.today.replace(day=1), months=4)
        # N1 buys in months 0, 2 and 3 of the range; M1 in month 1 as well
        for offset in (0, 2, 3):
            when = fields.Datetime.to_datetime(fields.Date.add(start, months=offset))
            self._pos_order(self.n1, 100, when + timedelta(hours=12))
        self._pos_order(
            self.m1,
            100,
            fields.Datetime.to_datetime(fields.Date.add(start, months=1))
            + timedelta(hours=12),
        )
        self.env["loyalty.analytics"]._refresh_facts()
        Dashboard = self.env["loyalty.dashboard"]

        def kpis(first, last):
            return Dashboard._loyalty_kpi_values(
                fields.Date.add(start, months=first),
                fields.Date.add(start, months=last),
            )

        Purchase = self.env["loyalty.purchase"]

        def expected(first, last):
            rows = Purchase.search(
                [
                    ("date", ">=", fields.Date.add(start, months=first)),
                    ("date", "<", fields.Date.add(start, months=last + 1)),
                    ("company_id", "=", self.env.company.id),
                ]
            )
            members = rows.filtered("is_member")
            others = rows - members
            return {
                "purchases_member": len(members),
                "purchases_non_member": len(others),
                "members_active": len(members.partner_id),
                "customers_non_member": len(others.partner_id),
                "customers": len(rows.partner_id),
            }

        for first, last in ((0, 3), (1, 3), (1, 1), (0, 0), (2, 3), (0, 4)):
            with self.subTest(first=first, last=last):
                figures = kpis(first, last)
                self.assertEqual(
                    {key: figures[key] for key in expected(first, last)},
                    expected(first, last),
                )
        # N1 bought in three months of the range and is one customer; M1
        # bought in month 1, before joining: a non-member's purchase then
        self.assertEqual(kpis(0, 3)["customers_non_member"], 2)
        self.assertEqual(kpis(1, 1)["customers_non_member"], 1)
        self.assertEqual(kpis(1, 1)["members_active"], 0)
        # new customers: whose first purchase ever is in the range: N1 (month
        # 0) and M1 (month 1); from month 2 on, M2 (this month) only
        self.assertEqual(kpis(0, 3)["customers_new"], 2)
        self.assertEqual(kpis(2, 4)["customers_new"], 1)
        # the incremental refresh gives what a full one gives
        tables = (
            "loyalty_kpi_purchase",
            "loyalty_kpi_points",
            "loyalty_kpi_customer",
            "loyalty_kpi_active",
            "loyalty_kpi_member",
        )

        def snapshot():
            self.env.flush_all()
            return {
                table: sorted(
                    self.env.execute_query(
                        SQL("SELECT * FROM %s", SQL.identifier(table))
                    ),
                    key=repr,
                )
                for table in tables
            }

        def strip_ids(rows):
            return {t: sorted((r[1:] for r in v), key=repr) for t, v in rows.items()}

        incremental = strip_ids(snapshot())
        self.env["loyalty.analytics"]._refresh_facts(full=True)
        self.assertEqual(incremental, strip_ids(snapshot()))


@tagged("post_install", "-at_install")
class TestSameCounts(common.LoyaltyCase):
    """Every screen counts the same purchases and members.

    Company A: member M1 with a child contact (a delivery address) who also
    buys; M1 bought at the till (done), the contact at the till (invoiced) and
    online (confirmed sale order); M1 returned something (a refund: not a
    purchase) and left a draft order (not one either). M2 bought 40 days ago as
    a non-member, joined today and bought again. N1 (no card) and an anonymous
    till sale. Company B: member M3 with a sale order there.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.program.write({"pending_days": 0, "welcome_points": 0})
        now = fields.Datetime.now()
        cls.today = fields.Date.context_today(cls.env["res.partner"])
        cls.m1 = cls._member("Мария Орлова", "+7 916 200-00-01")
        cls.m1_contact = cls.env["res.partner"].create(
            {"name": "Мария (доставка)", "parent_id": cls.m1.id, "type": "delivery"}
        )
        cls.n1 = cls.env["res.partner"].create({"name": "Покупатель без карты"})
        cls.m2 = cls.env["res.partner"].create(
            {"name": "Олег Волков", "phone": "+7 916 200-00-02"}
        )
        cls.config = cls.env["pos.config"].create({"name": "Магазин «Невский»"})
        cls.session = cls.env["pos.session"].create(
            {"config_id": cls.config.id, "user_id": cls.env.uid}
        )
        cls.product = cls.env["product.product"].create(
            {"name": "Шарф", "list_price": 1000, "taxes_id": [(5, 0, 0)]}
        )
        pos = cls._pos_order
        pos(cls.m1, 1000, now, "done")
        pos(cls.m1_contact, 500, now, "invoiced")
        pos(cls.m1, -300, now, "paid")  # a refund
        pos(cls.m1, 900, now, "draft")
        pos(cls.m2, 700, now - timedelta(days=40), "paid")
        cls.m2._loyalty_enrol()
        pos(cls.m2, 800, now, "paid")
        pos(cls.n1, 600, now, "paid")
        pos(None, 400, now, "paid")
        cls._sale(cls.m1_contact, 2000, cls.env.company).action_confirm()
        cls._sale(cls.n1, 5000, cls.env.company)  # a quotation: not a purchase
        # company B
        cls.company_b = cls.env["res.company"].create({"name": "Компания Б"})
        cls.m3 = cls.env["res.partner"].create(
            {"name": "Пётр Б", "phone": "+7 916 200-00-03"}
        )
        cls.m3.with_company(cls.company_b)._loyalty_enrol(
            program=cls.env["loyalty.program"]._get_bonus_program(cls.company_b)
        )
        cls._sale(cls.m3, 3000, cls.company_b).action_confirm()
        cls.env["loyalty.analytics"]._refresh_facts(full=True)
        cls.env["res.partner"]._cron_compute_rfm()

    @classmethod
    def _pos_order(cls, partner, amount, when, state):
        return cls.env["pos.order"].create(
            {
                "session_id": cls.session.id,
                "partner_id": partner.id if partner else False,
                "date_order": when,
                "state": state,
                "amount_tax": 0.0,
                "amount_total": amount,
                "amount_paid": amount,
                "amount_return": 0.0,
            }
        )

    @classmethod
    def _sale(cls, partner, amount, company):
        return (
            cls.env["sale.order"]
            .with_company(company)
            .create(
                {
                    "partner_id": partner.id,
                    "company_id": company.id,
                    "order_line": [
                        (
                            0,
                            0,
                            {
                                "product_id": cls.product.id,
                                "product_uom_qty": amount / 1000,
                                "price_unit": 1000,
                                "tax_id": [(5, 0, 0)],
                            },
                        )
                    ],
                }
            )
        )

    def test_same_counts_on_every_screen(self):
        A, B = self.env.company, self.company_b
        # the one source: purchases of company A this month
        Purchase = self.env["loyalty.purchase"]
        month = [("date", ">=", fields.Datetime.to_datetime(self.today.replace(day=1)))]
        rows = Purchase.search(month + [("company_id", "=", A.id)])
        self.assertEqual(
            sorted((r.partner_id.name or "", r.amount, r.is_member) for r in rows),
            [
                ("", 400, False),
                ("Мария Орлова", 500, True),
                ("Мария Орлова", 1000, True),
                ("Мария Орлова", 2000, True),
                ("Олег Волков", 800, True),
                ("Покупатель без карты", 600, False),
            ],
        )
        # the dashboard (facts) of company A, this month and the last three
        Dashboard = self.env["loyalty.dashboard"]
        kpis = Dashboard._loyalty_kpi_values(self.today, self.today)
        self.assertEqual((kpis["purchases_member"], kpis["revenue_member"]), (4, 4300))
        self.assertEqual(
            (kpis["purchases_non_member"], kpis["revenue_non_member"]), (2, 1000)
        )
        self.assertEqual(kpis["members_total"], 2)
        self.assertEqual(kpis["members_new"], 2)
        self.assertEqual(kpis["members_active"], 2)
        self.assertEqual(kpis["customers"], 3)
        quarter = Dashboard._loyalty_kpi_values(
            self.today - timedelta(days=62), self.today
        )
        self.assertEqual(quarter["purchases_non_member"], 3)
        self.assertEqual(quarter["customers_non_member"], 2)  # N1, M2 before joining
        self.assertEqual(quarter["customers"], 3)
        self.assertEqual(sum(n for _tier, n in kpis["tiers"]), 2)
        data = Dashboard.get_dashboard_data(months=1)
        store = (
            data["stores"][0]
            if data["stores"][0]["channel"] == "pos"
            else (data["stores"][1])
        )
        self.assertEqual((store["member_purchases"], store["other_purchases"]), (3, 2))
        # the purchases report: the same rows
        Report = self.env["loyalty.purchase.report"]
        counts = dict(
            Report._read_group(
                month + [("company_id", "=", A.id)], ["customer_type"], ["__count"]
            )
        )
        self.assertEqual(counts, {"member": 4, "other": 2})
        # company B on its own dashboard
        kpis_b = Dashboard.with_company(B)._loyalty_kpi_values(self.today, self.today)
        self.assertEqual((kpis_b["purchases_member"], kpis_b["members_total"]), (1, 1))
        # the member report (portrait), RFM and segments: 365 days of purchases,
        # every company; members of company A per the dashboard
        Members = self.env["loyalty.member.report"]
        self.assertEqual(Members.search_count([("company_id", "=", A.id)]), 2)
        self.assertEqual(Members.search_count([]), 3)
        by_partner = {r.partner_id: r for r in Members.search([])}
        self.assertEqual(by_partner[self.m1].purchase_count, 3)
        self.assertEqual(by_partner[self.m1].spend, 3500)
        self.assertEqual(by_partner[self.m2].purchase_count, 2)
        self.assertEqual(by_partner[self.m3].purchase_count, 1)
        for partner, row in by_partner.items():
            self.assertEqual(partner.loyalty_orders_365d, row.purchase_count)
            self.assertEqual(
                partner.loyalty_orders_365d,
                Purchase.search_count([("partner_id", "=", partner.id)]),
            )
        self.assertEqual(self.m1.loyalty_orders_30d, 3)
        self.assertEqual(self.m1.loyalty_last_purchase_date, self.today)
        segment = self.env["loyalty.segment"].create(
            {"name": "Три покупки", "purchase_count_min": 3, "purchase_period": "30"}
        )
        self.assertEqual(segment.member_count, 1)
        # the acquisition report: member purchases of the first 90 days
        acquisition = {
            r.partner_id: r for r in self.env["loyalty.acquisition.report"].search([])
        }
        self.assertEqual(set(acquisition), {self.m1, self.m2, self.m3})
        self.assertEqual(acquisition[self.m2].orders_90d, 1)
        self.assertEqual(acquisition[self.m2].spend_90d, 800)
        self.assertEqual(acquisition[self.m1].orders_90d, 3)
        # the preferred categories: from the lines of the same purchases
        self.assertEqual(self.m1.loyalty_preferred_categ_ids, self.product.categ_id)
        self.assertFalse(self.n1.loyalty_preferred_categ_ids)


@tagged("post_install", "-at_install")
class TestAnalyticsUi(HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # the owner reads the dashboard in Russian
        cls.env["res.lang"]._activate_lang("ru_RU")
        cls.env["ir.module.module"]._load_module_terms(
            ["loyalty_crm"], ["ru_RU"], overwrite=True
        )
        cls.manager = new_test_user(
            cls.env,
            "lc_tour_analyst",
            groups="base.group_user,loyalty_crm.group_loyalty_manager",
            lang="ru_RU",
        )
        member = cls.env["res.partner"].create(
            {"name": "Tour Member", "phone": "+79161234599", "city": "Москва"}
        )
        member._loyalty_enrol()
        # a store the manager (no Point of Sale rights) sees on the dashboard
        config = cls.env["pos.config"].create({"name": "Магазин для тура"})
        session = cls.env["pos.session"].create(
            {"config_id": config.id, "user_id": cls.env.uid}
        )
        cls.env["pos.order"].create(
            {
                "session_id": session.id,
                "partner_id": member.id,
                "state": "paid",
                "amount_tax": 0.0,
                "amount_total": 1500.0,
                "amount_paid": 1500.0,
                "amount_return": 0.0,
            }
        )
        cls.env["loyalty.analytics"]._refresh_facts(full=True)

    def test_analytics_tour(self):
        self.start_tour("/odoo", "loyalty_crm_analytics_tour", login="lc_tour_analyst")


@tagged("post_install", "-at_install")
class TestRefreshAcrossTransactions(TransactionCase):
    """An order written by a transaction still open while the facts job runs
    is counted by the job's next run (its write date is before the run)."""

    def test_order_committed_after_a_refresh_is_counted(self):
        registry = self.registry
        month = fields.Date.subtract(
            fields.Date.context_today(self.env["res.partner"]).replace(day=1),
            months=5,
        )
        created = {}

        def facts_of_month(env):
            env.cr.execute(
                "SELECT COALESCE(SUM(purchases), 0) FROM loyalty_kpi_purchase"
                " WHERE month = %s",
                [month],
            )
            return env.cr.fetchone()[0]

        def refresh(full=False):
            with registry.cursor() as cr:
                env = api.Environment(cr, SUPERUSER_ID, {})
                env["loyalty.analytics"]._refresh_facts(full=full)
                cr.commit()  # pylint: disable=invalid-commit

        try:
            refresh(full=True)
            with registry.cursor() as cr_a:
                env_a = api.Environment(cr_a, SUPERUSER_ID, {})
                partner = env_a["res.partner"].create({"name": "Поздний покупатель"})
                product = env_a["product.product"].create(
                    {"name": "Услуга", "type": "service", "list_price": 100}
                )
                order = env_a["sale.order"].create(
                    {
                        "partner_id": partner.id,
                        "order_line": [(0, 0, {"product_id": product.id})],
                    }
                )
                order.action_confirm()
                order.date_order = fields.Datetime.to_datetime(month) + timedelta(
                    days=3
                )
                env_a.flush_all()
                created.update(order=order.id, partner=partner.id, product=product.id)
                # the job runs while this transaction is still open
                refresh()
                cr_a.commit()  # pylint: disable=invalid-commit
            with registry.cursor() as cr:
                env = api.Environment(cr, SUPERUSER_ID, {})
                self.assertEqual(facts_of_month(env), 0)
            refresh()
            with registry.cursor() as cr:
                env = api.Environment(cr, SUPERUSER_ID, {})
                self.assertEqual(facts_of_month(env), 1)
        finally:
            with registry.cursor() as cr:
                if created:
                    cr.execute(
                        "DELETE FROM sale_order_line WHERE order_id = %s",
                        [created["order"]],
                    )
                    cr.execute(
                        "DELETE FROM sale_order WHERE id = %s", [created["order"]]
                    )
                    cr.execute(
                        "DELETE FROM res_partner WHERE id = %s", [created["partner"]]
                    )
                    cr.execute(
                        "SELECT product_tmpl_id FROM product_product WHERE id = %s",
                        [created["product"]],
                    )
                    template = cr.fetchone()[0]
                    cr.execute(
                        "DELETE FROM product_product WHERE id = %s",
                        [created["product"]],
                    )
                    cr.execute("DELETE FROM product_template WHERE id = %s", [template])
                for table in (
                    "loyalty_kpi_purchase",
                    "loyalty_kpi_points",
                    "loyalty_kpi_member",
                    "loyalty_kpi_customer",
                    "loyalty_kpi_active",
                ):
                    cr.execute(f"DELETE FROM {table}")  # noqa: S608
                cr.execute(
                    "DELETE FROM ir_config_parameter"
                    " WHERE key LIKE 'loyalty_crm.analytics%%'"
                )
                cr.commit()  # pylint: disable=invalid-commit

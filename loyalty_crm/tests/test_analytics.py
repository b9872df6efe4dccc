from datetime import timedelta

from psycopg2 import IntegrityError

from odoo import fields
from odoo.exceptions import UserError
from odoo.tests import HttpCase, new_test_user, tagged
from odoo.tools import SQL, mute_logger

from . import common


class AnalyticsCase(common.LoyaltyCase):
    """A small shop with known figures.

    This month (the period: the last 31 days):
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
        return self.env["loyalty.dashboard"]._loyalty_kpi_values(
            self.date_from, self.today
        )


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
        kpis = self.env["loyalty.dashboard"]._loyalty_kpi_values(
            self.today - timedelta(days=365), self.today
        )
        self.assertEqual(kpis["purchases_member"], 4)
        self.assertEqual(kpis["purchases_non_member"], 5)
        row = self.env["loyalty.purchase.report"].search(
            [("amount", "=", 999), ("partner_id", "=", self.m2.id)]
        )
        self.assertFalse(row.is_member)

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
            self.today + timedelta(days=1), self.today + timedelta(days=5)
        )
        self.assertEqual(kpis["purchases_member"], 0)
        self.assertEqual(kpis["avg_check_member"], 0)
        self.assertEqual(kpis["redemption_rate"], 0)
        self.assertEqual(kpis["members_total"], 2)
        with self.assertRaisesRegex(UserError, "ends before it starts"):
            self.env["loyalty.dashboard"]._loyalty_kpi_values(
                self.today, self.date_from
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
        dashboard = self.env["loyalty.dashboard"].create(
            {"period": "custom", "date_from": self.date_from, "date_to": self.today}
        )
        self.assertEqual(dashboard.program_id, self.program)
        self.assertEqual(
            (dashboard.setup_cost, dashboard.monthly_cost, dashboard.margin),
            (1000, 100, 50),
        )
        months = 31 / (365.25 / 12)
        # 2 active members x (2 buys x 2000 - 2 buys x 1200) per month
        extra = round(2 * (2 * 2000 - 2 * 1200) / months, 2)
        self.assertAlmostEqual(dashboard.roi_extra_revenue, extra, places=1)
        self.assertAlmostEqual(dashboard.roi_extra_profit, extra / 2, places=1)
        points_cost = round(100 * 2.0 / months, 2)
        self.assertAlmostEqual(dashboard.roi_points_cost, points_cost, places=1)
        net = round(extra / 2 - points_cost - 100, 2)
        self.assertAlmostEqual(dashboard.roi_net_monthly, net, places=1)
        self.assertTrue(dashboard.roi_pays_back)
        self.assertAlmostEqual(dashboard.roi_payback_months, round(1000 / net, 1))
        self.assertEqual(dashboard.avg_check_member, 2000)
        self.assertIn("Магазин на Тверской", dashboard.store_html)
        self.assertIn("Москва", dashboard.portrait_html)
        # dates the wrong way round: nothing to show, no error while typing
        dashboard.date_from = self.today + timedelta(days=1)
        self.assertEqual(dashboard.purchases_member, 0)
        dashboard.date_from = self.date_from
        dashboard.setup_cost = 10**9
        dashboard.monthly_cost = 10**6
        self.assertFalse(dashboard.roi_pays_back)
        # the period selector moves the dates
        dashboard.period = "month"
        dashboard._onchange_period()
        self.assertEqual(dashboard.date_to, self.today)
        self.assertEqual(dashboard.date_from.day, 1)
        for action in (
            dashboard.action_open_purchases(),
            dashboard.action_open_points(),
            dashboard.action_open_portrait(),
        ):
            self.assertEqual(action["type"], "ir.actions.act_window")

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
                ["is_member"],
                ["__count", "amount:sum"],
            )
        }
        self.assertEqual(groups, {True: (4, 8000), False: (3, 3600)})
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
        portrait = self.env["loyalty.dashboard"]._loyalty_portrait_values(
            self.date_from, self.today
        )
        # top fifth of two members: M1 (5000) alone, against both
        self.assertEqual(
            portrait["city"], [("Казань", 0.0, 50.0), ("Москва", 100.0, 50.0)]
        )
        self.assertEqual(
            portrait["gender"], [("male", 0.0, 50.0), ("unknown", 100.0, 50.0)]
        )
        # M1 (top) took part in a promotion, M2 did not
        self.assertEqual(portrait["promo"], [("no", 0.0, 50.0), ("yes", 100.0, 50.0)])
        # categories bought: M1's online order (POS orders here have no lines)
        self.assertEqual(
            portrait["category"],
            [(self.product.categ_id.display_name, 100.0, 100.0)],
        )

    def test_kpis_query_count(self):
        Dashboard = self.env["loyalty.dashboard"]
        Dashboard._loyalty_kpi_values(self.date_from, self.today)
        with self.assertQueryCount(6):
            Dashboard._loyalty_kpi_values(self.date_from, self.today)


@tagged("post_install", "-at_install")
class TestAnalyticsUi(HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.manager = new_test_user(
            cls.env,
            "lc_tour_analyst",
            groups="base.group_user,loyalty_crm.group_loyalty_manager",
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

    def test_analytics_tour(self):
        self.start_tour("/odoo", "loyalty_crm_analytics_tour", login="lc_tour_analyst")

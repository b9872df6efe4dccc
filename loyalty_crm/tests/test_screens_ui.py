"""What each user sees, in headless Chromium: the till with a member at two
window sizes, the back-office balance adjustment, the member's portal."""

from odoo import fields
from odoo.tests import HttpCase, new_test_user, tagged

from odoo.addons.point_of_sale.tests import test_frontend as pos_frontend


class PosScreenCase(pos_frontend.TestPointOfSaleHttpCommon):
    """A till with Anna (4,872.96 points, 120 of them expiring in ten days)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        company = cls.main_pos_config.company_id
        company.loyalty_phone_region = "RU"
        company.loyalty_required_field_ids = False
        cls.program = cls.env["loyalty.program"]._get_bonus_program(company)
        cls.program.write(
            {
                "rule_ids": [
                    (5, 0, 0),
                    (0, 0, company._loyalty_bonus_rule_values()),
                ],
                "max_redeem_share": 30,
                "min_balance_to_spend": 0,
                "pending_days": 14,
            }
        )
        cls.program.reward_ids.discount_line_product_id.name = "Оплата баллами"
        cls.env["product.product"].create(
            {
                "name": "Куртка",
                "list_price": 1000,
                "available_in_pos": True,
                "taxes_id": [(5, 0, 0)],
            }
        )
        cls.member = cls.env["res.partner"].create(
            {"name": "Анна Петрова", "phone": "+79165554433"}
        )
        cls.card = cls.member._loyalty_enrol(
            program=cls.program, card_code="0430000000550"
        )
        Ledger = cls.env["loyalty.ledger"]
        Ledger._post(cls.card, 500, "adjustment", reason="seed")
        Ledger._post(
            cls.card,
            120,
            "bonus",
            reason="promo",
            expiry_date=fields.Date.add(fields.Date.today(), days=10),
        )
        Ledger._post(cls.card, 4252.96, "adjustment", reason="moved")

    def _run_layout_tour(self):
        self.main_pos_config.with_user(self.pos_user).open_ui()
        self.start_pos_tour("loyalty_crm_pos_layout_tour", login="pos_user")
        order = self.env["pos.order"].search(
            [("session_id", "=", self.main_pos_config.current_session_id.id)]
        )
        self.assertEqual(order.amount_total, 700)
        self.assertEqual(order.loyalty_crm_points_spent, 300)
        self.assertEqual(order.loyalty_crm_points_earned, 35)
        self.assertEqual(
            order.loyalty_crm_points_pending_date,
            fields.Date.add(fields.Date.context_today(order), days=14),
        )
        self.assertAlmostEqual(self.card.points, 4572.96)


@tagged("post_install", "-at_install")
class TestPosScreen1024(PosScreenCase):
    browser_size = "1024x768"

    def test_till_with_member_at_1024x768(self):
        self._run_layout_tour()


@tagged("post_install", "-at_install")
class TestPosScreen1440(PosScreenCase):
    browser_size = "1440x900"

    def test_till_with_member_at_1440x900(self):
        self._run_layout_tour()


@tagged("post_install", "-at_install")
class TestBackOfficeScreens(HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env.company.loyalty_required_field_ids = False
        cls.manager = new_test_user(
            cls.env,
            "lc_screens_manager",
            groups="base.group_user,base.group_partner_manager,"
            "loyalty_crm.group_loyalty_manager",
        )
        cls.member = cls.env["res.partner"].create(
            {"name": "Ольга Балансова", "phone": "+79165550101"}
        )
        cls.card = cls.member._loyalty_enrol()
        cls.env["loyalty.ledger"]._post(cls.card, 1000, "adjustment", reason="seed")

    def test_adjust_balance_by_a_signed_change_and_a_reason(self):
        self.start_tour(
            f"/odoo/action-base.action_partner_form/{self.member.id}",
            "loyalty_crm_adjust_tour",
            login="lc_screens_manager",
        )
        entry = self.card.ledger_ids.sorted("id")[-1]
        self.assertEqual(
            (entry.entry_type, entry.points, entry.reason, entry.user_id),
            ("adjustment", -250, "Ошибка кассира", self.manager),
        )
        self.assertEqual(self.card.points, 750)


@tagged("post_install", "-at_install")
class TestPortalInRussian(HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["res.lang"]._activate_lang("ru_RU")
        cls.env["ir.module.module"].search(
            [("name", "in", ("base", "web", "portal", "loyalty", "loyalty_crm"))]
        )._update_translations(["ru_RU"])
        cls.env.company.loyalty_required_field_ids = False
        program = cls.env["loyalty.program"]._get_bonus_program(cls.env.company)
        program.name = "Бонусная программа «Тест»"
        cls.user = new_test_user(
            cls.env, "lc_portal_ru", groups="base.group_portal", lang="ru_RU"
        )
        cls.user.partner_id.phone = "+79165550202"
        card = cls.user.partner_id._loyalty_enrol()
        cls.env["loyalty.ledger"]._post(card, 1234.5, "adjustment", reason="seed")

    def test_portal_in_russian_with_one_balance(self):
        self.start_tour("/my/home", "loyalty_crm_portal_ru_tour", login="lc_portal_ru")

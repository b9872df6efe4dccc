from odoo.exceptions import UserError, ValidationError
from odoo.tests import Form, tagged
from odoo.tools.barcode import get_barcode_check_digit

from .common import LoyaltyCase


@tagged("post_install", "-at_install")
class TestCards(LoyaltyCase):
    def test_company_has_one_default_bonus_program(self):
        self.assertTrue(self.program.is_bonus_program)
        self.assertEqual(self.company.loyalty_bonus_program_id, self.program)
        # Odoo's own sale/POS point machinery stays out of the bonus program
        self.assertFalse(self.program.sale_ok)
        self.assertFalse(self.program.pos_ok)
        self.assertEqual(self.program.rule_ids.reward_point_mode, "money")
        company = self.env["res.company"].create({"name": "Филиал"})
        self.assertTrue(company.loyalty_bonus_program_id.is_bonus_program)
        self.assertNotEqual(company.loyalty_bonus_program_id, self.program)
        self.assertEqual(company.loyalty_bonus_program_id.company_id, company)

    def test_enrolment_issues_an_ean13_card(self):
        member = self._member()
        card = member.loyalty_card_id
        self.assertTrue(member.loyalty_is_member)
        self.assertEqual(card.program_id, self.program)
        self.assertEqual(card.loyalty_state, "active")
        self.assertRegex(card.code, r"^043\d{10}$")
        self.assertEqual(get_barcode_check_digit(card.code), int(card.code[-1]))
        with self.assertRaisesRegex(UserError, "already a member"):
            member._loyalty_enrol()

    def test_physical_card_number_at_enrolment(self):
        partner = self.env["res.partner"].create(
            {"name": "С картой", "phone": "+79161234567"}
        )
        partner._loyalty_enrol(card_code="2000000012345")
        self.assertEqual(partner.loyalty_card_code, "2000000012345")
        other = self.env["res.partner"].create(
            {"name": "Та же карта", "phone": "+79035551234"}
        )
        with self.assertRaisesRegex(UserError, "already in use"):
            other._loyalty_enrol(card_code="2000000012345")

    def test_activation_at_first_purchase(self):
        self.program.card_activation = "first_purchase"
        member = self._member()
        self.assertEqual(member.loyalty_card_id.loyalty_state, "issued")
        self.assertFalse(member.loyalty_card_id.activation_date)
        member.loyalty_card_id._loyalty_activate()
        self.assertEqual(member.loyalty_card_id.loyalty_state, "active")
        self.assertTrue(member.loyalty_card_id.activation_date)

    def test_one_usable_card_per_member(self):
        member = self._member()
        with self.assertRaisesRegex(ValidationError, "already has a card"):
            self.env["loyalty.card"].create(
                {"program_id": self.program.id, "partner_id": member.id}
            )

    def test_replacement_keeps_balance_to_the_cent_and_blocks_old_card(self):
        member = self._member()
        self._credit(member, 1234.56)
        self._credit(member, -0.01)
        old = member.loyalty_card_id
        # the manager scans the new physical card (choosing a number is theirs)
        wizard = Form(
            self.env["loyalty.card.replace.wizard"]
            .with_user(self.manager)
            .with_context(default_card_id=old.id)
        )
        wizard.reason = "Потеряна в магазине"
        wizard.new_code = "0430000000017"
        wizard.save().action_replace()
        new = member.loyalty_card_id
        self.assertNotEqual(new, old)
        self.assertEqual(new.code, "0430000000017")
        self.assertEqual(new.points, 1234.55)
        self.assertEqual(old.points, 0)
        self.assertEqual(old.loyalty_state, "lost")
        self.assertEqual(old.loyalty_state_reason, "Потеряна в магазине")
        self.assertEqual(old.loyalty_state_user_id, self.manager)
        self.assertEqual(old.replaced_by_id, new)
        self.assertEqual(new.replaces_id, old)
        # the whole history is readable from the new card
        self.assertEqual(
            new.ledger_history_ids.filtered(
                lambda e: e.entry_type == "adjustment"
            ).mapped("points"),
            [-0.01, 1234.56],
        )
        self.assertFalse(self.Ledger._loyalty_find_mismatches())
        # the old card can never be used again
        with self.assertRaisesRegex(UserError, "cannot be used"):
            self.Ledger._post(old, 10, "bonus")
        with self.assertRaisesRegex(UserError, "never be used again"):
            old.sudo().loyalty_state = "active"
        with self.assertRaisesRegex(UserError, "already replaced"):
            old.with_user(self.cashier)._loyalty_replace("again")
        self.assertFalse(self.env["res.partner"]._loyalty_lookup(old.code))
        self.assertEqual(self.env["res.partner"]._loyalty_lookup(new.code), member)

    def test_pending_points_move_with_the_card(self):
        member = self._member()
        old = member.loyalty_card_id
        self.Ledger._post(old, 40, "accrual", state="pending", reason="Order S0001")
        new = old.with_user(self.cashier)._loyalty_replace("Сломана", lost=False)
        self.assertEqual(old.loyalty_state, "replaced")
        self.assertEqual(old.points_pending, 0)
        self.assertEqual(new.points_pending, 40)
        self.assertEqual(new.points, 0)

    def test_replacement_needs_a_reason_and_a_free_code(self):
        member = self._member()
        card = member.loyalty_card_id
        other = self._member(name="Другой", phone="+79035551234")
        with self.assertRaisesRegex(UserError, "Say why"):
            card.with_user(self.cashier)._loyalty_replace("")
        with self.assertRaisesRegex(UserError, "already in use"):
            card.with_user(self.manager)._loyalty_replace(
                "lost", new_code=other.loyalty_card_code
            )
        self.assertEqual(card.loyalty_state, "active")
        self.assertEqual(member.loyalty_card_id, card)

    def test_block_and_unblock(self):
        member = self._member()
        card = member.loyalty_card_id.with_user(self.cashier)
        self._credit(member, 50)
        card.action_loyalty_block(reason="Подозрение на мошенничество")
        self.assertEqual(card.loyalty_state, "blocked")
        self.assertEqual(card.loyalty_state_user_id, self.cashier)
        with self.assertRaisesRegex(UserError, "Blocked: it cannot be used"):
            self.Ledger._post(card, -10, "redemption")
        card.with_user(self.manager).action_loyalty_unblock(reason="Карта найдена")
        self.assertEqual(card.loyalty_state, "active")
        self.Ledger._post(card, -10, "redemption")
        self.assertEqual(card.points, 40)

    def test_card_report_renders_barcode(self):
        member = self._member()
        html = (
            self.env["ir.actions.report"]
            ._render_qweb_html(
                "loyalty_crm.report_member_card", member.loyalty_card_id.ids
            )[0]
            .decode()
        )
        self.assertIn(member.loyalty_card_code, html)
        self.assertIn("/report/barcode/?barcode_type=Code128", html)

from odoo.exceptions import UserError
from odoo.tests import tagged

from .common import LoyaltyCase


@tagged("post_install", "-at_install")
class TestLedger(LoyaltyCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.member = cls._member()
        cls.card = cls.member.loyalty_card_id

    def test_balance_is_the_sum_of_counted_entries(self):
        self.Ledger._post(self.card, 100.10, "accrual")
        self.Ledger._post(self.card, 20.20, "bonus")
        pending = self.Ledger._post(self.card, 55, "accrual", state="pending")
        self.Ledger._post(self.card, -0.30, "redemption")
        self.assertEqual(self.card.points, 120.0)
        self.assertEqual(self.card.points_pending, 55)
        pending.sudo().state = "available"
        self.assertEqual(self.card.points, 175.0)
        self.assertEqual(self.card.points_pending, 0)
        self.assertFalse(self.Ledger._loyalty_find_mismatches())

    def test_cancelled_pending_points_never_count(self):
        pending = self.Ledger._post(self.card, 30, "accrual", state="pending")
        pending.sudo().state = "cancelled"
        self.assertEqual(self.card.points, 0)
        with self.assertRaisesRegex(UserError, "cannot be changed"):
            pending.sudo().state = "available"

    def test_refusals_write_nothing(self):
        self.Ledger._post(self.card, 10, "accrual")
        cases = [
            ((self.card, 0, "accrual"), "non-zero"),
            ((self.card, -5, "accrual"), "cannot have"),
            ((self.card, 5, "redemption"), "cannot have"),
            ((self.card, -10.01, "redemption"), "cannot be taken"),
            ((self.card, -11, "adjustment"), "cannot be taken"),
        ]
        for args, message in cases:
            with (
                self.subTest(args=args[1:]),
                self.assertRaisesRegex(UserError, message),
            ):
                self.Ledger._post(*args)
        self.assertEqual(len(self.card.ledger_ids), 1)
        self.assertEqual(self.card.points, 10)

    def test_points_are_rounded_to_the_cent(self):
        self.Ledger._post(self.card, 0.1, "accrual")
        self.Ledger._post(self.card, 0.2, "accrual")
        self.Ledger._post(self.card, 10.005, "accrual")
        self.assertEqual(self.card.points, 10.31)
        self.Ledger._post(self.card, -10.31, "redemption")
        self.assertEqual(self.card.points, 0)

    def test_non_bonus_card_refused(self):
        coupons = self.env["loyalty.program"].create(
            {"name": "C", "program_type": "coupons"}
        )
        coupon = self.env["loyalty.card"].create({"program_id": coupons.id})
        with self.assertRaisesRegex(UserError, "not a bonus card"):
            self.Ledger._post(coupon, 5, "accrual")

    def test_entries_remember_who_why_and_source(self):
        order = self.env["sale.order"].create({"partner_id": self.member.id})
        entry = self.Ledger.with_user(self.manager)._post(
            self.card,
            12,
            "bonus",
            reason="Birthday",
            source=order,
            idempotency_key="k-1",
        )
        self.assertEqual(entry.user_id, self.manager)
        self.assertEqual((entry.res_model, entry.res_id), ("sale.order", order.id))
        self.assertEqual(entry.idempotency_key, "k-1")
        self.assertEqual(entry.partner_id, self.member)
        self.assertEqual(entry.company_id, self.company)

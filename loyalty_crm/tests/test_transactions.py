from odoo.tests import tagged

from ..tools import LoyaltyError
from .common import LoyaltyCase


@tagged("post_install", "-at_install")
class TestTransactions(LoyaltyCase):
    """The card operations every channel shares (API, POS, back office)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.program.write(
            {"pending_days": 0, "max_redeem_share": 30, "min_balance_to_spend": 0}
        )
        cls.member = cls._member()
        cls.card = cls.member.loyalty_card_id

    def assertRefused(self, code, func, *args, **kwargs):
        count = self.env["loyalty.ledger"].search_count([])
        with self.assertRaises(LoyaltyError) as caught:
            func(*args, **kwargs)
        self.assertEqual(caught.exception.code, code)
        self.assertEqual(self.env["loyalty.ledger"].search_count([]), count)

    def test_accrual_is_idempotent(self):
        entry = self.Ledger._accrue_purchase(self.card, 2000, "pos-1", reference="R1")
        self.assertEqual(
            (entry.points, entry.amount, self.card.points), (100, 2000, 100)
        )
        again = self.Ledger._accrue_purchase(self.card, 2000, "pos-1", reference="R1")
        self.assertEqual(again, entry)
        self.assertEqual(self.card.points, 100)

    def test_refusals_have_codes_and_write_nothing(self):
        self.Ledger._accrue_purchase(self.card, 2000, "seed")
        self.assertRefused(
            "validation_error", self.Ledger._accrue_purchase, self.card, -5, "k1"
        )
        self.assertRefused(
            "validation_error", self.Ledger._accrue_purchase, self.card, 10, ""
        )
        self.assertRefused(
            "insufficient_points", self.Ledger._redeem, self.card, 101, 1000, "k2"
        )
        self.assertRefused(
            "redemption_cap_exceeded", self.Ledger._redeem, self.card, 31, 100, "k3"
        )
        self.program.min_balance_to_spend = 500
        self.assertRefused(
            "insufficient_points", self.Ledger._redeem, self.card, 10, 1000, "k4"
        )
        self.card.with_user(self.cashier).action_loyalty_block(reason="fraud")
        self.assertRefused(
            "card_blocked", self.Ledger._accrue_purchase, self.card, 10, "k5"
        )
        self.assertRefused("card_blocked", self.Ledger._redeem, self.card, 1, 100, "k6")

    def test_redemption_and_its_reversal(self):
        self.Ledger._accrue_purchase(self.card, 2000, "seed")
        spent = self.Ledger._redeem(self.card, 30, 100, "r1")
        self.assertEqual(self.card.points, 70)
        self.assertEqual(self.Ledger._redeem(self.card, 30, 100, "r1"), spent)
        spent._reverse("r1-back", amount=50)  # half the order returned
        self.assertEqual(self.card.points, 85)
        spent._reverse("r1-back-2")
        self.assertEqual(self.card.points, 100)
        self.assertRefused("already_reversed", spent._reverse, "r1-back-3")

    def test_partial_returns_of_an_accrual(self):
        entry = self.Ledger._accrue_purchase(self.card, 2000, "a1")
        entry._reverse("a1-ret-1", amount=800)  # 40 %
        self.assertEqual(self.card.points, 60)
        self.assertRefused("validation_error", entry._reverse, "a1-ret-x", amount=1201)
        entry._reverse("a1-ret-2", amount=1200)
        self.assertEqual(self.card.points, 0)
        self.assertRefused("already_reversed", entry._reverse, "a1-ret-3")
        self.assertFalse(self.Ledger._loyalty_find_mismatches())

    def test_returns_of_pending_points(self):
        self.program.pending_days = 14
        entry = self.Ledger._accrue_purchase(self.card, 2000, "p1")
        self.assertEqual((self.card.points, self.card.points_pending), (0, 100))
        entry._reverse("p1-ret-1", amount=500)
        self.assertEqual(self.card.points_pending, 75)
        entry._reverse("p1-ret-2", amount=500)
        self.assertEqual(self.card.points_pending, 50)
        entry._reverse("p1-ret-3")
        self.assertEqual((self.card.points, self.card.points_pending), (0, 0))

    def test_points_spent_elsewhere_are_not_taken_below_zero(self):
        entry = self.Ledger._accrue_purchase(self.card, 2000, "s1")
        self.Ledger._redeem(self.card, 90, 1000, "s2")
        entry._reverse("s1-ret")
        self.assertEqual(self.card.points, 0)

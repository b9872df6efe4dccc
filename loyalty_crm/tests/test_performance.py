from odoo.tests import tagged

from .common import LoyaltyCase


@tagged("post_install", "-at_install")
class TestHotPaths(LoyaltyCase):
    """Member lookup and points posting issue a fixed number of queries,
    whatever the size of the base (speed targets live in the benchmarks)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.member = cls._member()
        cls.card = cls.member.loyalty_card_id
        cls.Ledger._post(cls.card, 100, "accrual")

    def test_lookup_by_phone_and_card(self):
        Partner = self.env["res.partner"]
        code = self.card.code
        self.env.invalidate_all()
        with self.assertQueryCount(3):
            self.assertEqual(Partner._loyalty_lookup("8 916 123-45-67"), self.member)
        self.env.invalidate_all()
        with self.assertQueryCount(2):
            self.assertEqual(Partner._loyalty_lookup(code), self.member)

    def test_posting_points(self):
        self.env.invalidate_all()
        with self.assertQueryCount(9):
            self.Ledger._post(self.card, -10, "redemption")
        self.env.invalidate_all()
        with self.assertQueryCount(8):
            self.Ledger._post(self.card, 10, "accrual")

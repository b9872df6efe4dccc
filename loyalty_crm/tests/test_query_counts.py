from odoo.tests import tagged

from .common import LoyaltyCase


@tagged("post_install", "-at_install")
class TestTransactionQueryCounts(LoyaltyCase):
    """What every channel (API, POS, back office) calls per purchase and per
    redemption issues a fixed number of queries, whatever the size of the base
    and of the card's history (speed targets live in the benchmarks)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.member = cls._member()
        cls.card = cls.member.loyalty_card_id
        # some history on the card: counts must not grow with it
        for i in range(5):
            cls.Ledger._accrue_purchase(cls.card, 1000.0, f"history/{i}")

    def _accrue(self, key):
        return self.Ledger._accrue_purchase(self.card, 1000.0, key, reference="Pin")

    def test_accrual(self):
        self.env.invalidate_all()
        with self.assertQueryCount(ACCRUAL):
            entry = self._accrue("pin/accrual/1")
        self.assertEqual(entry.points, 50.0)
        # the next ones cost the same: nothing grows with the history
        for i in range(2, 5):
            self.env.invalidate_all()
            with self.assertQueryCount(ACCRUAL):
                self._accrue(f"pin/accrual/{i}")

    def test_accrual_replayed(self):
        first = self._accrue("pin/replay")
        self.env.invalidate_all()
        with self.assertQueryCount(REPLAY):
            self.assertEqual(self._accrue("pin/replay"), first)

    def test_redemption(self):
        # Odoo's registry caches are emptied after each test: warm them first
        self.Ledger._redeem(self.card, 20.0, 100.0, "pin/redeem/0")
        self.env.invalidate_all()
        with self.assertQueryCount(REDEMPTION):
            entry = self.Ledger._redeem(self.card, 20.0, 100.0, "pin/redeem/1")
        self.assertEqual(entry.points, -20.0)
        self.env.invalidate_all()
        with self.assertQueryCount(REDEMPTION):
            self.Ledger._redeem(self.card, 20.0, 100.0, "pin/redeem/2")


# at most (the first accrual after the card's history may take one query less);
# 18 and 18 before the program's rules and tiers were cached, the ledger's related
# columns written with the entry and the card read by the query that locks it;
# 11 and 9 before each entry was written by one INSERT (no now(), no currency read)
ACCRUAL = 10
REPLAY = 2
REDEMPTION = 8

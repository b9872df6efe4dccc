from datetime import date

from freezegun import freeze_time

from odoo.tests import tagged

from .common import LoyaltyCase


@tagged("post_install", "-at_install")
class TestLots(LoyaltyCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.program.write({"points_lifetime": "days", "points_lifetime_days": 30})
        cls.member = cls._member()
        cls.card = cls.member.loyalty_card_id

    def _open(self):
        return [(round(p, 2), e) for _l, _c, p, e in self.Ledger._open_lots(self.card)]

    def test_spending_consumes_oldest_lots_first(self):
        with freeze_time("2026-01-01"):
            self.Ledger._post(self.card, 100, "accrual")
        with freeze_time("2026-01-10"):
            self.Ledger._post(self.card, 50, "accrual")
            self.Ledger._post(self.card, -120, "redemption")
        self.assertEqual(self._open(), [(30.0, date(2026, 2, 9))])

    def test_expiry_takes_what_is_left_of_old_lots_and_runs_once(self):
        with freeze_time("2026-01-01"):
            self.Ledger._post(self.card, 100, "accrual")
        with freeze_time("2026-01-20"):
            self.Ledger._post(self.card, 40, "accrual")
            self.Ledger._post(self.card, -30, "redemption")
        with freeze_time("2026-02-05"):  # first lot expired on 2026-01-31
            self.Ledger._cron_expire()
            self.Ledger._cron_expire()
            self.Ledger._cron_expire()
        expiries = self.card.ledger_ids.filtered(lambda e: e.entry_type == "expiry")
        self.assertEqual(expiries.mapped("points"), [-70.0])
        self.assertEqual(self.card.points, 40)
        self.assertEqual(self._open(), [(40.0, date(2026, 2, 19))])
        # spending after the expiry uses the remaining lot only
        self.Ledger._post(self.card, -15, "redemption")
        with freeze_time("2026-03-01"):
            self.Ledger._cron_expire()
            self.Ledger._cron_expire()
        self.assertEqual(self.card.points, 0)
        self.assertEqual(
            self.card.ledger_ids.filtered(lambda e: e.entry_type == "expiry")
            .sorted("id")
            .mapped("points"),
            [-70.0, -25.0],
        )
        self.assertFalse(self.Ledger._loyalty_find_mismatches())

    def test_end_of_month_lifetime(self):
        self.program.points_lifetime = "end_of_month"
        with freeze_time("2026-01-10"):
            entry = self.Ledger._post(self.card, 10, "accrual")
        self.assertEqual(entry.expiry_date, date(2026, 2, 28))
        self.program.points_lifetime = "none"
        self.assertFalse(self.Ledger._post(self.card, 10, "accrual").expiry_date)

    def test_adjustments_follow_the_expiry_policy(self):
        # a correction that adds points is a lot like any other: it expires
        # with the program's lifetime (no "adjust and keep forever")
        with freeze_time("2026-01-01"):
            entry = self._credit(self.member, 25)
        self.assertTrue(entry.expiry_date)
        with freeze_time("2027-06-01"):
            self.Ledger._cron_expire()
        self.assertEqual(self.card.points, 0)

    def test_pending_points_released_once_by_cron(self):
        with freeze_time("2026-01-01"):
            entry = self.Ledger._post(
                self.card,
                60,
                "accrual",
                state="pending",
                available_date=date(2026, 1, 15),
            )
        with freeze_time("2026-01-14"):
            self.Ledger._cron_release_pending()
        self.assertEqual((entry.state, self.card.points), ("pending", 0))
        with freeze_time("2026-01-15"):
            self.Ledger._cron_release_pending()
            self.Ledger._cron_release_pending()
        self.assertEqual(
            (entry.state, self.card.points, self.card.points_pending),
            ("available", 60, 0),
        )

    def test_pending_points_released_per_batch_of_cards(self):
        other = self._member(name="Иван Соколов", phone="+7 916 000-11-22")
        cards = self.card | other.loyalty_card_id
        with freeze_time("2026-01-01"):
            entries = self.Ledger.union(
                *(
                    self.Ledger._post(
                        card,
                        10 * (index + 1),
                        "accrual",
                        state="pending",
                        available_date=date(2026, 1, 15),
                    )
                    for index, card in enumerate(cards)
                )
            )
        with freeze_time("2026-01-15"):
            released = self.Ledger._cron_release_pending(batch_size=1)
            self.assertFalse(self.Ledger._cron_release_pending(batch_size=1))
        self.assertEqual(released, entries)
        self.assertEqual(entries.mapped("state"), ["available", "available"])
        self.assertEqual(cards.mapped("points"), [10.0, 20.0])

    def test_replacement_keeps_expiry_dates(self):
        with freeze_time("2026-01-01"):
            self.Ledger._post(self.card, 100, "accrual")
        with freeze_time("2026-01-20"):
            self.Ledger._post(self.card, 40, "accrual")
            self.Ledger._post(self.card, -30, "redemption")
            new = self.card.with_user(self.cashier)._loyalty_replace("Потеряна")
        lots = [(round(p, 2), e) for _l, _c, p, e in self.Ledger._open_lots(new)]
        self.assertEqual(lots, [(70.0, date(2026, 1, 31)), (40.0, date(2026, 2, 19))])
        with freeze_time("2026-02-05"):
            self.Ledger._cron_expire()
        self.assertEqual(new.points, 40)
        self.assertEqual(self.card.points, 0)

"""The nightly reconciliation checks every invariant of the ledger, not only the
balances: each breach below is made the way a bug (or a hand in the database)
would make it, then found, named and logged."""

from datetime import timedelta

from odoo import fields
from odoo.tests import tagged
from odoo.tools import SQL

from .common import LoyaltyCase

LOGGER = "odoo.addons.loyalty_crm.models.loyalty_ledger"


@tagged("post_install", "-at_install")
class TestInvariants(LoyaltyCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.program.write({"points_lifetime": "days", "points_lifetime_days": 365})
        cls.member = cls._member()
        cls.card = cls.member.loyalty_card_id

    def _raw_entry(self, points, state, entry_type="adjustment", **extra):
        """An entry written straight into the table (what the ORM refuses)."""
        values = {
            "card_id": self.card.id,
            "program_id": self.program.id,
            "company_id": self.card.company_id.id,
            "partner_id": self.member.id,
            "entry_type": entry_type,
            "points": points,
            "state": state,
            "date": fields.Datetime.now(),
            "amount": 0,
            **extra,
        }
        self.env.flush_all()
        rows = self.env.execute_query(
            SQL(
                "INSERT INTO loyalty_ledger (%s) VALUES %s RETURNING id",
                SQL(", ").join(SQL.identifier(name) for name in values),
                tuple(values.values()),
            )
        )
        self.env.invalidate_all()
        return rows[0][0]

    def test_a_sound_ledger_breaks_nothing(self):
        self.Ledger._post(self.card, 100, "bonus")
        self.Ledger._post(self.card, -30, "redemption")
        self.Ledger._post(self.card, -20, "redemption", state="reserved")
        self.assertEqual(self.Ledger._loyalty_check_invariants(), {})

    def test_negative_balance(self):
        self.Ledger._post(self.card, 10, "bonus")
        entry = self._raw_entry(-25, "posted", "redemption")
        found = self.Ledger._loyalty_check_invariants()
        self.assertEqual(found["negative_balance"], [(self.card.id, -15.0)])
        # the card still says 10: its balance no longer matches its ledger
        self.assertEqual(found["balance_mismatch"], [(self.card.id, 10.0, -15.0)])
        self.assertTrue(entry)

    def test_points_that_never_expire(self):
        self.Ledger._post(self.card, 10, "bonus")  # dated: fine
        forever = self._raw_entry(40, "available", "adjustment")
        pending = self._raw_entry(5, "pending", "accrual")
        self._raw_entry(7, "cancelled", "accrual")  # never counted: fine
        self._raw_entry(-3, "posted", "redemption")  # takes points: fine
        found = self.Ledger._loyalty_check_invariants()
        self.assertEqual(
            found["lot_without_expiry"],
            [
                (forever, self.card.id, "adjustment", 40.0),
                (pending, self.card.id, "accrual", 5.0),
            ],
        )
        # on a program whose points never expire, nothing to report
        self.program.points_lifetime = "none"
        self.assertNotIn("lot_without_expiry", self.Ledger._loyalty_check_invariants())

    def test_reservation_older_than_a_day(self):
        self.Ledger._post(self.card, 100, "bonus")
        fresh = self.Ledger._post(self.card, -10, "redemption", state="reserved")
        stale = self._raw_entry(
            -20,
            "reserved",
            "redemption",
            date=fields.Datetime.now() - timedelta(days=1, minutes=1),
        )
        self.card._loyalty_sync_points()
        found = self.Ledger._loyalty_check_invariants()
        self.assertEqual(list(found), ["stale_reservation"])
        self.assertEqual([row[0] for row in found["stale_reservation"]], [stale])
        self.assertNotIn(fresh.id, [row[0] for row in found["stale_reservation"]])

    def test_the_nightly_cron_logs_every_breach(self):
        self.Ledger._post(self.card, 10, "bonus")
        self._raw_entry(-60, "posted", "redemption")
        self._raw_entry(40, "available", "adjustment")
        self._raw_entry(
            -1, "reserved", "redemption", date=fields.Datetime.now() - timedelta(days=2)
        )
        with self.assertLogs(LOGGER, "ERROR") as logs:
            found = self.Ledger._cron_reconcile()
        self.assertEqual(
            set(found),
            {
                "balance_mismatch",
                "negative_balance",
                "lot_without_expiry",
                "stale_reservation",
            },
        )
        output = "\n".join(logs.output)
        self.assertIn("below zero", output)
        self.assertIn("without an expiry date", output)
        self.assertIn("neither paid nor released", output)
        self.assertIn("but its ledger sums to", output)

    def test_debt_that_does_not_match_its_entries(self):
        accrual = self.Ledger._post(self.card, 50, "accrual", amount=1000)
        self.Ledger._post(self.card, -30, "redemption")
        accrual._reverse("inv-return")  # 20 taken, 30 owed
        self.assertEqual(self.card.loyalty_debt, 30)
        self.assertEqual(self.Ledger._loyalty_check_invariants(), {})
        self._raw_entry(-5, "debt", "debt")
        found = self.Ledger._loyalty_check_invariants()
        self.assertEqual(found["debt_mismatch"], [(self.card.id, 30.0, 35.0)])

    def test_reservation_that_outlives_its_session(self):
        from .pos_common import open_shop

        self.Ledger._post(self.card, 100, "bonus")
        _config, session = open_shop(self.env, "Invariant till", self.env.user)
        self.Ledger._post(
            self.card, -10, "redemption", state="reserved", pos_session=session
        )
        self.assertEqual(self.Ledger._loyalty_check_invariants(), {})
        session.sudo().write({"state": "closed"})  # closed without its hook
        found = self.Ledger._loyalty_check_invariants()
        self.assertEqual(
            [row[2] for row in found["reservation_after_session"]], [session.id]
        )

    def test_entry_of_a_partner_key_that_does_not_name_the_partner(self):
        from odoo.tests import new_test_user

        user = new_test_user(
            self.env,
            "lc_inv_cp",
            groups="base.group_user,loyalty_crm.group_loyalty_api",
        )
        partner = self.env["loyalty.coalition.partner"].create(
            {
                "name": "Партнёр",
                "partner_id": self.env["res.partner"]
                .create({"name": "ООО Партнёр", "is_company": True})
                .id,
                "user_id": user.id,
                "program_id": self.program.id,
            }
        )
        named = self.Ledger.with_user(user)._post(
            self.card, 10, "bonus", coalition_partner=partner
        )
        self.assertEqual(self.Ledger._loyalty_check_invariants(), {})
        entry = self._raw_entry(5, "available", "bonus", user_id=user.id)
        self.card._loyalty_sync_points()
        found = self.Ledger._loyalty_check_invariants()
        self.assertEqual(
            found["unattributed_partner_entry"], [(entry, self.card.id, partner.id)]
        )
        self.assertTrue(named)

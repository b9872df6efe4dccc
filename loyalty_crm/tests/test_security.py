import psycopg2

from odoo.exceptions import AccessError, UserError
from odoo.tests import new_test_user, tagged
from odoo.tools import mute_logger

from .common import LoyaltyCase


@tagged("post_install", "-at_install")
class TestSecurity(LoyaltyCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.salesman = new_test_user(
            cls.env, "lc_salesman", groups="sales_team.group_sale_salesman"
        )
        cls.pos_user = new_test_user(
            cls.env, "lc_pos", groups="point_of_sale.group_pos_user"
        )
        cls.member = cls._member()
        cls.card = cls.member.loyalty_card_id

    def test_sales_and_pos_staff_are_loyalty_users(self):
        for user in (self.salesman, self.pos_user):
            self.assertTrue(user.has_group("loyalty_crm.group_loyalty_user"))
            self.assertFalse(user.has_group("loyalty_crm.group_loyalty_manager"))

    def test_nobody_writes_bonus_points_directly(self):
        # Odoo's sale_loyalty and pos_loyalty give these users write access on
        # loyalty.card: the bonus balance must still be out of their reach.
        for user in (self.cashier, self.salesman, self.pos_user, self.manager):
            with self.subTest(user=user.login), self.assertRaises(AccessError):
                self.card.with_user(user).write({"points": 1000})
        with self.assertRaises(AccessError):
            self.env["loyalty.card"].with_user(self.manager).create(
                {"program_id": self.program.id, "points": 500}
            )
        self.assertEqual(self.card.points, 0)
        self.assertFalse(self.card.ledger_ids)

    def test_other_programs_keep_odoo_behaviour(self):
        coupons = self.env["loyalty.program"].create(
            {
                "name": "Coupons",
                "program_type": "coupons",
            }
        )
        coupon = self.env["loyalty.card"].create(
            {"program_id": coupons.id, "points": 1}
        )
        coupon.with_user(self.salesman).points = 2
        self.assertEqual(coupon.points, 2)

    def test_bonus_history_is_not_writable(self):
        for user in (self.salesman, self.pos_user):
            with self.subTest(user=user.login), self.assertRaises(AccessError):
                self.env["loyalty.history"].with_user(user).create(
                    {
                        "card_id": self.card.id,
                        "description": "free points",
                        "issued": 100,
                    }
                )

    def test_ledger_is_not_writable_even_by_managers(self):
        entry = self._credit(self.member, 100)
        self.assertEqual(entry.state, "available")
        spent = self.Ledger._post(self.card, -30, "redemption")
        self.assertEqual(spent.state, "posted")
        for user in (self.cashier, self.manager):
            Ledger = self.Ledger.with_user(user)
            with self.subTest(user=user.login):
                with self.assertRaises(AccessError):
                    Ledger.create(
                        {"card_id": self.card.id, "entry_type": "bonus", "points": 5}
                    )
                with self.assertRaises(AccessError):
                    spent.with_user(user).write({"points": -1})
                with self.assertRaises(AccessError):
                    spent.with_user(user).unlink()
        # not even with superuser rights
        with self.assertRaisesRegex(UserError, "cannot be changed"):
            spent.sudo().write({"points": -1})
        with self.assertRaisesRegex(UserError, "cannot be changed"):
            spent.sudo().write({"state": "available"})
        with self.assertRaisesRegex(UserError, "cannot be deleted"):
            spent.sudo().unlink()
        with self.assertRaises(AccessError):
            self.Ledger.sudo().create(
                {"card_id": self.card.id, "entry_type": "bonus", "points": 5}
            )
        self.assertEqual(self.card.points, 70)

    def test_balance_adjustment_is_for_managers_and_goes_to_the_ledger(self):
        with self.assertRaises(AccessError):
            self.member.with_user(self.cashier)._loyalty_adjust(10, "gift")
        wizard = (
            self.env["loyalty.card.update.balance"]
            .with_user(self.manager)
            .create(
                {
                    "card_id": self.card.id,
                    "new_balance": 150,
                    "description": "Перенос из старой системы",
                }
            )
        )
        wizard.action_update_card_point()
        self.assertEqual(self.card.points, 150)
        entry = self.card.ledger_ids
        self.assertEqual(
            (entry.entry_type, entry.points, entry.user_id),
            ("adjustment", 150, self.manager),
        )
        self.assertEqual(entry.reason, "Перенос из старой системы")
        with self.assertRaisesRegex(UserError, "cannot be taken"):
            self._credit(self.member, -150.01)
        self.assertEqual(self.card.points, 150)

    def test_reconciliation_reports_tampered_balances(self):
        self.Ledger._post(self.card, 100, "bonus")
        self.assertFalse(self.Ledger._cron_reconcile())
        self.env.cr.execute(
            "UPDATE loyalty_card SET points = 999 WHERE id = %s", [self.card.id]
        )
        with self.assertLogs(
            "odoo.addons.loyalty_crm.models.loyalty_ledger", "ERROR"
        ) as logs:
            self.assertEqual(
                self.Ledger._cron_reconcile(),
                {"balance_mismatch": [(self.card.id, 999.0, 100.0)]},
            )
        self.assertIn("holds 999.0 points but its ledger sums to 100.0", logs.output[0])

    def test_database_refuses_negative_bonus_balance(self):
        self._credit(self.member, 5)
        with (
            mute_logger("odoo.sql_db"),
            self.assertRaises(psycopg2.errors.CheckViolation),
            self.env.cr.savepoint(),
        ):
            self.env.cr.execute(
                "UPDATE loyalty_card SET points = -1 WHERE id = %s", [self.card.id]
            )

    def test_multi_company_isolation(self):
        other_company = self.env["res.company"].create({"name": "Другая компания"})
        foreign_user = new_test_user(
            self.env,
            "lc_foreign",
            groups="base.group_user,loyalty_crm.group_loyalty_manager",
            company_id=other_company.id,
            company_ids=[other_company.id],
        )
        self._credit(self.member, 10)
        self.assertFalse(
            self.Ledger.with_user(foreign_user).search([("card_id", "=", self.card.id)])
        )
        self.assertFalse(
            self.env["loyalty.card"]
            .with_user(foreign_user)
            .search([("id", "=", self.card.id)])
        )
        self.assertTrue(
            self.Ledger.with_user(self.manager).search([("card_id", "=", self.card.id)])
        )

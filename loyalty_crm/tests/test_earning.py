from datetime import date

from freezegun import freeze_time

from odoo.tests import tagged

from ..tools import LoyaltyError
from .common import LoyaltyCase


@tagged("post_install", "-at_install")
class TestEarning(LoyaltyCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.shoes = cls.env["product.category"].create({"name": "Обувь"})
        cls.boots = cls.env["product.product"].create(
            {"name": "Сапоги", "categ_id": cls.shoes.id}
        )
        cls.shirt = cls.env["product.product"].create({"name": "Рубашка"})

    def test_percent_of_amount(self):
        lines = [(self.boots, 1, 3000.0), (self.shirt, 2, 1000.0)]
        self.assertEqual(self.program._loyalty_compute_points(lines), 200.0)  # 5 %

    def test_category_multiplier_and_per_unit_and_threshold(self):
        self.program.write(
            {
                "rule_ids": [
                    (
                        0,
                        0,
                        {
                            "reward_point_mode": "money",
                            "reward_point_amount": 0.05,
                            "product_category_id": self.shoes.id,
                            "minimum_qty": 0,
                        },
                    ),
                    (
                        0,
                        0,
                        {
                            "reward_point_mode": "unit",
                            "reward_point_amount": 3,
                            "product_ids": [(6, 0, self.shirt.ids)],
                            "minimum_qty": 0,
                        },
                    ),
                    (
                        0,
                        0,
                        {
                            "reward_point_mode": "order",
                            "reward_point_amount": 100,
                            "minimum_amount": 5000,
                            "minimum_qty": 0,
                        },
                    ),
                ]
            }
        )
        lines = [(self.boots, 1, 3000.0), (self.shirt, 2, 1000.0)]
        # 5 % of 4000 + 5 % more on shoes + 3 per shirt; no threshold bonus
        self.assertEqual(self.program._loyalty_compute_points(lines), 200 + 150 + 6)
        lines.append((self.shirt, 1, 1000.0))
        self.assertEqual(
            self.program._loyalty_compute_points(lines), 250 + 150 + 9 + 100
        )

    def test_rule_and_tier_changes_apply_to_the_next_purchase(self):
        """The rules and tiers are kept per process (issue #14): a change of a
        rule, a tier or the program applies to the very next purchase."""
        card = self._member().loyalty_card_id

        def accrue(key):
            return self.Ledger._accrue_purchase(card, 1000.0, key).points

        self.assertEqual(accrue("cache/1"), 50.0)  # 5 %
        self.program.rule_ids.write({"reward_point_amount": 0.1})
        self.assertEqual(accrue("cache/2"), 100.0)
        gold = self.env["loyalty.tier"].create(
            {
                "program_id": self.program.id,
                "name": "Gold",
                "min_spend": 3000,
                "multiplier": 2,
            }
        )
        self.assertEqual(accrue("cache/3"), 100.0)  # reaches the tier: 3,000 spent
        self.assertEqual(card.partner_id.loyalty_tier_id, gold)
        self.assertEqual(accrue("cache/4"), 200.0)
        gold.multiplier = 3
        self.assertEqual(accrue("cache/5"), 300.0)
        self.program.rule_ids = [
            (5, 0, 0),
            (0, 0, {"reward_point_mode": "order", "reward_point_amount": 7}),
        ]
        self.assertEqual(accrue("cache/6"), 21.0)
        self.program.rule_ids.active = False
        with self.assertRaises(LoyaltyError):
            accrue("cache/7")

    def test_multiplier_rounds_to_cents(self):
        lines = [(self.shirt, 1, 333.33)]
        self.assertEqual(
            self.program._loyalty_compute_points(lines, multiplier=1.5), 25.0
        )

    def test_welcome_bonus_once(self):
        self.program.welcome_points = 150
        member = self._member()
        card = member.loyalty_card_id
        self.assertEqual(card.points, 150)
        bonus = card.ledger_ids
        self.assertEqual(
            (bonus.entry_type, bonus.idempotency_key),
            ("bonus", f"res.partner/{member.id}/welcome"),
        )
        # a replaced card does not bring a second welcome bonus
        new = card.with_user(self.cashier)._loyalty_replace("lost")
        self.assertEqual(new.points, 150)
        self.assertEqual(len(self.Ledger.search([("reason", "=", "Welcome bonus")])), 1)

    def test_questionnaire_bonus_once_when_complete(self):
        self.program.questionnaire_points = 50
        member = self._member()
        self.assertEqual(member.loyalty_points, 0)
        member.write(
            {
                "email": "a@example.com",
                "loyalty_birthdate": date(1990, 1, 1),
                "loyalty_gender": "female",
                "loyalty_marital_status": "single",
                "loyalty_employment": "student",
                "loyalty_children": "0",
                "city": "Тула",
                "loyalty_channel_ids": [
                    (6, 0, self.env.ref("loyalty_crm.channel_email").ids)
                ],
                "loyalty_interest_ids": [(6, 0, self.shoes.ids)],
            }
        )
        self.assertEqual(member.loyalty_completeness, 100)
        self.assertEqual(member.loyalty_points, 50)
        member.city = False
        member.city = "Тула"
        self.assertEqual(member.loyalty_points, 50)

    def test_birthday_bonus_once_a_year(self):
        self.program.birthday_points = 200
        born = self._member(loyalty_birthdate=date(1990, 3, 15))
        self._member(
            name="Другой день",
            phone="+79035551234",
            loyalty_birthdate=date(1990, 3, 16),
        )
        leap = self._member(
            name="Високосный", phone="+79035551235", loyalty_birthdate=date(2000, 2, 29)
        )
        with freeze_time("2027-03-15"):
            self.assertEqual(len(self.env["res.partner"]._cron_birthday_bonus()), 1)
            self.assertFalse(self.env["res.partner"]._cron_birthday_bonus())
        self.assertEqual(born.loyalty_points, 200)
        with freeze_time("2028-03-15"):
            self.env["res.partner"]._cron_birthday_bonus()
        self.assertEqual(born.loyalty_points, 400)
        with freeze_time("2027-02-28"):
            self.env["res.partner"]._cron_birthday_bonus()
        self.assertEqual(leap.loyalty_points, 200)

    def test_expiring_points_on_partner(self):
        self.program.write({"points_lifetime": "days", "points_lifetime_days": 20})
        member = self._member()
        with freeze_time("2026-01-01"):
            self.Ledger._post(member.loyalty_card_id, 30, "accrual")
        with freeze_time("2026-03-01"):
            self.Ledger._post(member.loyalty_card_id, 40, "accrual")
        with freeze_time("2026-01-05"):
            member.invalidate_recordset(["loyalty_points_expiring"])
            self.assertEqual(member.loyalty_points_expiring, 30)
            self.assertEqual(member.loyalty_points_expiring_date, date(2026, 1, 21))

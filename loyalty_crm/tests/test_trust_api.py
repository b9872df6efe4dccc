"""A dishonest API client or coalition partner, over real HTTP."""

import uuid as uuid_lib
from datetime import date

from freezegun import freeze_time

from odoo import fields
from odoo.tests import new_test_user, tagged

from .api_common import ApiCase
from .pos_common import open_shop


@tagged("post_install", "-at_install")
class TestTrustApi(ApiCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.cp_user = new_test_user(
            cls.env,
            "lc_cp_trust",
            groups="base.group_user,loyalty_crm.group_loyalty_api",
        )
        cls.cp_key = cls._key(cls.cp_user)
        today = fields.Date.today()
        cls.coalition = cls.env["loyalty.coalition.partner"].create(
            {
                "name": "Кофейня",
                "partner_id": cls.env["res.partner"]
                .create({"name": "ООО Кофейня", "is_company": True})
                .id,
                "user_id": cls.cp_user.id,
                "program_id": cls.program.id,
                "date_start": fields.Date.add(today, days=-30),
                "date_end": fields.Date.add(today, days=-1),  # ended yesterday
            }
        )

    def test_reversing_a_reservation_is_refused(self):
        cashier = new_test_user(
            self.env,
            "lc_trust_till",
            groups="base.group_user,point_of_sale.group_pos_user",
        )
        config, _session = open_shop(self.env, "Till T", cashier)
        uuid = str(uuid_lib.uuid4())
        answer = config.with_user(cashier).loyalty_crm_reserve(
            uuid, self.member.id, 30, 1000, {"card": self.card.code}
        )
        self.assertTrue(answer["ok"], answer)
        reservation = self.Ledger.search([("pos_order_uuid", "=", uuid)])
        self.assertEqual(self.card.points, 70)
        self.assertError(
            self.api(
                "POST",
                f"/transactions/{reservation.id}/reversal",
                {"idempotency_key": "rev-reserved"},
            ),
            422,
            "validation_error",
        )
        config.with_user(cashier).loyalty_crm_release(uuid)
        self.assertEqual(self.card.points, 100)  # given back once, not twice

    def test_partner_outside_its_period_is_refused_everything(self):
        calls = [
            ("GET", f"/members/lookup?card={self.card.code}", None),
            ("POST", "/members", {"name": "Вера", "phone": "+7 916 000-11-22"}),
            ("POST", f"/cards/{self.card.code}/replace", {"new_code": "0439999999995"}),
            (
                "POST",
                "/accruals",
                {"card": self.card.code, "amount": 100, "idempotency_key": "p-1"},
            ),
            (
                "POST",
                "/redemptions",
                {
                    "card": self.card.code,
                    "points": 10,
                    "order_amount": 100,
                    "idempotency_key": "p-2",
                },
            ),
            ("GET", f"/members/{self.member.id}/transactions", None),
        ]
        before = self.counts()
        for method, path, body in calls:
            with self.subTest(path=path):
                self.assertError(
                    self.api(method, path, body, key=self.cp_key), 403, "forbidden"
                )
        self.assertEqual(self.counts(), before)

    def test_bonuses_caused_by_a_partner_are_attributed_to_it(self):
        today = fields.Date.today()
        self.coalition.date_end = fields.Date.add(today, days=30)
        self.program.welcome_points = 25
        status, answer = self.api(
            "POST",
            "/members",
            {"name": "Вера Новая", "phone": "+7 916 000-11-22", "consent": True},
            key=self.cp_key,
        )
        self.assertEqual(status, 201, answer)
        card = self.env["res.partner"].browse(answer["member"]["id"]).loyalty_card_id
        welcome = card.ledger_ids.filtered(lambda e: e.entry_type == "bonus")
        self.assertEqual(welcome.points, 25)
        self.assertEqual(welcome.coalition_partner_id, self.coalition)
        rows = self.env["loyalty.coalition.settlement"].search(
            [("entry_id", "=", welcome.id)]
        )
        self.assertEqual(rows.points_issued, 25)

    def test_reversed_redemption_gives_back_points_that_still_expire(self):
        self.program.write({"points_lifetime": "days", "points_lifetime_days": 100})
        with freeze_time("2026-01-01"):
            self.Ledger._post(self.card, 200, "accrual", reason="lot")  # 2026-04-11
        status, redemption = self.api(
            "POST",
            "/redemptions",
            {
                "card": self.card.code,
                "points": 150,
                "order_amount": 1000,
                "idempotency_key": "spend-lots",
            },
        )
        self.assertEqual(status, 201, redemption)
        status, reversal = self.api(
            "POST",
            f"/transactions/{redemption['transaction']['id']}/reversal",
            {"idempotency_key": "undo-lots"},
        )
        self.assertEqual(status, 201, reversal)
        self.assertEqual(reversal["transaction"]["points"], 150)
        given = self.Ledger.search(
            [("card_id", "=", self.card.id), ("entry_type", "=", "reversal")]
        )
        # the lots it took come back with their own dates: none without one
        self.assertTrue(all(given.mapped("expiry_date")))
        self.assertIn(date(2026, 4, 11), given.mapped("expiry_date"))

    def test_member_object_shows_the_debt(self):
        status, accrual = self.api(
            "POST",
            "/accruals",
            {"card": self.card.code, "amount": 2000, "idempotency_key": "debt-1"},
        )
        self.assertEqual(status, 201, accrual)
        status, _spent = self.api(
            "POST",
            "/redemptions",
            {
                "card": self.card.code,
                "points": 110,
                "order_amount": 2000,
                "idempotency_key": "debt-2",
            },
        )
        self.assertEqual(status, 201)
        status, reversal = self.api(
            "POST",
            f"/transactions/{accrual['transaction']['id']}/reversal",
            {"idempotency_key": "debt-3"},
        )
        self.assertEqual(status, 201, reversal)
        self.assertEqual(reversal["member"]["balance"]["available"], 0)
        # 100 + 100 earned - 110 spent = 90 left: the other 10 are owed
        self.assertEqual(reversal["transaction"]["points"], -100)
        self.assertEqual(reversal["member"]["balance"]["debt"], 10)
        status, lookup = self.api("GET", f"/members/lookup?card={self.card.code}")
        self.assertEqual(lookup["member"]["balance"]["debt"], 10)

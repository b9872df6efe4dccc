from odoo import fields
from odoo.exceptions import ValidationError
from odoo.tests import new_test_user, tagged

from .api_common import ApiCase


@tagged("post_install", "-at_install")
class TestCoalition(ApiCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.cp_user = new_test_user(
            cls.env, "lc_cp", groups="base.group_user,loyalty_crm.group_loyalty_api"
        )
        cls.cp_key = cls._key(cls.cp_user)
        today = fields.Date.today()
        cls.coalition = cls.env["loyalty.coalition.partner"].create(
            {
                "name": "Coffee Corner",
                "partner_id": cls.env["res.partner"]
                .create({"name": "Coffee Corner LLC", "is_company": True})
                .id,
                "user_id": cls.cp_user.id,
                "program_id": cls.program.id,
                "earn_rate": 0.5,
                "spend_rate": 1.0,
                "date_start": fields.Date.add(today, days=-1),
                "date_end": fields.Date.add(today, days=30),
            }
        )

    def _cp(self, path, body):
        return self.api("POST", path, body, key=self.cp_key)

    def test_partner_transactions_and_settlement(self):
        status, accrual = self._cp(
            "/accruals",
            {"card": self.card.code, "amount": 2000, "idempotency_key": "cp-1"},
        )
        self.assertEqual(status, 201, accrual)
        partner = {"id": self.coalition.id, "name": "Coffee Corner"}
        self.assertEqual(accrual["transaction"]["partner"], partner)
        entry = self.env["loyalty.ledger"].browse(accrual["transaction"]["id"])
        self.assertEqual(entry.coalition_partner_id, self.coalition)
        status, redemption = self._cp(
            "/redemptions",
            {
                "card": self.card.code,
                "points": 30,
                "order_amount": 500,
                "idempotency_key": "cp-2",
            },
        )
        self.assertEqual(status, 201, redemption)
        self.assertEqual(redemption["transaction"]["partner"], partner)
        status, reversal = self._cp(
            f"/transactions/{entry.id}/reversal",
            {"idempotency_key": "cp-3", "amount": 400},
        )
        self.assertEqual(status, 201, reversal)
        self.assertEqual(reversal["transaction"]["partner"], partner)
        # the same key of another API user is another request
        status, own = self.api(
            "POST",
            "/accruals",
            {"card": self.card.code, "amount": 100, "idempotency_key": "cp-1"},
        )
        self.assertEqual(status, 201, own)
        self.assertIsNone(own["transaction"]["partner"])
        # a partner reverses only its own transactions
        self.assertError(
            self._cp(
                f"/transactions/{own['transaction']['id']}/reversal",
                {"idempotency_key": "cp-4"},
            ),
            404,
            "not_found",
        )
        status, history = self.api("GET", f"/members/{self.member.id}/transactions")
        self.assertEqual(
            [t["partner"] and t["partner"]["id"] for t in history["transactions"]],
            [None, self.coalition.id, self.coalition.id, self.coalition.id, None],
        )
        # settlement: 100 issued - 20 returned, 30 redeemed
        Settlement = self.env["loyalty.coalition.settlement"]
        [row] = Settlement._read_group(
            [("coalition_partner_id", "=", self.coalition.id)],
            ["coalition_partner_id"],
            [
                "points_issued:sum",
                "points_redeemed:sum",
                "value_issued:sum",
                "value_redeemed:sum",
                "balance:sum",
            ],
        )
        self.assertEqual(row[1:], (80.0, 30.0, 40.0, 30.0, 10.0))
        self.assertEqual(Settlement.search_count([]), 3)
        exported = Settlement.search([]).export_data(
            ["coalition_partner_id", "points_issued", "balance"]
        )["datas"]
        self.assertEqual(len(exported), 3)
        action = self.coalition.action_open_settlement()
        self.assertEqual(action["res_model"], "loyalty.coalition.settlement")

    def test_only_its_program_and_period(self):
        other_program = self.env["loyalty.program"].create(
            {"name": "Other bonus", "program_type": "loyalty", "is_bonus_program": True}
        )
        stranger = self.env["res.partner"].create(
            {"name": "Stranger", "phone": "+79165559999"}
        )
        stranger._loyalty_enrol(program=other_program)
        before = self.counts()
        self.assertError(
            self._cp(
                "/accruals",
                {
                    "card": stranger.loyalty_card_id.code,
                    "amount": 100,
                    "idempotency_key": "cp-x",
                },
            ),
            404,
            "not_found",
        )
        self.assertError(
            self.api(
                "GET",
                f"/members/lookup?card={stranger.loyalty_card_id.code}",
                key=self.cp_key,
            ),
            404,
            "not_found",
        )
        self.coalition.date_end = fields.Date.add(fields.Date.today(), days=-1)
        self.assertError(
            self._cp(
                "/accruals",
                {"card": self.card.code, "amount": 100, "idempotency_key": "cp-y"},
            ),
            403,
            "forbidden",
        )
        self.coalition.action_archive()
        self.assertError(
            self.api("GET", f"/members/lookup?card={self.card.code}", key=self.cp_key),
            403,
            "forbidden",
        )
        self.assertEqual(self.counts(), before)

    def test_partner_user_must_be_an_api_user(self):
        with self.assertRaises(ValidationError):
            self.env["loyalty.coalition.partner"].create(
                {
                    "name": "No key",
                    "partner_id": self.member.id,
                    "user_id": self.cashier.id,
                    "program_id": self.program.id,
                }
            )

"""The till in headless Chromium: Odoo's own POS test setup, our tours."""

import uuid as uuid_lib

from odoo import fields
from odoo.tests import tagged

from odoo.addons.point_of_sale.tests import test_frontend as pos_frontend


@tagged("post_install", "-at_install")
class TestPosLoyaltyUi(pos_frontend.TestPointOfSaleHttpCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company = cls.main_pos_config.company_id
        cls.company.loyalty_phone_region = "RU"
        cls.company.loyalty_required_field_ids = False
        cls.program = cls.env["loyalty.program"]._get_bonus_program(cls.company)
        cls.program.rule_ids = [
            (5, 0, 0),
            (0, 0, cls.company._loyalty_bonus_rule_values()),
        ]
        # the member found by phone spends without an SMS code here; the code
        # at the till has its own tour (test_otp.py)
        cls.program.spend_otp = False
        cls.discount_product = cls.program.reward_ids.discount_line_product_id
        cls.discount_product.name = "Оплата баллами"
        cls.jacket = cls.env["product.product"].create(
            {
                "name": "Куртка",
                "list_price": 1000,
                "available_in_pos": True,
                "taxes_id": [(5, 0, 0)],
            }
        )
        cls.hat = cls.env["product.product"].create(
            {
                "name": "Шапка",
                "list_price": 500,
                "available_in_pos": True,
                "taxes_id": [(5, 0, 0)],
            }
        )
        Partner = cls.env["res.partner"]
        cls.member = Partner.create({"name": "Анна Петрова", "phone": "+79165554433"})
        cls.card = cls.member._loyalty_enrol(
            program=cls.program, card_code="0430000000550"
        )
        cls.env["loyalty.ledger"]._post(cls.card, 500, "adjustment", reason="seed")
        blocked = Partner.create({"name": "Борис Блокин", "phone": "+79165554400"})
        blocked._loyalty_enrol(program=cls.program, card_code="0430000000551")
        blocked.loyalty_card_id.action_loyalty_block("stolen")
        cls.env["utm.source"].create({"name": "Витрина", "loyalty_offered": True})

    def _entries(self, uuid):
        return self.env["loyalty.ledger"].search(
            [("idempotency_key", "=like", f"pos.order/{uuid}/%")], order="id"
        )

    def test_lookup_redeem_and_earn(self):
        self.main_pos_config.with_user(self.pos_user).open_ui()
        self.start_pos_tour("loyalty_crm_pos_sale_tour", login="pos_user")
        order = self.env["pos.order"].search(
            [("session_id", "=", self.main_pos_config.current_session_id.id)]
        )
        self.assertEqual(order.partner_id, self.member)
        self.assertEqual(order.amount_total, 900)
        entries = self._entries(order.uuid)
        self.assertEqual(
            [(e.entry_type, e.state, e.points) for e in entries],
            [("redemption", "posted", -100), ("accrual", "available", 45)],
        )
        self.assertEqual(self.card.points, 445)
        # the deleted order's reservation was released by the till
        released = self.env["loyalty.ledger"].search(
            [("card_id", "=", self.card.id), ("state", "=", "cancelled")]
        )
        self.assertEqual(released.mapped("points"), [-50])

    def test_enrol_at_the_till(self):
        self.main_pos_config.with_user(self.pos_user).open_ui()
        self.start_pos_tour("loyalty_crm_pos_enrol_tour", login="pos_user")
        member = self.env["res.partner"].search([("name", "=", "Мария Кассова")])
        self.assertEqual(member.loyalty_phone, "+79161112233")
        self.assertEqual(member.loyalty_source_id.name, "Витрина")
        self.assertEqual(member.loyalty_gender, "female")
        self.assertTrue(member.loyalty_marketing_consent)
        self.assertEqual(member.loyalty_card_id.points, 50)

    def _paid_order(self, session, uuid, lines, paid):
        cash = self.main_pos_config.payment_method_ids.filtered("is_cash_count")[:1]
        self.env["pos.order"].with_user(self.pos_user).sync_from_ui(
            [
                {
                    "amount_paid": paid,
                    "amount_return": 0,
                    "amount_tax": 0,
                    "amount_total": paid,
                    "date_order": fields.Datetime.to_string(fields.Datetime.now()),
                    "fiscal_position_id": False,
                    "pricelist_id": self.main_pos_config.pricelist_id.id,
                    "name": f"Order {uuid}",
                    "lines": [
                        (
                            0,
                            0,
                            {
                                "product_id": product.id,
                                "qty": 1,
                                "discount": 0.0,
                                "tax_ids": [(6, 0, [])],
                                "price_unit": price,
                                "price_subtotal": price,
                                "price_subtotal_incl": price,
                            },
                        )
                        for product, price in lines
                    ],
                    "partner_id": self.member.id,
                    "session_id": session.id,
                    "sequence_number": 1,
                    "payment_ids": [
                        (
                            0,
                            0,
                            {
                                "amount": paid,
                                "name": fields.Datetime.now(),
                                "payment_method_id": cash.id,
                            },
                        )
                    ],
                    "uuid": uuid,
                    "user_id": self.pos_user.id,
                    "to_invoice": False,
                    "state": "paid",
                }
            ]
        )

    def test_return_stays_with_the_buyer(self):
        """A return can't move to another member, at the member button nor
        through a till changed from the browser's console."""
        other = self.env["res.partner"].create(
            {"name": "Виктор Чужой", "phone": "+79165554411"}
        )
        other_card = other._loyalty_enrol(
            program=self.program, card_code="0430000000552"
        )
        welcome = other_card.points
        self.main_pos_config.with_user(self.pos_user).open_ui()
        session = self.main_pos_config.current_session_id
        self._paid_order(session, str(uuid_lib.uuid4()), [(self.jacket, 1000)], 1000)
        self.assertEqual(self.card.points, 550)
        self.start_pos_tour(
            "loyalty_crm_pos_return_other_member_tour", login="pos_user"
        )
        returns = self.env["pos.order"].search(
            [("session_id", "=", session.id), ("amount_total", "<", 0)]
        )
        self.assertFalse(returns)
        self.assertEqual(self.card.points, 550)
        self.assertEqual(other_card.points, welcome)

    def test_refund(self):
        self.main_pos_config.with_user(self.pos_user).open_ui()
        session = self.main_pos_config.current_session_id
        uuid = str(uuid_lib.uuid4())
        self.main_pos_config.with_user(self.pos_user).loyalty_crm_reserve(
            uuid, self.member.id, 100, 1000, {"card": self.card.code}
        )
        self._paid_order(
            session, uuid, [(self.jacket, 1000), (self.discount_product, -100)], 900
        )
        self.assertEqual(self.card.points, 445)
        self.start_pos_tour("loyalty_crm_pos_refund_tour", login="pos_user")
        refund = self.env["pos.order"].search(
            [("session_id", "=", session.id), ("amount_total", "<", 0)]
        )
        self.assertEqual(refund.amount_total, -900)
        self.assertEqual(
            sorted(self._entries(refund.uuid).mapped("points")), [-45, 100]
        )
        self.assertEqual(self.card.points, 500)

    def test_partial_refund(self):
        self.main_pos_config.with_user(self.pos_user).open_ui()
        session = self.main_pos_config.current_session_id
        uuid = str(uuid_lib.uuid4())
        self.main_pos_config.with_user(self.pos_user).loyalty_crm_reserve(
            uuid, self.member.id, 200, 2000, {"card": self.card.code}
        )
        self._paid_order(
            session,
            uuid,
            [(self.jacket, 1500), (self.hat, 500), (self.discount_product, -200)],
            1800,
        )
        self.assertEqual(self.card.points, 390)  # 500 - 200 + 5 % of 1800
        self.start_pos_tour("loyalty_crm_pos_partial_refund_tour", login="pos_user")
        refund = self.env["pos.order"].search(
            [("session_id", "=", session.id), ("amount_total", "<", 0)]
        )
        # the hat (a quarter of the order) and a quarter of the points discount
        self.assertEqual(refund.amount_total, -450)
        self.assertEqual(
            sorted(self._entries(refund.uuid).mapped("points")), [-22.5, 50]
        )
        self.assertEqual(self.card.points, 417.5)

"""A dishonest till, through the payloads the till really sends (``sync_from_ui``,
batched as the till sends them) and its RPCs. Each test is an attack that
succeeded before the settlement core; each proves it fails now."""

import uuid as uuid_lib
from datetime import date

from freezegun import freeze_time

from odoo.exceptions import AccessError, UserError
from odoo.tests import new_test_user, tagged

from .pos_common import PosLoyaltyCase, open_shop, order_payload


@tagged("post_install", "-at_install")
class TestTrustPos(PosLoyaltyCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.program.write(
            {
                "pending_days": 0,
                "max_redeem_share": 30,
                "min_balance_to_spend": 0,
                "point_value": 1,
                "points_lifetime": "days",
                "points_lifetime_days": 365,
                "welcome_points": 0,
                "questionnaire_points": 0,
            }
        )
        cls.member = cls._member()
        cls.card = cls.member.loyalty_card_id
        cls.other = cls._member(name="Пётр Другой", phone="+7 916 765-43-21")

    def _sync_many(self, payloads, user=None):
        answer = (
            self.env["pos.order"]
            .with_user(user or self.pos_cashier)
            .sync_from_ui(payloads)
        )
        return self.env["pos.order"].browse([o["id"] for o in answer["pos.order"]])

    # ------------------------------------------------------------ amounts
    def test_forged_subtotals_earn_on_the_money_paid(self):
        payload = order_payload(self.session, [(self.product, 1, 10)], self.member)
        for _cmd, _id, line in payload["lines"]:
            line.update(price_subtotal=100000, price_subtotal_incl=100000)
        order = self._sync(payload)
        self.assertEqual(order.state, "paid")
        self.assertEqual(self.card.points, 0.5)  # 5 % of the 10 paid

    def test_unit_price_beyond_the_money_paid_earns_on_the_money(self):
        payload = order_payload(
            self.session, [(self.product, 1, 100000)], self.member, payment=10
        )
        payload["amount_total"] = 10  # Odoo compares the till's total with the paid
        order = self._sync(payload)
        self.assertEqual(order.state, "paid")
        self.assertEqual(self.card.points, 0.5)

    def test_plus_one_minus_one_earns_nothing(self):
        order = self._sync(
            order_payload(
                self.session,
                [(self.product, 1, 1000), (self.product, -1, 1000)],
                self.member,
            )
        )
        self.assertEqual(order.state, "paid")
        self.assertEqual(self.card.points, 0)
        self.assertFalse(self._entries(order.uuid))

    # ------------------------------------------------------------ returns
    def test_refund_against_another_customers_cheap_line_takes_the_points_back(self):
        sale = self._sync(
            order_payload(self.session, [(self.product, 1, 1000)], self.member)
        )
        self.assertEqual(self.card.points, 50)
        cheap = self._sync(
            order_payload(self.session, [(self.product_b, 1, 10)], self.other)
        )
        # the jacket's money goes back, referencing the other customer's hat
        payload = order_payload(self.session, [], self.member)
        payload["lines"] = [
            (
                0,
                0,
                {
                    "product_id": self.product.id,
                    "qty": -1,
                    "price_unit": 1000,
                    "price_subtotal": -1000,
                    "price_subtotal_incl": -1000,
                    "discount": 0.0,
                    "tax_ids": [(6, 0, [])],
                    "refunded_orderline_id": cheap.lines.id,
                    "uuid": str(uuid_lib.uuid4()),
                },
            )
        ]
        payload.update(amount_total=-1000, amount_paid=-1000)
        payload["payment_ids"][0][2]["amount"] = -1000
        refund = self._sync(payload)
        self.assertEqual(refund.state, "paid")
        # no points given back to the hat's buyer; the jacket's points clawed back
        self.assertEqual(self.other.loyalty_card_id.points, 0.5)
        self.assertEqual(self.card.points, 0)
        self.assertEqual(
            refund.loyalty_crm_exception_ids.mapped("code"), ["return_unmatched"]
        )
        self.assertTrue(sale)

    def test_return_after_the_points_were_reserved_leaves_a_debt(self):
        sale = self._sync(
            order_payload(self.session, [(self.product, 2, 500)], self.member)
        )
        self.assertEqual(self.card.points, 50)
        held = str(uuid_lib.uuid4())
        self.assertTrue(self._reserve(self.member, 50, 1000, held)["ok"])
        self.assertEqual(self.card.points, 0)
        refund = self._sync(
            order_payload(self.session, [], self.member, refunds=[(sale.lines, 2)])
        )
        self.assertEqual(refund.loyalty_crm_points_earned, -50)
        self.assertEqual((self.card.points, self.card.loyalty_debt), (0, 50))
        # released later, the reserved points pay the debt: nothing is forgiven
        self.config.with_user(self.pos_cashier).loyalty_crm_release(held)
        self.assertEqual((self.card.points, self.card.loyalty_debt), (0, 0))
        # and a later purchase earns normally
        self._sync(order_payload(self.session, [(self.product, 1, 1000)], self.member))
        self.assertEqual(self.card.points, 50)
        self.assertFalse(self.Ledger._loyalty_find_mismatches())

    def test_return_after_the_points_were_spent_is_paid_by_the_next_purchase(self):
        sale = self._sync(
            order_payload(self.session, [(self.product, 2, 500)], self.member)
        )
        spend = str(uuid_lib.uuid4())
        self._reserve(self.member, 50, 1000, spend)
        self._sync(
            order_payload(
                self.session,
                [
                    (self.product_b, 1, 400),
                    (self.product_b, 1, 400),
                    (self.product, 1, 200),
                    self._discount_line(50),
                ],
                self.member,
                uuid=spend,
            )
        )
        points = self.card.points  # 5 % of the 950 paid
        self.assertEqual(points, 47.5)
        self._sync(
            order_payload(self.session, [], self.member, refunds=[(sale.lines, 2)])
        )
        self.assertEqual((self.card.points, self.card.loyalty_debt), (0, 2.5))
        self._sync(order_payload(self.session, [(self.product, 1, 1000)], self.member))
        self.assertEqual((self.card.points, self.card.loyalty_debt), (47.5, 0))
        self.assertFalse(self.Ledger._loyalty_find_mismatches())

    def test_return_follows_the_member_to_a_replacement_card(self):
        sale = self._sync(
            order_payload(self.session, [(self.product, 1, 1000)], self.member)
        )
        new = self.card._loyalty_replace("lost")
        self.assertEqual(new.points, 50)
        self._sync(
            order_payload(self.session, [], self.member, refunds=[(sale.lines, 1)])
        )
        self.assertEqual((new.points, new.loyalty_debt), (0, 0))

    # ------------------------------------------------------------ the till's queue
    def test_card_blocked_after_reservation_never_blocks_the_batch(self):
        self._credit(self.member, 300)
        uuid = str(uuid_lib.uuid4())
        self.assertTrue(self._reserve(self.member, 100, 1000, uuid)["ok"])
        self.card.with_user(self.manager).action_loyalty_block("stolen wallet")
        paid_with_points = order_payload(
            self.session,
            [(self.product, 1, 1000), self._discount_line(100)],
            self.member,
            uuid=uuid,
        )
        others = [
            order_payload(self.session, [(self.product_b, 1, 400)], self.other)
            for _i in range(2)
        ]
        orders = self._sync_many([others[0], paid_with_points, others[1]])
        self.assertEqual(orders.mapped("state"), ["paid"] * 3)
        # the points held for it while the card could pay became its redemption
        self.assertEqual(
            [(e.entry_type, e.state) for e in self._entries(uuid)],
            [("redemption", "posted")],
        )
        self.assertEqual(self.card.points, 200)
        blocked = orders.filtered(lambda o: o.uuid == uuid)
        self.assertEqual(
            blocked.loyalty_crm_exception_ids.mapped("code"), ["card_unusable"]
        )
        self.assertEqual(self.other.loyalty_card_id.points, 40)

    def test_a_batch_with_a_bad_order_still_lands_every_order(self):
        # a discount with no reservation, a return that matches nothing, and a
        # normal sale, in one call: every order lands, the rest is exceptions
        bad_discount = order_payload(
            self.session,
            [(self.product, 1, 1000), self._discount_line(200)],
            self.member,
        )
        normal = order_payload(self.session, [(self.product_b, 1, 400)], self.other)
        orders = self._sync_many([bad_discount, normal])
        self.assertEqual(orders.mapped("state"), ["paid", "paid"])
        self.assertEqual(self.card.loyalty_debt, 200 - 40)
        self.assertEqual(self.other.loyalty_card_id.points, 20)

    # ------------------------------------------------------------ reservations
    def test_another_till_cannot_release_or_steal_a_reservation(self):
        self._credit(self.member, 300)
        uuid = str(uuid_lib.uuid4())
        self.assertTrue(self._reserve(self.member, 100, 1000, uuid)["ok"])
        other_cashier = new_test_user(
            self.env,
            "lc_other_cashier",
            groups="base.group_user,point_of_sale.group_pos_user",
        )
        config_b, _session = open_shop(self.env, "Till B", self.pos_manager)
        till_b = config_b.with_user(other_cashier)
        answer = till_b.loyalty_crm_release(uuid)
        self.assertEqual((answer["ok"], answer["code"]), (False, "forbidden"))
        answer = till_b.loyalty_crm_reserve(
            uuid, self.member.id, 10, 1000, {"card": self.card.code}
        )
        self.assertEqual((answer["ok"], answer["code"]), (False, "forbidden"))
        self.assertEqual(self._entries(uuid).mapped("state"), ["reserved"])
        # the order synced by another till does not take this till's reservation
        session_b = config_b.current_session_id
        payload = order_payload(
            session_b,
            [(self.product, 1, 1000), self._discount_line(100)],
            self.member,
            uuid=uuid,
        )
        order = self._sync(payload, user=other_cashier)
        self.assertEqual(order.state, "paid")
        reservation = self._entries(uuid).filtered(
            lambda e: "/reserve/" in e.idempotency_key
        )
        self.assertEqual(reservation.state, "reserved")
        # the till that reserved gives it back when its session closes
        self.session.with_user(self.pos_manager).action_pos_session_closing_control()
        self.assertEqual(reservation.state, "cancelled")
        self.assertEqual(self.card.points, 300 - 100 + 45)
        self.assertFalse(self.Ledger._loyalty_find_mismatches())

    # ------------------------------------------------------------ expiry
    def test_return_takes_back_its_own_lot_not_the_oldest(self):
        with freeze_time("2026-01-10"):
            self._credit(self.member, 100)  # expires 2027-01-10
        with freeze_time("2026-06-10"):
            sale = self._sync(
                order_payload(self.session, [(self.product, 1, 1000)], self.member)
            )
            self._sync(
                order_payload(self.session, [], self.member, refunds=[(sale.lines, 1)])
            )
        lots = [(round(p, 2), e) for _l, _c, p, e in self.Ledger._open_lots(self.card)]
        # buy-and-return did not refresh the old points
        self.assertEqual(lots, [(100, date(2027, 1, 10))])

    def test_exceptions_are_read_and_resolved_by_managers_only(self):
        order = self._sync(
            order_payload(
                self.session,
                [(self.product, 1, 1000), self._discount_line(200)],
                self.member,
            )
        )
        exception = order.sudo().loyalty_crm_exception_ids
        self.assertEqual(exception.code, "points_owed")
        # the cashier whose till made it can neither read, nor resolve, nor edit it
        as_cashier = exception.with_user(self.pos_cashier)
        with self.assertRaises(AccessError):
            as_cashier.read(["message"])
        with self.assertRaises(AccessError):
            as_cashier.action_resolve("nothing happened")
        with self.assertRaises(AccessError):
            as_cashier.action_open_document()
        # a manager resolves it with a note, never edits nor deletes it
        as_manager = exception.with_user(self.manager)
        with self.assertRaises(UserError):
            as_manager.action_resolve("   ")
        with self.assertRaises(AccessError):
            as_manager.with_context(_loyalty_exception_resolve=True).write(
                {"points": 0, "message": "forged"}
            )
        with self.assertRaises(UserError):
            as_manager.unlink()
        as_manager.action_resolve("Долг объяснён покупателю")
        self.assertEqual(
            (exception.state, exception.resolved_by_id), ("resolved", self.manager)
        )
        with self.assertRaises(UserError):
            as_manager.action_resolve("again")

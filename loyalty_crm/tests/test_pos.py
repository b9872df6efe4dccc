import uuid as uuid_lib
from datetime import timedelta

from odoo import fields
from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged

from .pos_common import PosLoyaltyCase, open_shop, order_payload


@tagged("post_install", "-at_install")
class TestPosAccrual(PosLoyaltyCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.member = cls._member()
        cls.card = cls.member.loyalty_card_id

    def test_paid_order_earns_from_its_lines(self):
        payload = order_payload(self.session, [(self.product, 2, 500)], self.member)
        order = self._sync(payload)
        self.assertEqual(order.state, "paid")
        entries = self._entries(order.uuid)
        self.assertEqual(entries.mapped("entry_type"), ["accrual"])
        self.assertEqual(entries.points, 50)  # 5 % of 1000
        self.assertEqual((entries.res_model, entries.res_id), ("pos.order", order.id))
        self.assertEqual(self.card.points, 50)
        # what the receipt shows, read back from the server after the sync
        self.assertEqual(order.loyalty_crm_card_code, self.card.code)
        self.assertEqual(order.loyalty_crm_points_earned, 50)
        self.assertEqual(order.loyalty_crm_points_spent, 0)
        self.assertEqual(order.loyalty_crm_balance, 50)

    def test_same_order_synced_three_times_earns_once(self):
        payload = order_payload(self.session, [(self.product, 1, 1000)], self.member)
        orders = {
            self._sync(dict(payload, lines=list(payload["lines"]))) for _i in "abc"
        }
        self.assertEqual(len(orders), 1)
        self.assertEqual(len(self._entries(payload["uuid"])), 1)
        self.assertEqual(self.card.points, 50)

    def test_draft_then_paid_earns_when_paid(self):
        payload = order_payload(self.session, [(self.product, 1, 1000)], self.member)
        draft = self._sync(dict(payload, state="draft", payment_ids=[], amount_paid=0))
        self.assertEqual(draft.state, "draft")
        self.assertFalse(self._entries(payload["uuid"]))
        self._sync(dict(payload, lines=[]))
        self.assertEqual(self.card.points, 50)

    def test_forged_payload_changes_nothing(self):
        payload = order_payload(
            self.session,
            [(self.product, 1, 1000)],
            self.member,
            loyalty_crm_points_earned=100000,
            loyalty_crm_balance=100000,
        )
        for _cmd, _id, line in payload["lines"]:
            line.update(points_cost=-5000, is_reward_line=False)
        order = self._sync(payload)
        # Odoo's pos_loyalty calls, with numbers the browser made up
        order.with_user(self.pos_cashier).confirm_coupon_programs(
            {str(self.card.id): {"points": 100000, "won": 100000, "spent": 0}}
        )
        order.with_user(self.pos_cashier).add_loyalty_history_lines(
            [{"card_id": self.card.id, "won": 100000, "spent": 0}], []
        )
        order.with_user(self.pos_cashier).validate_coupon_programs(
            {str(self.card.id): -100000}, []
        )
        # the card typed as a coupon code, even with the program open to the POS
        self.program.pos_ok = True
        answer = self.config.with_user(self.pos_cashier).use_coupon_code(
            self.card.code,
            fields.Datetime.to_string(fields.Datetime.now()),
            self.member.id,
            False,
        )
        self.assertFalse(answer["successful"])
        self.assertEqual(self.card.points, 50)
        self.assertEqual(len(self.card.ledger_ids), 1)
        self.assertFalse(
            self.env["loyalty.history"].search([("card_id", "=", self.card.id)])
        )
        order.invalidate_recordset()
        self.assertEqual(order.loyalty_crm_points_earned, 50)

    def test_discount_never_reserved_lands_and_leaves_the_points_owed(self):
        payload = order_payload(
            self.session,
            [(self.product, 1, 1000), self._discount_line(300)],
            self.member,
        )
        order = self._sync(payload)
        # the paid order is never lost; the points it was paid with are owed
        self.assertEqual(order.state, "paid")
        self.assertEqual(self.card.points, 0)
        self.assertEqual(self.card.loyalty_debt, 300 - 35)  # its own 5 % of 700 paid
        self.assertEqual(
            order.loyalty_crm_exception_ids.mapped("code"), ["points_owed"]
        )

    def test_blocked_card_earns_nothing_but_the_sale_goes_on(self):
        self.card.with_user(self.manager).action_loyalty_block("stolen")
        order = self._sync(
            order_payload(self.session, [(self.product, 1, 1000)], self.member)
        )
        self.assertEqual(order.state, "paid")
        self.assertFalse(self._entries(order.uuid))

    def test_customer_without_card_and_anonymous_sales(self):
        stranger = self.env["res.partner"].create({"name": "Not a member"})
        for partner in (stranger, None):
            order = self._sync(
                order_payload(self.session, [(self.product, 1, 1000)], partner)
            )
            self.assertEqual(order.state, "paid")
            self.assertFalse(self._entries(order.uuid))


@tagged("post_install", "-at_install")
class TestPosRedemption(PosLoyaltyCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.member = cls._member()
        cls.card = cls.member.loyalty_card_id

    def setUp(self):
        super().setUp()
        self._credit(self.member, 500)

    def test_reserve_refuses_what_is_not_a_number(self):
        """A till sends NaN or infinity (they pass every comparison, or bound
        nothing): refused, nothing held, the balance untouched."""
        before = self.card.points
        for points, amount in (
            ("nan", 1000),
            (float("nan"), 1000),
            ("inf", 1000),
            ("-inf", 1000),
            (100, "nan"),
            (100, "inf"),
            ("1e309", 1000),
        ):
            with self.subTest(points=points, amount=amount):
                answer = self._reserve(
                    self.member, points, amount, str(uuid_lib.uuid4())
                )
                self.assertFalse(answer["ok"], answer)
        self.card.invalidate_recordset()
        self.assertEqual(self.card.points, before)
        self.assertFalse(
            self.Ledger.sudo().search(
                [("card_id", "=", self.card.id), ("state", "=", "reserved")]
            )
        )

    def test_the_ledger_refuses_points_that_are_not_numbers(self):
        for points in (float("nan"), float("inf")):
            with self.subTest(points=points), self.assertRaises(UserError):
                self.Ledger._post(self.card, points, "adjustment", reason="x")

    def test_reserve_then_pay_with_part_of_the_balance(self):
        uuid = str(uuid_lib.uuid4())
        answer = self._reserve(self.member, 120, 1000, uuid)
        self.assertTrue(answer["ok"], answer)
        self.assertEqual((answer["points"], answer["value"]), (120, 120))
        self.assertEqual(answer["product_id"], self.discount_product.id)
        # held at once: no other till, no other channel can spend them
        self.assertEqual(self.card.points, 380)
        self.assertEqual(answer["member"]["points"], 380)
        order = self._sync(
            order_payload(
                self.session,
                [(self.product, 1, 1000), self._discount_line(120)],
                self.member,
                uuid=uuid,
            )
        )
        entries = self._entries(uuid)
        self.assertEqual(
            [(e.entry_type, e.state, e.points) for e in entries],
            [("redemption", "posted", -120), ("accrual", "available", 44)],
        )
        self.assertEqual(self.card.points, 424)  # 500 - 120 + 5 % of 880
        # posted, the redemption names the order it paid (reports, reversals)
        self.assertEqual(
            {(e.res_model, e.res_id) for e in entries}, {("pos.order", order.id)}
        )
        with self.assertRaises(UserError):
            entries[0].sudo().write({"res_id": order.id + 1})
        with self.assertRaises(UserError):
            entries[0]._confirm_reservation(order)
        self.assertEqual(order.loyalty_crm_points_spent, 120)
        self.assertEqual(order.loyalty_crm_points_earned, 44)
        self.assertFalse(self.Ledger._loyalty_find_mismatches())

    def test_new_amount_replaces_the_reservation_and_zero_releases_it(self):
        uuid = str(uuid_lib.uuid4())
        self._reserve(self.member, 100, 1000, uuid)
        self._reserve(self.member, 100, 1000, uuid)  # the same again: nothing new
        self.assertEqual(len(self._entries(uuid)), 1)
        self._reserve(self.member, 50, 1000, uuid)
        self.assertEqual(self.card.points, 450)
        self.assertEqual(self._entries(uuid).mapped("state"), ["cancelled", "reserved"])
        self._reserve(self.member, 0, 1000, uuid)
        self.assertEqual(self.card.points, 500)
        self._reserve(self.member, 30, 1000, uuid)
        self.config.with_user(self.pos_cashier).loyalty_crm_release(uuid)
        self.assertEqual(self.card.points, 500)
        # an order paid without the discount line gives the points back too
        self._reserve(self.member, 30, 1000, uuid)
        self._sync(
            order_payload(
                self.session, [(self.product, 1, 1000)], self.member, uuid=uuid
            )
        )
        self.assertEqual(self.card.points, 550)

    def test_two_tills_reserving_the_same_points(self):
        config_b, _session_b = open_shop(self.env, "Till B", self.pos_manager)
        first = self._reserve(self.member, 400, 2000, str(uuid_lib.uuid4()))
        second = self._reserve(
            self.member, 400, 2000, str(uuid_lib.uuid4()), config=config_b
        )
        self.assertTrue(first["ok"])
        self.assertFalse(second["ok"])
        self.assertEqual(second["code"], "insufficient_points")
        self.assertIn("has 100.0 points", second["message"])
        self.assertEqual(self.card.points, 100)
        self.assertEqual(self.Ledger.search_count([("card_id", "=", self.card.id)]), 2)

    def test_spending_rules(self):
        uuid = str(uuid_lib.uuid4())
        answer = self._reserve(self.member, 400, 1000, uuid)  # cap: 30 % of 1000
        self.assertEqual(answer["code"], "redemption_cap_exceeded", answer)
        self.assertIn("at most 30.0 %", answer["message"])
        answer = self._reserve(self.member, 600, 5000, uuid)
        self.assertEqual(answer["code"], "insufficient_points")
        answer = self._reserve(self.member, -5, 5000, uuid)
        self.assertEqual(answer["code"], "validation_error")
        self.program.min_balance_to_spend = 1000
        answer = self._reserve(self.member, 10, 5000, uuid)
        self.assertEqual(answer["code"], "insufficient_points")
        self.assertIn("from a balance of 1000.0", answer["message"])
        self.assertEqual(self.card.points, 500)
        self.assertFalse(self._entries(uuid))

    def test_order_identifier_cannot_reach_other_orders(self):
        other = str(uuid_lib.uuid4())
        self._reserve(self.member, 100, 1000, other)
        till = self.config.with_user(self.pos_cashier)
        for uuid in ("%", "_%", "", "x" * 65, None, 42):
            with self.subTest(uuid=uuid), self.assertRaises(UserError):
                till.loyalty_crm_release(uuid)
            with self.subTest(uuid=uuid), self.assertRaises(UserError):
                self._reserve(self.member, 10, 1000, uuid)
        self.assertEqual(self._entries(other).state, "reserved")
        self.assertEqual(self.card.points, 400)

    def test_operations_of_an_order_are_found_through_an_index(self):
        self.env.cr.execute("SET LOCAL enable_seqscan = off")
        self.addCleanup(self.env.cr.execute, "SET LOCAL enable_seqscan = on")
        self.env.cr.execute(
            "EXPLAIN SELECT id FROM loyalty_ledger WHERE idempotency_key LIKE %s",
            [f"pos.order/{uuid_lib.uuid4()}/%"],
        )
        plan = " ".join(row[0] for row in self.env.cr.fetchall())
        # (the plain index serves under the C collation, ours under any other)
        self.assertIn("Index", plan)
        self.assertNotIn("Seq Scan", plan)

    def test_discount_that_differs_from_the_reservation_is_refused(self):
        uuid = str(uuid_lib.uuid4())
        self._reserve(self.member, 100, 1000, uuid)
        payload = order_payload(
            self.session,
            [(self.product, 1, 1000), self._discount_line(300)],
            self.member,
            uuid=uuid,
        )
        order = self._sync(payload)
        # the 100 reserved points pay 100; the other 200 were given without points
        self.assertEqual(order.state, "paid")
        self.assertEqual(
            [(e.entry_type, e.state, e.points) for e in self._entries(uuid)],
            [("redemption", "posted", -100), ("accrual", "available", 35)],
        )
        self.assertEqual(
            order.loyalty_crm_exception_ids.mapped("code"), ["discount_mismatch"]
        )

    def test_cap_is_checked_again_on_the_synced_lines(self):
        uuid = str(uuid_lib.uuid4())
        # reserved for an amount of 1000, but the order synced is only 200
        self._reserve(self.member, 300, 1000, uuid)
        payload = order_payload(
            self.session,
            [(self.product, 1, 200), self._discount_line(300)],
            self.member,
            uuid=uuid,
            payment=0,
        )
        payload["amount_total"] = 0
        order = self._sync(payload)
        # the order lands, the points are taken, the cashier's excess is flagged
        self.assertEqual(order.state, "paid")
        self.assertEqual(self.card.points, 200)
        self.assertEqual(
            order.loyalty_crm_exception_ids.mapped("code"), ["discount_over_cap"]
        )

    def test_cron_releases_reservations_never_paid(self):
        old, recent = str(uuid_lib.uuid4()), str(uuid_lib.uuid4())
        self._reserve(self.member, 100, 1000, old)
        self._reserve(self.member, 50, 1000, recent)
        self.assertEqual(self.card.points, 350)
        self.env.flush_all()
        self.env.cr.execute(
            "UPDATE loyalty_ledger SET date = %s WHERE idempotency_key LIKE %s",
            [fields.Datetime.now() - timedelta(hours=2), f"pos.order/{old}/%"],
        )
        self.Ledger.invalidate_model(["date"])
        released = self.env["pos.order"]._cron_loyalty_release_reservations()
        self.assertEqual(released, self._entries(old))
        self.assertEqual(self._entries(old).state, "cancelled")
        self.assertEqual(self._entries(recent).state, "reserved")
        self.assertEqual(self.card.points, 450)
        # the order of the released reservation syncs later: points taken if
        # they are still there
        self._sync(
            order_payload(
                self.session,
                [(self.product, 1, 1000), self._discount_line(100)],
                self.member,
                uuid=old,
            )
        )
        self.assertEqual(
            [(e.entry_type, e.state, e.points) for e in self._entries(old)],
            [
                ("redemption", "cancelled", -100),
                ("redemption", "posted", -100),
                ("accrual", "available", 45),
            ],
        )
        self.assertEqual(self.card.points, 395)
        late = self._entries(old).filtered(lambda e: e.state == "posted")
        self.assertEqual(set(late.mapped("res_model")), {"pos.order"})

    def test_cancelled_order_releases_its_points(self):
        uuid = str(uuid_lib.uuid4())
        payload = order_payload(
            self.session,
            [(self.product, 1, 1000), self._discount_line(100)],
            self.member,
            uuid=uuid,
            state="draft",
            payment_ids=[],
            amount_paid=0,
        )
        self._reserve(self.member, 100, 1000, uuid)
        order = self._sync(payload)
        order.with_user(self.pos_cashier).action_pos_order_cancel()
        self.assertEqual(self._entries(uuid).state, "cancelled")
        self.assertEqual(self.card.points, 500)


@tagged("post_install", "-at_install")
class TestPosRefund(PosLoyaltyCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.member = cls._member()
        cls.card = cls.member.loyalty_card_id

    def _paid_sale(self):
        self._credit(self.member, 500)
        uuid = str(uuid_lib.uuid4())
        self._reserve(self.member, 140, 1400, uuid)
        order = self._sync(
            order_payload(
                self.session,
                [
                    (self.product, 1, 1000),
                    (self.product_b, 1, 400),
                    self._discount_line(140),
                ],
                self.member,
                uuid=uuid,
            )
        )
        # 500 - 140 + 5 % of 1260
        self.assertEqual(self.card.points, 423)
        return order

    def _refund_payload(self, order, products, discount_qty=0):
        refunds = [
            (line, 1)
            for line in order.lines.filtered(lambda line: line.product_id in products)
        ]
        if discount_qty:
            discount = order.lines.filtered(
                lambda line: line.product_id == self.discount_product
            )
            refunds.append((discount, discount_qty))
        return order_payload(self.session, [], self.member, refunds=refunds)

    def _refund(self, order, products, discount_qty=0):
        return self._sync(self._refund_payload(order, products, discount_qty))

    def test_full_refund_takes_back_earned_and_gives_back_spent(self):
        order = self._paid_sale()
        payload = self._refund_payload(order, self.product | self.product_b, 1)
        refund = self._sync(payload)
        self.assertEqual(refund.amount_total, -1260)
        self.assertEqual(self.card.points, 500)
        self.assertEqual(refund.loyalty_crm_points_earned, -63)
        self.assertEqual(refund.loyalty_crm_points_spent, -140)
        self.assertEqual(len(self._entries(refund.uuid)), 2)
        # synced again: nothing more
        self._sync(payload)
        self.assertEqual(len(self._entries(refund.uuid)), 2)
        self.assertEqual(self.card.points, 500)
        self.assertFalse(self.Ledger._loyalty_find_mismatches())

    def test_partial_refunds_in_proportion(self):
        order = self._paid_sale()
        self._refund(order, self.product_b, 0.286)  # 400 of 1400
        # earned 63 * 4/14 = 18 taken back, spent 140 * 4/14 = 40 given back
        self.assertEqual(self.card.points, 423 - 18 + 40)
        self._refund(order, self.product, 0.714)  # the rest
        self.assertEqual(self.card.points, 500)
        self.assertFalse(self.Ledger._loyalty_find_mismatches())

    def test_return_paid_back_in_money_gives_no_points_back(self):
        order = self._paid_sale()
        # the money paid back includes the part paid with points: those points
        # are not given back (the customer got their value), and it is flagged
        refund = self._refund(order, self.product_b)
        self.assertEqual(refund.state, "paid")
        self.assertEqual(self.card.points, 423 - 18)
        self.assertEqual(refund.loyalty_crm_points_spent, 0)
        self.assertEqual(
            refund.loyalty_crm_exception_ids.mapped("code"),
            ["return_discount_missing"],
        )


@tagged("post_install", "-at_install")
class TestPosMembers(PosLoyaltyCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.member = cls._member(phone="+7 916 555-44-33")
        cls.card = cls.member.loyalty_card_id
        cls.till = cls.config.with_user(cls.pos_cashier)

    def test_lookup_by_card_and_by_phone(self):
        self._credit(self.member, 80)
        for term in (self.card.code, "8 (916) 555-44-33", "+79165554433", "9165554433"):
            with self.subTest(term=term):
                answer = self.till.loyalty_crm_lookup(term)
                self.assertTrue(answer["ok"], answer)
                member = answer["member"]
                self.assertEqual(member["partner_id"], self.member.id)
                self.assertEqual(member["card"], self.card.code)
                self.assertEqual(member["points"], 80)
                self.assertEqual(member["phone"], "+79165554433")
                self.assertIn("expiring", member)
        answer = self.till.loyalty_crm_lookup("+7 999 000-00-00")
        self.assertEqual((answer["ok"], answer["code"]), (False, "not_found"))

    def test_blocked_and_lost_cards_are_refused(self):
        self.card.with_user(self.manager).action_loyalty_block("stolen")
        for term in (self.card.code, "+79165554433"):
            answer = self.till.loyalty_crm_lookup(term)
            self.assertEqual(answer["code"], "card_blocked")
            self.assertIn("Blocked", answer["message"])
        self.card.with_user(self.manager).action_loyalty_unblock("found")
        old_code = self.card.code
        self.card._loyalty_replace("lost")
        answer = self.till.loyalty_crm_lookup(old_code)
        self.assertEqual(answer["code"], "card_blocked")
        self.assertIn("Lost", answer["message"])
        answer = self.till.loyalty_crm_lookup("+79165554433")
        self.assertTrue(answer["ok"])
        self.assertNotEqual(answer["member"]["card"], old_code)

    def test_lookup_query_count(self):
        self._credit(self.member, 80)
        self.env.invalidate_all()
        self.till.loyalty_crm_lookup(self.card.code)  # warm-up (registry caches)
        # a card number, then a phone (one more query: the card search fails)
        for term, queries in ((self.card.code, 13), ("8 916 555-44-33", 14)):
            self.env.invalidate_all()
            with self.assertQueryCount(queries):
                self.assertTrue(self.till.loyalty_crm_lookup(term)["ok"])

    def test_enrol_takes_only_an_offered_source(self):
        """A till sends any source id (or garbage): only an offered source is
        recorded, anything else leaves the till's own channel source."""
        craigslist = self.env.ref("utm.utm_source_craigslist")
        self.assertNotIn(
            craigslist.id,
            [s["id"] for s in self.till.loyalty_crm_enrol_options()["sources"]],
        )
        for phone, source_id in (
            ("8 916 777 66 01", craigslist.id),
            ("8 916 777 66 02", "1; DROP TABLE res_partner"),
            ("8 916 777 66 03", {"id": 1}),
            ("8 916 777 66 04", -5),
        ):
            answer = self.till.loyalty_crm_enrol(
                {"name": "Гость", "phone": phone, "source_id": source_id}
            )
            self.assertTrue(answer["ok"], answer)
            partner = self.env["res.partner"].browse(answer["member"]["partner_id"])
            self.assertEqual(
                partner.loyalty_source_id, self.env.ref("loyalty_crm.utm_source_store")
            )

    def test_default_sources_offered_once(self):
        """The first answers are offered while none is; a manager's own list
        is kept by every later upgrade."""
        Source = self.env["utm.source"]
        search_engine = self.env.ref("utm.utm_source_search_engine")
        self.assertTrue(search_engine.loyalty_offered)
        Source.search([]).loyalty_offered = False
        own = Source.create({"name": "Листовка у кассы", "loyalty_offered": True})
        Source._loyalty_offer_default_sources()
        self.assertEqual(Source._loyalty_offered_sources(), own)
        own.loyalty_offered = False
        Source._loyalty_offer_default_sources()
        self.assertIn(search_engine, Source._loyalty_offered_sources())

    def test_enrol_at_the_till(self):
        sms = self.env.ref("loyalty_crm.channel_sms")
        source = self.env["utm.source"].create(
            {"name": "Витрина", "loyalty_offered": True}
        )
        options = self.till.loyalty_crm_enrol_options()
        self.assertIn(sms.id, [c["id"] for c in options["channels"]])
        offered = [s["id"] for s in options["sources"]]
        self.assertIn(source.id, offered)
        # the sources of a new database: a retailer's, not Odoo's job boards
        self.assertIn(self.env.ref("utm.utm_source_search_engine").id, offered)
        self.assertIn(self.env.ref("loyalty_crm.utm_source_referral").id, offered)
        self.assertNotIn(self.env.ref("utm.utm_source_craigslist").id, offered)
        self.assertEqual(
            [g["id"] for g in options["genders"]], ["male", "female", "other"]
        )
        # in the cashier's language (the server's labels: no term of the till's own)
        self.env["res.lang"]._activate_lang("ru_RU")
        self.env["ir.module.module"]._load_module_terms(["loyalty_crm"], ["ru_RU"])
        ru = self.till.with_context(lang="ru_RU").loyalty_crm_enrol_options()
        self.assertEqual(
            [g["name"] for g in ru["genders"]], ["Мужской", "Женский", "Другой"]
        )
        answer = self.till.loyalty_crm_enrol(
            {
                "name": "Ольга Новая",
                "phone": "8 916 777 66 55",
                "consent": True,
                "channel_ids": [sms.id],
                "birthdate": "1990-05-17",
                "gender": "female",
                "source_id": source.id,
            }
        )
        self.assertTrue(answer["ok"], answer)
        partner = self.env["res.partner"].browse(answer["member"]["partner_id"])
        self.assertEqual(partner.loyalty_phone, "+79167776655")
        self.assertEqual(partner.loyalty_card_id.code, answer["member"]["card"])
        self.assertEqual(partner.loyalty_card_id.loyalty_state, "active")
        self.assertEqual(partner.loyalty_source_id, source)
        self.assertEqual(partner.loyalty_channel_ids, sms)
        self.assertEqual(partner.loyalty_gender, "female")
        self.assertEqual(str(partner.loyalty_birthdate), "1990-05-17")
        self.assertEqual(partner.loyalty_home_store_id, self.config)
        self.assertTrue(partner.loyalty_marketing_consent)
        self.assertEqual(partner.loyalty_consent_ids.source, "pos")
        # the same phone again: refused, nothing written
        count = self.env["res.partner"].search_count([])
        answer = self.till.loyalty_crm_enrol(
            {"name": "Двойник", "phone": "+7 916 777-66-55", "consent": False}
        )
        self.assertFalse(answer["ok"])
        self.assertIn("already belongs to member Ольга Новая", answer["message"])
        self.assertEqual(self.env["res.partner"].search_count([]), count)
        answer = self.till.loyalty_crm_enrol({"name": "", "phone": ""})
        self.assertEqual(answer["message"], "Name and phone are required.")

    def test_rpcs_need_a_cashier_and_cashiers_cannot_write_points(self):
        for user in (self.cashier, self.manager):  # loyalty users, not POS users
            with self.subTest(user=user.login), self.assertRaises(AccessError):
                self.config.with_user(user).loyalty_crm_lookup(self.card.code)
        with self.assertRaises(AccessError):
            self.card.with_user(self.pos_cashier).write({"points": 1000})
        with self.assertRaises(AccessError):
            self.card.with_user(self.pos_cashier).sudo().write({"points": 1000})
        self.assertEqual(self.card.points, 0)


@tagged("post_install", "-at_install")
class TestPosSessionLoad(PosLoyaltyCase):
    def _load(self):
        session = self.session.with_user(self.pos_manager)
        self.env.invalidate_all()
        before = self.env.cr.sql_log_count
        data = session.load_data([])
        return data, self.env.cr.sql_log_count - before

    def _insert_members(self, count, start=1):
        """``count`` members with active cards, set-based (as an import would)."""
        self.env.flush_all()
        program = self.program
        self.env.cr.execute(
            """
            WITH p AS (
                INSERT INTO res_partner (name, active, autopost_bills, type,
                                         loyalty_phone, loyalty_is_member, phone)
                SELECT 'Bulk member ' || n, TRUE, 'ask', 'contact',
                       '+7900' || LPAD(n::text, 7, '0'), TRUE,
                       '+7900' || LPAD(n::text, 7, '0')
                  FROM generate_series(%(start)s, %(start)s + %(count)s - 1) n
             RETURNING id
            )
            INSERT INTO loyalty_card (program_id, company_id, partner_id, code,
                                      points, loyalty_state, active, is_bonus_card)
            SELECT %(program)s, %(company)s, p.id, '099' || LPAD(p.id::text, 10, '0'),
                   0, 'active', TRUE, TRUE
              FROM p
            """,
            {
                "count": count,
                "start": start,
                "program": program.id,
                "company": program.company_id.id,
            },
        )
        self.env.cr.execute(
            """
            UPDATE res_partner r SET commercial_partner_id = r.id,
                   loyalty_card_id = c.id
              FROM loyalty_card c
             WHERE c.partner_id = r.id AND r.name LIKE 'Bulk member %%'
            """
        )
        self.env.invalidate_all()

    def test_session_start_does_not_grow_with_members(self):
        # Odoo's pos_loyalty would load the bonus program's cards if it ran it
        self.program.pos_ok = True
        # Odoo's own programs keep working in the till (loaded as before)
        coupons = self.env["loyalty.program"].create(
            {
                "name": "Coupons",
                "program_type": "coupons",
                "pos_ok": True,
                "reward_ids": [(0, 0, {"reward_type": "discount", "discount": 10})],
            }
        )
        coupon = self.env["loyalty.card"].create(
            {"program_id": coupons.id, "points": 1, "code": "LC-COUPON-1"}
        )
        # a small base: the till loads its usual first partners (at most 100)
        self._insert_members(300)
        self._load()  # warm-up (registry caches)
        data_small, queries_small = self._load()
        self._insert_members(20000, start=1000)
        self.assertGreaterEqual(
            self.env["loyalty.card"].search_count([("is_bonus_card", "=", True)]), 20300
        )
        data_big, queries_big = self._load()
        self.assertEqual(queries_big, queries_small)
        for model in ("res.partner", "loyalty.card", "loyalty.program"):
            self.assertEqual(
                len(data_big[model]["data"]), len(data_small[model]["data"]), model
            )
        self.assertFalse(
            [
                p
                for p in data_big["loyalty.program"]["data"]
                if p["id"] == self.program.id
            ]
        )
        self.assertIn(
            coupons.id, [p["id"] for p in data_big["loyalty.program"]["data"]]
        )
        self.assertEqual(
            [c["id"] for c in data_big["loyalty.card"]["data"]], coupon.ids
        )
        self.assertLess(len(data_big["res.partner"]["data"]), 200)
        # the discount product of the points is there, hidden from the list
        products = [p["id"] for p in data_big["product.product"]["data"]]
        self.assertIn(self.discount_product.id, products)
        self.assertIn(
            self.discount_product.id,
            data_big["pos.session"]["data"][0]["_pos_special_products_ids"],
        )
        # and members are found on demand among 20k
        answer = self.config.with_user(self.pos_cashier).loyalty_crm_lookup(
            "8 900 001-23-45"
        )
        self.assertEqual(answer["member"]["name"], "Bulk member 12345")
        self.assertEqual(answer["member"]["card"][:3], "099")

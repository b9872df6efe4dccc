from dateutil.relativedelta import relativedelta
from freezegun import freeze_time

from odoo import Command, fields
from odoo.exceptions import UserError
from odoo.tests import Form, new_test_user, tagged

from odoo.addons.account.tests.common import AccountTestInvoicingCommon


class SaleCase(AccountTestInvoicingCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env.user.groups_id += cls.env.ref("loyalty_crm.group_loyalty_manager")
        cls.company = cls.env.company
        cls.company.loyalty_required_field_ids = False
        cls.program = cls.env["loyalty.program"]._get_bonus_program(cls.company)
        cls.program.write(
            {
                "points_lifetime": "none",
                "pending_days": 0,
                "accrual_trigger": "confirm",
                "earn_tax_included": True,
            }
        )
        cls.Ledger = cls.env["loyalty.ledger"]
        cls.product = cls.env["product.product"].create(
            {
                "name": "Кроссовки",
                "list_price": 1000,
                "taxes_id": [Command.clear()],
                "invoice_policy": "order",
            }
        )
        cls.member = cls.env["res.partner"].create(
            {"name": "Покупатель", "phone": "+79161234567"}
        )
        cls.member._loyalty_enrol()
        cls.card = cls.member.loyalty_card_id

    def _order(self, qty=10, confirm=True):
        order = self.env["sale.order"].create(
            {
                "partner_id": self.member.id,
                "order_line": [
                    Command.create(
                        {
                            "product_id": self.product.id,
                            "product_uom_qty": qty,
                            "price_unit": 1000,
                            "tax_id": [Command.clear()],
                        }
                    )
                ],
            }
        )
        if confirm:
            order.action_confirm()
        return order

    def _invoice(self, order):
        invoice = order._create_invoices()
        invoice.action_post()
        return invoice

    def _refund(self, invoice, qty=None):
        refund = invoice._reverse_moves()
        if qty is not None:
            refund.invoice_line_ids.quantity = qty
        refund.action_post()
        return refund


@tagged("post_install", "-at_install")
class TestSalePoints(SaleCase):
    def test_confirmation_accrues_once(self):
        order = self._order()
        self.assertEqual(self.card.points, 500)  # 5 % of 10 000
        order._loyalty_accrue()
        order._loyalty_accrue()
        self.assertEqual(len(self.card.ledger_ids), 1)
        self.assertEqual(order.loyalty_points_earned, 500)

    def test_confirm_cancel_draft_confirm_accrues_once(self):
        order = self._order()
        order._action_cancel()
        self.assertEqual(self.card.points, 0)
        order.action_draft()
        order.action_confirm()
        self.assertEqual(self.card.points, 500)
        order._action_cancel()
        order.action_draft()
        order.action_confirm()
        self.assertEqual(self.card.points, 500)
        self.assertEqual(order.loyalty_points_earned, 500)
        self.assertFalse(self.Ledger._loyalty_find_mismatches())

    def test_pending_points_of_a_cancelled_then_reconfirmed_order(self):
        self.program.pending_days = 14
        order = self._order()
        order._action_cancel()
        self.assertEqual(self.card.points_pending, 0)
        order.action_draft()
        order.action_confirm()
        self.assertEqual((self.card.points, self.card.points_pending), (0, 500))
        order._action_cancel()  # cancelling again cancels the new pending points
        self.card.invalidate_recordset(["points_pending"])
        self.assertEqual(self.card.points_pending, 0)

    def test_buy_and_refund_loop_nets_zero(self):
        for _i in range(10):
            order = self._order()
            self._refund(self._invoice(order))
            self.assertEqual(self.card.points, 0)
        self.assertEqual(len(self.card.ledger_ids), 20)

    def test_partial_return_reverses_and_restores_in_proportion(self):
        self.Ledger._post(self.card, 1000, "adjustment", reason="seed")
        order = self._order()  # earns 500
        self.Ledger._post(
            self.card, -200, "redemption", source=order
        )  # paid 200 with points
        self.assertEqual(self.card.points, 1300)
        invoice = self._invoice(order)
        self._refund(invoice, qty=4)  # 40 % returned
        # 40 % of 500 earned taken back, 40 % of 200 spent given back
        self.assertEqual(self.card.points, 1300 - 200 + 80)
        self.assertEqual(order.loyalty_points_earned, 300)
        # the rest comes back: nothing is taken or given twice
        self._refund(invoice, qty=6)
        self.assertEqual(self.card.points, 1000)
        order.invalidate_recordset(["loyalty_points_earned", "loyalty_points_spent"])
        self.assertEqual(
            (order.loyalty_points_earned, order.loyalty_points_spent), (0, 0)
        )
        self.assertFalse(self.Ledger._loyalty_find_mismatches())

    def test_return_inside_window_cancels_pending_points(self):
        self.program.pending_days = 14
        order = self._order()
        self.assertEqual((self.card.points, self.card.points_pending), (0, 500))
        self._refund(self._invoice(order), qty=4)
        self.assertEqual((self.card.points, self.card.points_pending), (0, 300))
        order.invalidate_recordset()
        self.assertEqual(
            order.loyalty_points_earned, 300
        )  # pending, and re-issued for 60 %

    def test_refund_never_drives_balance_negative(self):
        order = self._order()
        self.Ledger._post(self.card, -450, "redemption", reason="spent at the till")
        self._refund(self._invoice(order))
        self.assertEqual(self.card.points, 0)

    def test_accrual_on_payment(self):
        self.program.accrual_trigger = "paid"
        order = self._order()
        self.assertEqual(self.card.points, 0)
        invoice = self._invoice(order)
        self.env["account.payment.register"].with_context(
            active_model="account.move", active_ids=invoice.ids
        ).create({})._create_payments()
        self.assertEqual(invoice.payment_state, "paid")
        self.assertEqual(self.card.points, 500)

    def test_tax_excluded_amounts(self):
        tax = self.env["account.tax"].create({"name": "НДС 20%", "amount": 20})
        order = self.env["sale.order"].create(
            {
                "partner_id": self.member.id,
                "order_line": [
                    Command.create(
                        {
                            "product_id": self.product.id,
                            "product_uom_qty": 1,
                            "price_unit": 1000,
                            "tax_id": [Command.set(tax.ids)],
                        }
                    )
                ],
            }
        )
        self.program.earn_tax_included = False
        lines = order._loyalty_earning_lines()
        self.assertEqual(self.program._loyalty_compute_points(lines), 50)
        self.program.earn_tax_included = True
        lines = order._loyalty_earning_lines()
        self.assertEqual(self.program._loyalty_compute_points(lines), 60)

    def test_salesman_sees_points_and_manager_adjusts(self):
        salesman = new_test_user(
            self.env, "lc_sale_sp", groups="sales_team.group_sale_salesman"
        )
        manager = new_test_user(
            self.env,
            "lc_sale_mgr",
            groups="sales_team.group_sale_salesman,loyalty_crm.group_loyalty_manager",
        )
        self._order()
        partner = self.member.with_user(salesman)
        self.assertEqual(partner.loyalty_points, 500)
        action = partner.action_loyalty_history()
        self.assertEqual(
            self.env["loyalty.ledger"].with_user(salesman).search(action["domain"]),
            self.card.ledger_ids,
        )
        action = self.member.with_user(manager).action_loyalty_adjust()
        wizard = Form(
            self.env[action["res_model"]]
            .with_user(manager)
            .with_context(**action["context"])
        )
        wizard.change = "+20"
        wizard.reason = "Компенсация за задержку"
        wizard.save().action_confirm()
        self.assertEqual(self.card.points, 520)


@tagged("post_install", "-at_install")
class TestSaleRedemptionAndTiers(SaleCase):
    def test_spend_points_within_the_rules(self):
        self.program.write(
            {"max_redeem_share": 30, "min_balance_to_spend": 100, "point_value": 1}
        )
        self.Ledger._post(self.card, 99, "adjustment", reason="seed")
        order = self._order(qty=1, confirm=False)  # 1000
        with self.assertRaisesRegex(UserError, "from a balance of 100"):
            order._loyalty_apply_points(50)
        self.Ledger._post(self.card, 901, "adjustment", reason="seed")  # 1000
        with self.assertRaisesRegex(UserError, r"at most 30\.0 %"):
            order._loyalty_apply_points(301)
        with self.assertRaisesRegex(UserError, "positive"):
            order._loyalty_apply_points(-5)
        wizard = Form(
            self.env["loyalty.sale.redeem.wizard"].with_context(
                default_order_id=order.id
            )
        )
        self.assertEqual(wizard.max_points, 300)
        wizard.points = 250
        wizard.save().action_apply()
        self.assertEqual(order.amount_total, 750)
        self.assertEqual(self.card.points, 1000)  # taken at confirmation only
        order.action_confirm()
        # paid 250 with points; earns 5 % of the 750 paid in money
        self.assertEqual(self.card.points, 1000 - 250 + 37.5)
        self.assertEqual(
            (order.loyalty_points_spent, order.loyalty_points_earned), (250, 37.5)
        )
        order._loyalty_redeem()  # replayed: nothing taken twice
        self.assertEqual(self.card.points, 787.5)
        # cancelling gives the points back and takes the earned ones
        order._action_cancel()
        self.assertEqual(self.card.points, 1000)

    def test_redemption_rechecked_at_confirmation(self):
        self.Ledger._post(self.card, 200, "adjustment", reason="seed")
        order = self._order(qty=1, confirm=False)
        order._loyalty_apply_points(200)
        self.Ledger._post(
            self.card, -150, "redemption", reason="spent at the till meanwhile"
        )
        with self.assertRaisesRegex(UserError, "cannot be taken"):
            order.action_confirm()
        self.assertEqual(self.card.points, 50)

    def test_tiers_upgrade_at_once_and_downgrade_by_cron(self):
        silver = self.env["loyalty.tier"].create(
            {
                "program_id": self.program.id,
                "name": "Silver",
                "min_spend": 15000,
                "multiplier": 1.5,
            }
        )
        gold = self.env["loyalty.tier"].create(
            {
                "program_id": self.program.id,
                "name": "Gold",
                "min_spend": 30000,
                "multiplier": 2,
            }
        )
        self._order()  # 10 000
        self.assertFalse(self.member.loyalty_tier_id)
        self._order()  # 20 000: silver at once
        self.assertEqual(self.member.loyalty_tier_id, silver)
        self.assertEqual(self.card.points, 1000)
        self._order()  # earned with the silver multiplier: 750
        self.assertEqual(self.card.points, 1750)
        self.assertEqual(self.member.loyalty_tier_id, gold)
        history = self.member.loyalty_tier_history_ids.sorted("id")
        self.assertEqual(history.mapped("direction"), ["up", "up"])
        # a year later, nothing in the window: the nightly job downgrades
        with freeze_time(fields.Datetime.now() + relativedelta(months=13)):
            self.env["res.partner"]._cron_recompute_tiers()
        self.assertFalse(self.member.loyalty_tier_id)
        self.assertEqual(
            self.member.loyalty_tier_history_ids.sorted("id")[-1].direction, "down"
        )

    def test_nightly_tier_changes_are_tracked_per_batch(self):
        self.env = self.env(
            context=dict(self.env.context, tracking_disable=False, mail_notrack=False)
        )
        gold = self.env["loyalty.tier"].create(
            {"program_id": self.program.id, "name": "Gold", "min_spend": 30000}
        )
        other = self.env["res.partner"].create(
            {"name": "Олег", "phone": "+79035550002"}
        )
        other._loyalty_enrol()
        members = (self.member | other).with_env(self.env)
        members.sudo().loyalty_tier_id = gold
        self.env.cr.flush()  # as if committed
        self.env["res.partner"]._cron_recompute_tiers(batch_size=1)
        for member in members:
            self.assertFalse(member.loyalty_tier_id)  # nothing spent: downgraded
            # the job tracked (chatter) each batch's changes itself, not all of
            # them at the commit
            tracked = (
                self.env["mail.tracking.value"]
                .sudo()
                .search(
                    [
                        ("mail_message_id.model", "=", "res.partner"),
                        ("mail_message_id.res_id", "=", member.id),
                        ("field_id.name", "=", "loyalty_tier_id"),
                    ]
                )
            )
            self.assertEqual(tracked.mapped("old_value_char"), ["Gold"])

    def _tier_notes(self, partner):
        messages = (
            self.env["mail.message"]
            .sudo()
            .search(
                [
                    ("model", "=", "res.partner"),
                    ("res_id", "=", partner.id),
                    ("tracking_value_ids.field_id.name", "=", "loyalty_tier_id"),
                ]
            )
        )
        return [
            (
                m.author_id,
                m.message_type,
                m.subtype_id,
                m.is_internal,
                str(m.body or ""),
                [
                    (t.field_id.name, t.old_value_char, t.new_value_char)
                    + (t.old_value_integer, t.new_value_integer)
                    for t in m.tracking_value_ids
                ],
            )
            for m in messages
        ]

    def test_nightly_tier_notes_are_odoos_tracking_in_one_batch(self):
        """The nightly job logs each member's tier change as Odoo's tracking
        would (the same note, the same tracking value), and its queries don't
        grow with the number of changes."""
        self.env = self.env(
            context=dict(self.env.context, tracking_disable=False, mail_notrack=False)
        )
        gold = self.env["loyalty.tier"].create(
            {"program_id": self.program.id, "name": "Gold", "min_spend": 30000}
        )
        # Odoo's own tracking of one change, for reference
        reference = self.env["res.partner"].create(
            {"name": "Эталон", "phone": "+79035550100"}
        )
        reference._loyalty_enrol()
        self.env.cr.flush()  # as if committed: Odoo tracks only what existed
        reference.with_env(self.env).sudo().loyalty_tier_id = gold
        self.env.cr.flush()
        expected = self._tier_notes(reference)
        self.assertEqual(len(expected), 1)

        def members(count, first):
            partners = self.env["res.partner"].create(
                [
                    {"name": f"Участник {n}", "phone": f"+7903556{n:04d}"}
                    for n in range(first, first + count)
                ]
            )
            for partner in partners:
                partner._loyalty_enrol()
            partners.with_context(tracking_disable=True).sudo().loyalty_tier_id = gold
            self.env.cr.flush()
            return partners

        queries = []
        # the first run warms Odoo's caches (fields, defaults, the author)
        for count, first in ((1, 200), (3, 0), (30, 100)):
            partners = members(count, first)
            self.env.invalidate_all()
            start = self.env.cr.sql_log_count
            self.env["res.partner"].browse(partners.ids)._loyalty_update_tiers()
            self.env.cr.flush()
            queries.append(self.env.cr.sql_log_count - start)
            for partner in partners:
                self.assertFalse(partner.loyalty_tier_id)  # nothing spent
                notes = self._tier_notes(partner)
                self.assertEqual(len(notes), 1)
                self.assertEqual(notes[0][:5], expected[0][:5])
                # downgraded from Gold to nothing, as Odoo tracked the upgrade
                self.assertEqual(
                    notes[0][5], [("loyalty_tier_id", "Gold", "", gold.id, 0)]
                )
        self.assertEqual(queries[1], queries[2], "queries grow with the changes")

    def test_returns_lower_the_spend_of_tiers(self):
        silver = self.env["loyalty.tier"].create(
            {
                "program_id": self.program.id,
                "name": "Silver",
                "min_spend": 15000,
                "multiplier": 1.5,
            }
        )
        self._order()
        order = self._order()
        self.assertEqual(self.member.loyalty_tier_id, silver)
        self._refund(self._invoice(order))
        self.env["res.partner"]._cron_recompute_tiers()
        self.assertFalse(self.member.loyalty_tier_id)

    def test_referral_bonus_for_both_after_first_qualifying_purchase(self):
        self.program.write(
            {
                "referral_points": 300,
                "referral_points_new": 150,
                "referral_min_amount": 5000,
            }
        )
        self.assertRegex(self.member.loyalty_referral_code, r"^POKUPATE\d+$")
        friend = self.env["res.partner"].create(
            {"name": "Друг", "phone": "+79035550001"}
        )
        with self.assertRaisesRegex(UserError, "unknown"):
            friend._loyalty_enrol(referral_code="NOPE1")
        friend._loyalty_enrol(referral_code=self.member.loyalty_referral_code.lower())
        self.assertEqual(friend.loyalty_referrer_id, self.member)
        small = self.env["sale.order"].create(
            {
                "partner_id": friend.id,
                "order_line": [
                    Command.create(
                        {
                            "product_id": self.product.id,
                            "product_uom_qty": 1,
                            "price_unit": 1000,
                            "tax_id": [Command.clear()],
                        }
                    )
                ],
            }
        )
        small.action_confirm()
        self.assertEqual(self.card.points, 0)  # below the qualifying amount
        big = small.copy()
        big.order_line.product_uom_qty = 6
        big.action_confirm()
        big.copy().action_confirm()  # a second purchase brings nothing more
        self.assertEqual(self.card.points, 300)
        friend_card = friend.loyalty_card_id
        self.assertEqual(
            friend_card.ledger_ids.filtered(lambda e: e.entry_type == "bonus").mapped(
                "points"
            ),
            [150],
        )

    def test_gift_from_the_catalogue(self):
        umbrella = self.env["product.product"].create(
            {"name": "Зонт", "list_price": 900}
        )
        gift = self.env["loyalty.reward"].create(
            {
                "program_id": self.program.id,
                "reward_type": "product",
                "reward_product_id": umbrella.id,
                "required_points": 400,
            }
        )
        self.Ledger._post(self.card, 500, "adjustment", reason="seed")
        order = self._order(qty=1, confirm=False)
        wizard = Form(
            self.env["loyalty.sale.redeem.wizard"].with_context(
                default_order_id=order.id
            )
        )
        wizard.gift_reward_id = gift
        wizard.save().action_apply()
        line = order.order_line.filtered("loyalty_redemption_line")
        self.assertEqual(
            (line.product_id, line.price_unit, line.loyalty_points), (umbrella, 0, 400)
        )
        with self.assertRaisesRegex(UserError, "has 500.0 points"):
            order._loyalty_apply_gift(gift)  # a second one is more than the balance
        with self.assertRaisesRegex(UserError, "has 500.0 points"):
            order._loyalty_apply_points(101)
        order._loyalty_apply_points(100)  # the rest as a discount
        self.assertEqual(order.loyalty_points_to_spend, 500)
        order.action_confirm()
        # gift and discount paid with points; 5 % earned on the 900 paid in money
        self.assertEqual(self.card.points, 45)
        other = self.env["loyalty.program"].create(
            {"name": "Другая", "program_type": "promotion"}
        )
        with self.assertRaisesRegex(UserError, "not in the bonus program"):
            self._order(qty=1, confirm=False)._loyalty_apply_gift(other.reward_ids[:1])

    def test_free_shipping_for_points(self):
        courier = self.env["product.product"].create(
            {"name": "Доставка", "type": "service"}
        )
        carrier = self.env["delivery.carrier"].create(
            {
                "name": "Курьер",
                "product_id": courier.id,
                "delivery_type": "fixed",
                "fixed_price": 300,
            }
        )
        shipping = self.env["loyalty.reward"].create(
            {
                "program_id": self.program.id,
                "reward_type": "shipping",
                "required_points": 250,
            }
        )
        self.Ledger._post(self.card, 300, "adjustment", reason="seed")
        order = self._order(qty=1, confirm=False)
        with self.assertRaisesRegex(UserError, "shipping method first"):
            order._loyalty_apply_gift(shipping)
        order.set_delivery_line(carrier, 300)
        order._loyalty_apply_gift(shipping)
        with self.assertRaisesRegex(UserError, "already free"):
            order._loyalty_apply_gift(shipping)
        self.assertEqual(order.amount_total, 1000)
        order.action_confirm()
        # 250 points for the shipping; goods earn 5 % of 1000, shipping earns nothing
        self.assertEqual(self.card.points, 300 - 250 + 50)

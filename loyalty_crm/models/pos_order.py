"""The POS hook: points of a till's order, decided on the server when it syncs.

``_process_order`` (Odoo's order sync, one transaction per request) settles the
bonus program of every paid order before the transaction ends, so an order and
its points land together or not at all:

- the points reserved for the order (``pos.config.loyalty_crm_reserve``) are
  checked against the discount line the till put on it and become a
  redemption; a discount the server did not reserve is refused;
- the points earned are computed from the synced lines and the program's rules
  (never from numbers sent by the browser), once per order (idempotency key
  from the order's uuid: re-syncing never earns twice);
- a refund gives back, in proportion of what is returned, the points the
  original order spent and takes back the points it earned.
"""

import re
from collections import defaultdict
from datetime import timedelta

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import float_compare

from ..tools import LoyaltyError

UUID_RE = re.compile(r"^[0-9A-Za-z-]{1,64}$")
RESERVATION_MINUTES = 30


class PosOrder(models.Model):
    _inherit = "pos.order"

    loyalty_crm_card_code = fields.Char(
        string="Member Card", compute="_compute_loyalty_crm_points"
    )
    loyalty_crm_points_earned = fields.Float(
        string="Bonus Points Earned",
        digits=(16, 2),
        compute="_compute_loyalty_crm_points",
        help="Points this order earned (negative: taken back by a return).",
    )
    loyalty_crm_points_spent = fields.Float(
        string="Bonus Points Spent",
        digits=(16, 2),
        compute="_compute_loyalty_crm_points",
        help="Points this order spent (negative: given back by a return).",
    )
    loyalty_crm_balance = fields.Float(
        string="Bonus Balance",
        digits=(16, 2),
        compute="_compute_loyalty_crm_points",
        help="The member's available points now.",
    )

    loyalty_crm_points_pending_date = fields.Date(
        string="Points Available On",
        compute="_compute_loyalty_crm_points_pending_date",
        help="The points this order earned are pending (the return window) "
        "until this date.",
    )

    # ------------------------------------------------------------ computes
    def _compute_loyalty_crm_points_pending_date(self):
        keyed = self.filtered(lambda o: o.uuid and UUID_RE.match(o.uuid))
        dates = {}
        if keyed:
            domain = [
                ("entry_type", "=", "accrual"),
                ("state", "=", "pending"),
            ] + ["|"] * (len(keyed) - 1)
            domain += [
                ("idempotency_key", "=like", f"pos.order/{order.uuid}/%")
                for order in keyed
            ]
            for entry in self.env["loyalty.ledger"].sudo().search(domain):
                uuid = entry.idempotency_key.split("/")[1]
                dates[uuid] = max(
                    dates.get(uuid, entry.available_date), entry.available_date
                )
        for order in self:
            order.loyalty_crm_points_pending_date = dates.get(order.uuid, False)

    def _compute_loyalty_crm_points(self):
        keyed = self.filtered(lambda o: o.uuid and UUID_RE.match(o.uuid))
        entries = self.env["loyalty.ledger"]
        if keyed:
            domain = ["|"] * (len(keyed) - 1) + [
                ("idempotency_key", "=like", f"pos.order/{order.uuid}/%")
                for order in keyed
            ]
            entries = entries.sudo().search(domain)
        earned, spent = defaultdict(float), defaultdict(float)
        for entry in entries:
            uuid = entry.idempotency_key.split("/")[1]
            if entry.state == "cancelled" or (
                entry.entry_type == "accrual" and entry.counterpart_id
            ):
                continue
            if entry.entry_type == "accrual" or (
                entry.entry_type == "reversal" and entry.points < 0
            ):
                earned[uuid] += entry.points
            elif entry.entry_type in ("redemption", "reversal"):
                spent[uuid] -= entry.points
        for order in self:
            card = order.partner_id.commercial_partner_id.loyalty_card_id
            order.loyalty_crm_card_code = card.code or False
            order.loyalty_crm_points_earned = round(earned[order.uuid], 2)
            order.loyalty_crm_points_spent = round(spent[order.uuid], 2)
            order.loyalty_crm_balance = card.points

    # ------------------------------------------------------------ sync hook
    @api.model
    def _process_order(self, order, existing_order):
        order_id = super()._process_order(order, existing_order)
        pos_order = self.browse(order_id)
        if pos_order.state in ("paid", "done", "invoiced"):
            pos_order._loyalty_pos_settle()
        elif pos_order.state == "cancel":
            pos_order._loyalty_pos_release()
        return order_id

    def action_pos_order_cancel(self):
        res = super().action_pos_order_cancel()
        self.filtered(lambda o: o.state == "cancel")._loyalty_pos_release()
        return res

    # ------------------------------------------------------------ helpers
    @api.model
    def _loyalty_pos_reservations(self, order_uuid):
        """Every reservation ever made for the order ``order_uuid`` (oldest first)."""
        if not isinstance(order_uuid, str) or not UUID_RE.match(order_uuid):
            raise UserError(_("This order has no valid identifier."))
        return (
            self.env["loyalty.ledger"]
            .sudo()
            .search(
                [("idempotency_key", "=like", f"pos.order/{order_uuid}/reserve/%")],
                order="id",
            )
        )

    def _loyalty_pos_card(self):
        """The order's member card, if it can earn and spend."""
        self.ensure_one()
        card = self.partner_id.commercial_partner_id.loyalty_card_id
        program = self.env["loyalty.program"]._get_bonus_program(self.company_id)
        if (
            card
            and card.program_id == program
            and card.loyalty_state
            in (
                "issued",
                "active",
            )
        ):
            return card
        return self.env["loyalty.card"]

    def _loyalty_pos_discount_lines(self):
        products = self.env["pos.config"]._loyalty_pos_discount_products()
        return self.lines.filtered(
            lambda line: line.product_id in products and not line.refunded_orderline_id
        )

    def _loyalty_pos_paid_lines(self):
        """Lines the customer pays in money (not rewards, points or returns)."""
        products = self.env["pos.config"]._loyalty_pos_discount_products()
        return self.lines.filtered(
            lambda line: line.qty > 0
            and line.product_id not in products
            and not line.is_reward_line
            and not line.refunded_orderline_id
        )

    def _loyalty_pos_release(self):
        entries = self.env["loyalty.ledger"].sudo()
        for order in self.filtered("uuid"):
            entries |= order._loyalty_pos_reservations(order.uuid)
        self.env["loyalty.ledger"]._lock_cards(entries.card_id)
        entries.filtered(lambda e: e.state == "reserved").write({"state": "cancelled"})

    # ------------------------------------------------------------ settlement
    def _loyalty_pos_settle(self):
        """Points of a paid order: redemption, accrual, refunds (once)."""
        self.ensure_one()
        if not self.uuid or not UUID_RE.match(self.uuid):
            return
        self._loyalty_pos_reverse_refunds()
        card = self._loyalty_pos_card()
        discount_lines = self._loyalty_pos_discount_lines()
        if card:
            self.env["loyalty.ledger"]._lock_cards(card)
        if discount_lines:
            self._loyalty_pos_redeem(card, discount_lines)
        else:
            self._loyalty_pos_release()
        if card:
            self._loyalty_pos_accrue(card, discount_lines)

    def _loyalty_pos_redeem(self, card, discount_lines):
        """Turn the order's reservation into a redemption, if the till's discount
        is exactly what was reserved (and within the program's cap)."""
        Ledger = self.env["loyalty.ledger"]
        if not card:
            raise LoyaltyError(
                "not_found",
                _(
                    "Order %(order)s is paid with bonus points but its customer has "
                    "no usable member card.",
                    order=self.name,
                ),
            )
        program = card.program_id
        held = self._loyalty_pos_reservations(self.uuid)
        if held.filtered(lambda e: e.state == "posted"):
            return  # already settled
        value = -sum(
            line.price_unit * line.qty * (1 - (line.discount or 0.0) / 100.0)
            for line in discount_lines
        )
        live = held.filtered(lambda e: e.state == "reserved")
        last = live or held[-1:]
        points = -sum(last.mapped("points"))
        expected = self.currency_id.round(points * program.point_value)
        if (
            not held
            or discount_lines.tax_ids
            or float_compare(value, expected, precision_digits=2)
            or (live and live.card_id != card)
        ):
            raise LoyaltyError(
                "validation_error",
                _(
                    "Order %(order)s: the bonus points discount (%(value)s) does not "
                    "match the points reserved for it (%(points)s).",
                    order=self.name,
                    value=round(value, 2),
                    points=points if held else 0,
                ),
            )
        paid = sum(self._loyalty_pos_paid_lines().mapped("price_subtotal_incl"))
        cap = paid * (program.max_redeem_share or 0.0) / 100.0
        if value > cap + 0.005:
            raise LoyaltyError(
                "redemption_cap_exceeded",
                _(
                    "Points pay at most %(share)s %% of an order: %(points)s points "
                    "are more than that.",
                    share=program.max_redeem_share,
                    points=points,
                ),
            )
        if live:
            live._confirm_reservation(self)
        else:
            # the reservation timed out (an order synced late): take the points
            # now, within the rules, or refuse the order
            Ledger._redeem(
                card,
                points,
                paid,
                f"pos.order/{self.uuid}/redemption",
                reference=_("Paid part of %(order)s", order=self.name),
                source=self,
            )

    def _loyalty_pos_accrue(self, card, discount_lines):
        program = card.program_id
        field = "price_subtotal_incl" if program.earn_tax_included else "price_subtotal"
        lines = self._loyalty_pos_paid_lines()
        gross = sum(lines.mapped(field))
        if gross <= 0:
            return
        paid_with_points = -sum(discount_lines.mapped(field))
        factor = max(gross - paid_with_points, 0.0) / gross
        earning = [(line.product_id, line.qty, line[field] * factor) for line in lines]
        amount = round(sum(amount for _p, _q, amount in earning), 2)
        if amount <= 0:
            return
        try:
            self.env["loyalty.ledger"]._accrue_purchase(
                card,
                amount,
                f"pos.order/{self.uuid}/accrual",
                lines=earning,
                reference=_("Purchase %(order)s", order=self.name),
                source=self,
            )
        except LoyaltyError as error:
            if error.code != "validation_error":  # earns nothing under the rules
                raise

    def _loyalty_pos_reverse_refunds(self):
        """Returned lines take back, in proportion, what their order earned and
        give back what it spent (once per refund order)."""
        Ledger = self.env["loyalty.ledger"]
        products = self.env["pos.config"]._loyalty_pos_discount_products()
        returned, discount_back = defaultdict(float), defaultdict(float)
        for line in self.lines.filtered("refunded_orderline_id"):
            origin = line.refunded_orderline_id.order_id
            if line.product_id in products:
                discount_back[origin] += line.price_subtotal_incl
            elif line.qty < 0:
                returned[origin] += -line.price_subtotal_incl
        for origin, amount in returned.items():
            if not origin.uuid or not UUID_RE.match(origin.uuid):
                continue
            base = sum(origin._loyalty_pos_paid_lines().mapped("price_subtotal_incl"))
            if base <= 0 or amount <= 0:
                continue
            share = min(round(amount / base, 6), 1.0)
            # the part paid with points is not paid back in money: the return
            # takes back that share of the points discount, and gets the
            # points back instead
            discount = -sum(
                origin._loyalty_pos_discount_lines().mapped("price_subtotal_incl")
            )
            # (quantities of a line are rounded: a small shortfall is tolerated)
            if discount > 0 and discount_back[origin] < discount * (share - 0.005):
                raise LoyaltyError(
                    "validation_error",
                    _(
                        "%(order)s was paid partly with bonus points: return "
                        "%(value)s of its points discount line too (the points "
                        "are given back, not their value in money).",
                        order=origin.name,
                        value=round(discount * share, 2),
                    ),
                )
            entries = Ledger.sudo().search(
                [
                    ("idempotency_key", "=like", f"pos.order/{origin.uuid}/%"),
                    ("entry_type", "in", ("accrual", "redemption")),
                    ("counterpart_id", "=", False),
                ],
                order="id",
            )
            entries = entries.filtered(
                lambda e: e.entry_type == "accrual" or e.state == "posted"
            )
            for entry in entries:
                try:
                    entry._reverse(
                        f"pos.order/{self.uuid}/reverse/{entry.id}",
                        share=share,
                        reason=_("Return %(order)s", order=self.name),
                    )
                except LoyaltyError as error:
                    if error.code != "already_reversed":
                        raise

    # ------------------------------------------------------------ cron
    @api.model
    def _cron_loyalty_release_reservations(self):
        """Give back points reserved at a till for an order that never synced."""
        minutes = int(
            self.env["ir.config_parameter"]
            .sudo()
            .get_param("loyalty_crm.pos_reservation_minutes", RESERVATION_MINUTES)
        )
        limit = fields.Datetime.now() - timedelta(minutes=minutes)
        Ledger = self.env["loyalty.ledger"].sudo()
        domain = [("state", "=", "reserved"), ("date", "<", limit)]
        expired = Ledger.search(domain)
        Ledger._lock_cards(expired.card_id)
        # again under the locks: an order syncing meanwhile has confirmed some
        expired = Ledger.search(domain)
        expired.write({"state": "cancelled"})
        return expired

    # ------------------------------------------------------------ Odoo's own
    # pos_loyalty applies point changes computed by the browser: never to a
    # bonus card (its points move only through the ledger, above).
    def _loyalty_pos_bonus_card_ids(self, card_ids):
        cards = self.env["loyalty.card"].sudo().browse(card_ids).exists()
        return set(cards.filtered("is_bonus_card").ids)

    def confirm_coupon_programs(self, coupon_data):
        coupon_data = {int(k): v for k, v in (coupon_data or {}).items()}
        bonus_cards = self._loyalty_pos_bonus_card_ids(
            [k for k in coupon_data if k > 0]
        )
        bonus_programs = set(
            self.env["loyalty.program"]
            .sudo()
            .search([("is_bonus_program", "=", True)])
            .ids
        )
        coupon_data = {
            k: v
            for k, v in coupon_data.items()
            if k not in bonus_cards
            and not (
                k < 0 and isinstance(v, dict) and v.get("program_id") in bonus_programs
            )
        }
        return super().confirm_coupon_programs(coupon_data)

    def add_loyalty_history_lines(self, coupon_data, coupon_updates):
        bonus_cards = self._loyalty_pos_bonus_card_ids(
            [int(c["card_id"]) for c in coupon_data if int(c["card_id"]) > 0]
        )
        coupon_data = [c for c in coupon_data if int(c["card_id"]) not in bonus_cards]
        return super().add_loyalty_history_lines(coupon_data, coupon_updates)

    def validate_coupon_programs(self, point_changes, new_codes):
        point_changes = {int(k): v for k, v in (point_changes or {}).items()}
        bonus_cards = self._loyalty_pos_bonus_card_ids(list(point_changes))
        point_changes = {k: v for k, v in point_changes.items() if k not in bonus_cards}
        return super().validate_coupon_programs(point_changes, new_codes)

"""The POS channel: points of a till's order, settled on the server when it syncs.

``_process_order`` (Odoo's order sync) settles the bonus program of every paid
order in the same transaction, so an order and its points land together. The
till is hostile until proven otherwise: nothing it computed is read.

- Amounts come from the server: each line's amount is recomputed by Odoo's own
  tax computation from product, quantity, unit price and discount; lines of one
  product net out; the basis never exceeds the money actually paid (payment
  lines net of change; the points discount is not money).
- A paid order is never refused for its points (the till would lose it, and the
  other orders of its batch with it): what is valid is settled, what cannot be
  honoured is recorded as a loyalty exception on the order.
- The points reserved by this till for the order become its redemption; a
  points discount without a reservation takes the points now, and what the
  member no longer has becomes a debt.
- A return reverses what it returns: a refund line counts as a return of an
  earlier sale only if it references a line of an earlier paid order of the
  same member with the same product, for no more than is left to return.
  Anything else earns nothing back and counts against the order.
"""

import re
from collections import defaultdict
from datetime import timedelta

from odoo import _, api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import float_round

from ..tools import LoyaltyError

UUID_RE = re.compile(r"^[0-9A-Za-z-]{1,64}$")
RESERVATION_MINUTES = 30
PAID_STATES = ("paid", "done", "invoiced")


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
    loyalty_crm_exception_ids = fields.One2many(
        "loyalty.exception",
        "pos_order_id",
        string="Loyalty Exceptions",
        readonly=True,
        groups="loyalty_crm.group_loyalty_manager",
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
        uuids = [o.uuid for o in self if o.uuid]
        entries = self.env["loyalty.ledger"]
        if uuids:
            entries = entries.sudo().search([("pos_order_uuid", "in", uuids)])
        earned, spent = self.env["loyalty.settlement"]._earned_spent(
            entries, key=lambda e: e.pos_order_uuid
        )
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
        if pos_order.state in PAID_STATES:
            pos_order._loyalty_pos_settle()
        elif pos_order.state == "cancel":
            pos_order._loyalty_pos_release()
        return order_id

    def action_pos_order_cancel(self):
        res = super().action_pos_order_cancel()
        self.filtered(lambda o: o.state == "cancel")._loyalty_pos_release()
        return res

    # ------------------------------------------------------------ reservations
    @api.model
    def _loyalty_pos_reservations(self, order_uuid):
        """Every reservation ever made for the order ``order_uuid`` (oldest first)."""
        if not isinstance(order_uuid, str) or not UUID_RE.match(order_uuid):
            raise UserError(_("This order has no valid identifier."))
        return (
            self.env["loyalty.ledger"]
            .sudo()
            .search(
                [
                    ("pos_order_uuid", "=", order_uuid),
                    ("entry_type", "=", "redemption"),
                    ("idempotency_key", "=like", f"pos.order/{order_uuid}/reserve/%"),
                ],
                order="id",
            )
        )

    def _loyalty_pos_owns(self, entry):
        """Whether ``entry`` (a reservation) was made by this order's till (entries
        reserved before reservations named their session count as its own)."""
        return (
            not entry.pos_session_id or entry.pos_session_id.config_id == self.config_id
        )

    def _loyalty_pos_release(self):
        """Give back the points this order's own till held for it."""
        Ledger = self.env["loyalty.ledger"]
        for order in self.filtered("uuid"):
            held = order._loyalty_pos_reservations(order.uuid).filtered(
                lambda e, o=order: e.state == "reserved" and o._loyalty_pos_owns(e)
            )
            Ledger._lock_cards(held.card_id)
            held.write({"state": "cancelled"})

    # ------------------------------------------------------------ verified facts
    def _loyalty_pos_returnable(self, line, taken):
        """How much of refund ``line`` is a valid return of its referenced sale
        (``taken``: quantities of each sold line already claimed by this order)."""
        origin_line = line.refunded_orderline_id
        origin = origin_line.order_id
        member = self.partner_id.commercial_partner_id
        origin_member = origin.partner_id.commercial_partner_id
        qty = -line.qty
        if (
            qty <= 0
            or origin == self
            or origin.state not in PAID_STATES
            or origin_line.qty <= 0
            or origin_line.product_id != line.product_id
            or (member and origin_member and member != origin_member)
        ):
            return 0.0
        before = -sum(
            other.qty
            for other in origin_line.refund_orderline_ids
            if other.order_id != self and other.order_id.state != "cancel"
        )
        left = origin_line.qty - before - taken[origin_line]
        valid = max(min(qty, left), 0.0)
        taken[origin_line] += valid
        return valid

    def _loyalty_pos_facts(self, program):
        """The order as the server sees it, every amount recomputed by Odoo's own
        tax computation (never the till's subtotals)."""
        self.ensure_one()
        discount_products = self.env["pos.config"]._loyalty_pos_discount_products()
        earn_field = (
            "price_subtotal_incl"
            if not program or program.earn_tax_included
            else "price_subtotal"
        )
        facts = {
            "goods": [],  # (product, qty, money, earning amount)
            "discount": 0.0,  # value of the points discount lines
            "returns": defaultdict(float),  # origin order: money returned
            "discount_back": defaultdict(float),  # origin order: discount returned
            "unmatched": [],  # refund lines that are no valid return
            "money": sum(self.payment_ids.mapped("amount")),
        }
        taken = defaultdict(float)
        for line in self.lines:
            amounts = line._compute_amount_line_all()
            money = amounts["price_subtotal_incl"]
            origin_line = line.refunded_orderline_id
            if line.product_id in discount_products:
                if origin_line:
                    facts["discount_back"][origin_line.order_id] += money
                else:
                    facts["discount"] -= money
                continue
            if origin_line:
                valid = self._loyalty_pos_returnable(line, taken)
                if valid:
                    sold = origin_line._compute_amount_line_all()["price_subtotal_incl"]
                    facts["returns"][origin_line.order_id] += (
                        sold * valid / origin_line.qty
                    )
                if valid < -line.qty - 1e-6:
                    facts["unmatched"].append(line)
                    share = 1 - valid / -line.qty
                    facts["goods"].append(
                        (
                            line.product_id,
                            line.qty * share,
                            money * share,
                            amounts[earn_field] * share,
                        )
                    )
                continue
            facts["goods"].append(
                (line.product_id, line.qty, money, amounts[earn_field])
            )
        return facts

    # ------------------------------------------------------------ settlement
    def _loyalty_pos_settle(self):
        """Points of a paid order: returns, spending, earning (each once).

        Each step runs in a savepoint: a refusal of the bonus program never
        refuses the order; it is recorded as a loyalty exception instead.
        Database errors (a concurrent update) still roll the sync back, so that
        Odoo retries it.
        """
        self.ensure_one()
        if not self.uuid or not UUID_RE.match(self.uuid):
            return
        Settlement = self.env["loyalty.settlement"]
        card = Settlement._usable_card(self.partner_id, self.company_id)
        program = card.program_id or self.env["loyalty.program"]._get_bonus_program(
            self.company_id
        )
        facts = self._loyalty_pos_facts(program)
        for step in (
            self._loyalty_pos_settle_returns,
            self._loyalty_pos_settle_spending,
            self._loyalty_pos_settle_earning,
        ):
            try:
                with self.env.cr.savepoint():
                    step(card, program, facts)
            except (UserError, ValidationError) as error:
                Settlement._record_exception(
                    getattr(error, "code", None) == "card_blocked"
                    and "card_unusable"
                    or "other",
                    error.args[0],
                    source=self,
                    card=card,
                )

    def _loyalty_pos_exception(self, code, message, card=None, **vals):
        return self.env["loyalty.settlement"]._record_exception(
            code, message, source=self, card=card, **vals
        )

    def _loyalty_pos_order_value(self, facts):
        """What the customer took, in money (goods net of unmatched returns)."""
        _lines, value, _unmatched = self.env["loyalty.settlement"]._earning_basis(
            [(product, qty, money) for product, qty, money, _e in facts["goods"]]
        )
        return value

    def _loyalty_pos_settle_spending(self, card, program, facts):
        """The points discount: the reservation this till made becomes the
        redemption; without one, the points are taken now (what the member no
        longer has is owed)."""
        Ledger = self.env["loyalty.ledger"]
        discount = round(facts["discount"], 2)
        held = self._loyalty_pos_reservations(self.uuid)
        if Ledger.sudo().search_count(
            [
                ("pos_order_uuid", "=", self.uuid),
                ("entry_type", "=", "redemption"),
                ("state", "=", "posted"),
            ],
            limit=1,
        ):
            return  # settled already
        mine = held.filtered(
            lambda e: e.state == "reserved" and self._loyalty_pos_owns(e)
        )
        member = self.partner_id.commercial_partner_id
        if discount <= 0.005:
            Ledger._lock_cards(mine.card_id)
            mine.write({"state": "cancelled"})
            return
        # a reservation of the member's card by this till (the card may have
        # been blocked since: the points were held while it could pay)
        mine = mine.filtered(lambda e: e.card_id.partner_id == member)
        program = mine.card_id[:1].program_id or program
        if not program.point_value:
            return
        value = self._loyalty_pos_order_value(facts)
        points = float_round(discount / program.point_value, 2)
        if mine:
            Ledger._lock_cards(mine.card_id)
            reserved = round(-sum(mine.mapped("points")), 2)
            if points >= reserved - 0.005:
                mine._confirm_reservation(self)
                if points > reserved + 0.005:
                    self._loyalty_pos_exception(
                        "discount_mismatch",
                        _(
                            "The points discount (%(discount)s) is larger than the "
                            "%(points)s points reserved for it: %(extra)s were given "
                            "without points.",
                            discount=discount,
                            points=reserved,
                            extra=round(discount - reserved * program.point_value, 2),
                        ),
                        card=mine.card_id[:1],
                        amount=discount - reserved * program.point_value,
                    )
            else:
                # the till took less than it reserved: the rest goes back
                mine.write({"state": "cancelled"})
                Ledger._take(
                    mine.card_id[:1],
                    points,
                    "redemption",
                    reason=_("Paid part of %(order)s", order=self.name),
                    source=self,
                    idempotency_key=f"pos.order/{self.uuid}/redemption",
                    amount=value,
                    pos_order_uuid=self.uuid,
                )
            card = mine.card_id[:1]
            points = min(points, reserved)
        elif not card:
            self._loyalty_pos_exception(
                "card_unusable",
                _(
                    "Order %(order)s was paid %(discount)s with bonus points but its "
                    "customer has no usable member card: no points were taken.",
                    order=self.name,
                    discount=discount,
                ),
                card=member.loyalty_card_id,
                amount=discount,
            )
            return
        else:
            entries = Ledger._take(
                card,
                points,
                "redemption",
                reason=_("Paid part of %(order)s", order=self.name),
                source=self,
                idempotency_key=f"pos.order/{self.uuid}/redemption",
                amount=value,
                pos_order_uuid=self.uuid,
            )
            owed = -sum(
                entries.filtered(lambda e: e.entry_type == "debt").mapped("points")
            )
            if owed:
                self._loyalty_pos_exception(
                    "points_owed",
                    _(
                        "Order %(order)s was paid with %(points)s points that were "
                        "not held for it and the member no longer has %(owed)s of "
                        "them: they are owed.",
                        order=self.name,
                        points=points,
                        owed=owed,
                    ),
                    card=card,
                    points=owed,
                )
        cap = self.env["loyalty.settlement"]._cap_points(program, value)
        if points > cap + 0.005:
            self._loyalty_pos_exception(
                "discount_over_cap",
                _(
                    "Order %(order)s was paid with %(points)s points; points pay at "
                    "most %(share)s %% of an order, %(cap)s points here.",
                    order=self.name,
                    points=points,
                    share=program.max_redeem_share,
                    cap=cap,
                ),
                card=card,
                points=points - cap,
            )

    def _loyalty_pos_settle_earning(self, card, program, facts):
        """Points earned on the money paid (net of points and of returns that
        match no sale), or taken back for a net return that matches none."""
        Ledger = self.env["loyalty.ledger"]
        Settlement = self.env["loyalty.settlement"]
        member = self.partner_id.commercial_partner_id
        for line in facts["unmatched"]:
            self._loyalty_pos_exception(
                "return_unmatched",
                _(
                    "Order %(order)s returns %(qty)s × %(product)s referencing "
                    "%(origin)s, which is not a sale of that product to this "
                    "customer (or was returned already): no points were given back "
                    "for it, and its amount counts against the order.",
                    order=self.name,
                    qty=-line.qty,
                    product=line.product_id.display_name,
                    origin=line.refunded_orderline_id.order_id.name,
                ),
                card=card,
                amount=-line._compute_amount_line_all()["price_subtotal_incl"],
            )
        if not card:
            if member.loyalty_card_id.program_id == program and facts["goods"]:
                self._loyalty_pos_exception(
                    "card_unusable",
                    _(
                        "Card %(code)s is %(state)s: order %(order)s earned no points.",
                        code=member.loyalty_card_id.code,
                        state=member.loyalty_card_id._loyalty_state_label(),
                        order=self.name,
                    ),
                    card=member.loyalty_card_id,
                )
            return
        returned_money = sum(facts["returns"].values())
        earning, basis, unmatched = Settlement._earning_basis(
            facts["goods"],
            points_value=facts["discount"],
            money_paid=facts["money"] + returned_money,
        )
        if unmatched > 0:
            points = program._loyalty_compute_points(
                [(self.env["product.product"], 1.0, unmatched)],
                multiplier=member.loyalty_tier_id.multiplier or 1.0,
            )
            if points > 0:
                Ledger._take(
                    card,
                    points,
                    "reversal",
                    reason=_("Return without a sale, %(order)s", order=self.name),
                    source=self,
                    idempotency_key=f"pos.order/{self.uuid}/clawback",
                    amount=-unmatched,
                    pos_order_uuid=self.uuid,
                )
        if basis <= 0:
            return
        try:
            Ledger._accrue_purchase(
                card,
                basis,
                f"pos.order/{self.uuid}/accrual",
                lines=earning,
                reference=_("Purchase %(order)s", order=self.name),
                source=self,
                pos_order_uuid=self.uuid,
            )
        except LoyaltyError as error:
            if error.code != "validation_error":  # earns nothing under the rules
                raise

    def _loyalty_pos_settle_returns(self, card, program, facts):
        """Valid returns take back, in proportion, what their sale earned and
        give back what it spent — only the points of the discount share the
        return took back too (the rest was paid back in money)."""
        Ledger = self.env["loyalty.ledger"]
        for origin, money in facts["returns"].items():
            if not origin.uuid or money <= 0:
                continue
            origin_program = program
            origin_facts = origin._loyalty_pos_facts(origin_program)
            gross = sum(m for _p, _q, m, _e in origin_facts["goods"] if m > 0)
            if gross <= 0:
                continue
            share = min(round(money / gross, 6), 1.0)
            discount = origin_facts["discount"]
            back = facts["discount_back"].get(origin, 0.0)
            spent_share = share
            # the till returns a share of the discount line as a quantity, which
            # Odoo rounds to the unit's precision: that much is tolerated
            tolerance = max(discount * 0.01, 0.01)
            if discount > 0.005 and back < discount * share - tolerance:
                spent_share = min(share, round(back / discount, 6))
                self._loyalty_pos_exception(
                    "return_discount_missing",
                    _(
                        "%(origin)s was paid partly with bonus points: its return "
                        "%(order)s should take back %(due)s of the points "
                        "discount and took %(back)s. The customer was paid that "
                        "part in money, so its points are not given back.",
                        origin=origin.name,
                        order=self.name,
                        due=round(discount * share, 2),
                        back=round(back, 2),
                    ),
                    card=card,
                    amount=discount * share - back,
                )
            originals = Ledger.sudo().search(
                [
                    ("pos_order_uuid", "=", origin.uuid),
                    ("entry_type", "in", ("accrual", "redemption")),
                    ("counterpart_id", "=", False),
                    ("state", "in", ("pending", "available", "posted", "cancelled")),
                ],
                order="id",
            )
            for entry in originals:
                if entry.entry_type == "redemption" and entry.state != "posted":
                    continue  # a released reservation spent nothing
                entry_share = spent_share if entry.entry_type == "redemption" else share
                if entry_share <= 0:
                    continue
                try:
                    entry._reverse(
                        f"pos.order/{self.uuid}/reverse/{entry.id}",
                        share=entry_share,
                        reason=_("Return %(order)s", order=self.name),
                        pos_order_uuid=self.uuid,
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

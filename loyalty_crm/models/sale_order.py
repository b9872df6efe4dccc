from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError

from ..tools import LoyaltyError


class SaleOrderLine(models.Model):
    _inherit = "sale.order.line"

    loyalty_redemption_line = fields.Boolean(
        string="Paid with Points",
        readonly=True,
        copy=False,
        help="A discount paid with bonus points, or a gift taken for points.",
    )
    loyalty_redemption_kind = fields.Selection(
        [("discount", "Discount"), ("gift", "Gift"), ("shipping", "Free shipping")],
        readonly=True,
        copy=False,
    )
    loyalty_points = fields.Float(
        string="Points",
        digits=(16, 2),
        readonly=True,
        copy=False,
        help="Bonus points this line costs the customer.",
    )

    def _loyalty_guard_redemption_fields(self, vals_list):
        """Points paid on a quotation are set by the spending actions only (their
        values are checked again at confirmation): never over RPC."""
        guarded = {
            "loyalty_points",
            "loyalty_redemption_line",
            "loyalty_redemption_kind",
        }
        if self.env.context.get("_loyalty_redemption_line"):
            return
        if any(guarded & set(vals) for vals in vals_list):
            raise AccessError(
                _(
                    "Points are spent on a quotation with its Spend Bonus Points "
                    "button: the points of a line cannot be written."
                )
            )

    @api.model_create_multi
    def create(self, vals_list):
        self._loyalty_guard_redemption_fields(vals_list)
        return super().create(vals_list)

    def write(self, vals):
        self._loyalty_guard_redemption_fields([vals])
        if (
            self.filtered("loyalty_redemption_line")
            and {"price_unit", "product_id", "product_uom_qty", "discount", "tax_id"}
            & set(vals)
            and not self.env.context.get("_loyalty_redemption_line")
        ):
            raise UserError(
                _(
                    "A line paid with bonus points cannot be changed: remove the "
                    "points and spend them again."
                )
            )
        return super().write(vals)


class SaleOrder(models.Model):
    _inherit = "sale.order"

    loyalty_member = fields.Boolean(
        related="partner_id.commercial_partner_id.loyalty_is_member",
        string="Customer Is a Member",
    )
    loyalty_points_to_spend = fields.Float(
        string="Points to Spend",
        digits=(16, 2),
        compute="_compute_loyalty_points_to_spend",
        store=True,
        help="Points the customer pays part of this order with; taken when the "
        "order is confirmed.",
    )

    loyalty_points_earned = fields.Float(
        string="Bonus Points Earned",
        compute="_compute_loyalty_points",
        digits=(16, 2),
        help="Points this order earned, net of reversals.",
    )
    loyalty_points_spent = fields.Float(
        string="Bonus Points Spent", compute="_compute_loyalty_points", digits=(16, 2)
    )

    @api.depends("order_line.loyalty_points")
    def _compute_loyalty_points_to_spend(self):
        for order in self:
            order.loyalty_points_to_spend = sum(
                order.order_line.mapped("loyalty_points")
            )

    def _compute_loyalty_points(self):
        entries = (
            self.env["loyalty.ledger"]
            .sudo()
            .search([("res_model", "=", "sale.order"), ("res_id", "in", self.ids)])
        )
        earned, spent = self.env["loyalty.settlement"]._earned_spent(
            entries, key=lambda e: e.res_id
        )
        for order in self:
            order.loyalty_points_earned = earned[order.id]
            order.loyalty_points_spent = spent[order.id]

    # ------------------------------------------------------------ flows
    def action_confirm(self):
        res = super().action_confirm()
        self._loyalty_redeem()
        self._loyalty_issue_and_activate_cards()
        self.filtered(
            lambda o: o._loyalty_program().accrual_trigger == "confirm"
        )._loyalty_accrue()
        return res

    def _action_cancel(self):
        res = super()._action_cancel()
        self._loyalty_reverse(1.0, self, _("Order cancelled"))
        return res

    # ------------------------------------------------------------ cards
    def _loyalty_program(self):
        self.ensure_one()
        return self.env["loyalty.program"]._get_bonus_program(self.company_id)

    def _loyalty_issue_and_activate_cards(self):
        """Card issue conditions and activation at first purchase, on confirmation."""
        for order in self.filtered(lambda o: o.partner_id):
            member = order.partner_id.commercial_partner_id
            program = order._loyalty_program()
            card = member.loyalty_card_id
            if card and card.program_id == program:
                card._loyalty_activate()
                continue
            if program.card_issue_mode == "purchase":
                eligible = (
                    program.card_issue_min_amount
                    and order.currency_id.compare_amounts(
                        order.amount_total, program.card_issue_min_amount
                    )
                    >= 0
                )
            elif program.card_issue_mode == "product":
                eligible = program.card_product_id in order.order_line.product_id
            else:
                eligible = False
            if not eligible:
                continue
            try:
                with self.env.cr.savepoint():
                    member._loyalty_enrol(program=program)._loyalty_activate()
            except UserError as error:
                # The sale goes on; the staff sees why no card was issued.
                order.message_post(
                    body=_("No member card issued: %(reason)s", reason=error.args[0])
                )

    # ------------------------------------------------------------ spending
    def _loyalty_paid_amount(self):
        """What the customer pays in money before points (tax included)."""
        self.ensure_one()
        return sum(
            self.order_line.filtered(
                lambda line: not line.display_type and not line.loyalty_redemption_line
            ).mapped("price_total")
        )

    def _loyalty_max_points(self):
        """The most points this order can take: balance, cap and minimum balance."""
        self.ensure_one()
        return self.env["loyalty.settlement"]._max_points(
            self._loyalty_card(), self._loyalty_paid_amount()
        )

    def _loyalty_check_spending(self, points, other_points=0.0, capped=True):
        """The card that pays ``points`` (on top of ``other_points``), or raise."""
        self.ensure_one()
        if self.state not in ("draft", "sent"):
            raise UserError(_("Points can only be spent on a quotation."))
        card = self._loyalty_card()
        if not card:
            raise UserError(
                _(
                    "%(customer)s has no active member card.",
                    customer=self.partner_id.display_name,
                )
            )
        if points <= 0:
            raise UserError(_("Enter a positive number of points."))
        self.env["loyalty.settlement"]._check_spend(
            card,
            points,
            self._loyalty_paid_amount() if capped else None,
            other_points=other_points,
        )
        return card

    def _loyalty_gift_lines(self):
        """Gifts and free shipping taken for points (not the points discount)."""
        return self.order_line.filtered(
            lambda line: line.loyalty_redemption_kind in ("gift", "shipping")
        )

    def _loyalty_apply_points(self, points):
        """Pay ``points`` of this order with bonus points (a discount line).

        Checked again, under a lock on the card, when the order is confirmed.
        """
        self.ensure_one()
        points = round(points or 0.0, 2)
        gifts = self._loyalty_gift_lines()
        card = self._loyalty_check_spending(points, sum(gifts.mapped("loyalty_points")))
        program = card.program_id
        (self.order_line.filtered("loyalty_redemption_line") - gifts).unlink()
        reward = program._loyalty_discount_reward()
        value = self.currency_id.round(points * program.point_value)
        self.env["sale.order.line"].with_context(_loyalty_redemption_line=True).create(
            {
                "order_id": self.id,
                "product_id": reward.discount_line_product_id.id,
                "name": _("Paid with %(points)s bonus points", points=points),
                "product_uom_qty": 1,
                "price_unit": -value,
                "tax_id": [(5, 0, 0)],
                "loyalty_redemption_line": True,
                "loyalty_redemption_kind": "discount",
                "loyalty_points": points,
                "sequence": 999,
            }
        )
        return True

    def _loyalty_apply_gift(self, reward):
        """Take a gift of the program's catalogue (a product reward) for points."""
        self.ensure_one()
        card = self._loyalty_card()
        if reward.program_id != card.program_id or not (
            (reward.reward_type == "product" and reward.reward_product_id)
            or reward.reward_type == "shipping"
        ):
            raise UserError(_("This gift is not in the bonus program's catalogue."))
        if reward.reward_type == "shipping":
            if not self.order_line.filtered("is_delivery"):
                raise UserError(
                    _("Add a shipping method first: there is nothing to offer.")
                )
            if self.order_line.filtered(
                lambda line: line.loyalty_redemption_kind == "shipping"
            ):
                raise UserError(_("Shipping is already free on this order."))
        spending = sum(self.order_line.mapped("loyalty_points"))
        self._loyalty_check_spending(reward.required_points, spending, capped=False)
        if reward.reward_type == "shipping":
            return self._loyalty_apply_free_shipping(reward)
        self.env["sale.order.line"].with_context(_loyalty_redemption_line=True).create(
            {
                "order_id": self.id,
                "product_id": reward.reward_product_id.id,
                "name": _(
                    "%(gift)s: gift for %(points)s bonus points",
                    gift=reward.reward_product_id.display_name,
                    points=reward.required_points,
                ),
                "product_uom_qty": reward.reward_product_qty or 1,
                "price_unit": 0.0,
                "loyalty_redemption_line": True,
                "loyalty_redemption_kind": "gift",
                "loyalty_points": reward.required_points,
                "sequence": 998,
            }
        )
        return True

    def _loyalty_apply_free_shipping(self, reward):
        delivery = self.order_line.filtered("is_delivery")
        value = sum(delivery.mapped("price_total"))
        if reward.discount_max_amount:
            value = min(value, reward.discount_max_amount)
        self.env["sale.order.line"].with_context(_loyalty_redemption_line=True).create(
            {
                "order_id": self.id,
                "product_id": reward.discount_line_product_id.id,
                "name": _(
                    "Free shipping for %(points)s bonus points",
                    points=reward.required_points,
                ),
                "product_uom_qty": 1,
                "price_unit": -value,
                "tax_id": [(5, 0, 0)],
                "loyalty_redemption_line": True,
                "loyalty_redemption_kind": "shipping",
                "loyalty_points": reward.required_points,
                "sequence": 1000,
            }
        )
        return True

    def action_loyalty_remove_points(self):
        for order in self:
            if order.state not in ("draft", "sent"):
                raise UserError(_("Points can only be removed from a quotation."))
            order.order_line.filtered("loyalty_redemption_line").unlink()
        return True

    def action_loyalty_spend_points(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": _("Spend Bonus Points"),
            "res_model": "loyalty.sale.redeem.wizard",
            "view_mode": "form",
            "target": "new",
            "context": {"default_order_id": self.id},
        }

    def _loyalty_redeem(self):
        """Take the points the orders are paid with (once per confirmation),
        after checking again, under the card's lock, what was checked when they
        were applied: the discount is worth its points at today's point value,
        within the cap of what is paid now and the minimum balance."""
        Ledger = self.env["loyalty.ledger"]
        Settlement = self.env["loyalty.settlement"]
        for order in self.filtered("loyalty_points_to_spend"):
            card = order._loyalty_card()
            if not card:
                raise UserError(
                    _(
                        "%(customer)s has no active member card: remove the points "
                        "paid.",
                        customer=order.partner_id.display_name,
                    )
                )
            entries = Ledger.sudo().search(
                [
                    ("res_model", "=", "sale.order"),
                    ("res_id", "=", order.id),
                    ("entry_type", "in", ("redemption", "reversal")),
                    ("state", "!=", "cancelled"),
                ]
            )
            redeemed = -sum(
                entries.filtered(lambda e: e.entry_type == "redemption").mapped(
                    "points"
                )
            )
            restored = sum(
                entries.filtered(
                    lambda e: e.entry_type == "reversal" and e.points > 0
                ).mapped("points")
            )
            if redeemed - restored > 0:
                continue  # already taken for this confirmation
            Ledger._lock_cards(card)
            program = card.program_id
            discount = order.order_line.filtered(
                lambda line: line.loyalty_redemption_kind == "discount"
            )
            discount_points = sum(discount.mapped("loyalty_points"))
            other_points = order.loyalty_points_to_spend - discount_points
            if discount:
                value = -sum(discount.mapped("price_total"))
                expected = order.currency_id.round(
                    discount_points * program.point_value
                )
                if order.currency_id.compare_amounts(value, expected):
                    raise UserError(
                        _(
                            "%(order)s: the points discount (%(value)s) is no longer "
                            "what its %(points)s points are worth (%(expected)s): "
                            "remove the points and spend them again.",
                            order=order.name,
                            value=value,
                            points=discount_points,
                            expected=expected,
                        )
                    )
                try:
                    Settlement._check_spend(
                        card,
                        discount_points,
                        order._loyalty_paid_amount(),
                        other_points=other_points,
                    )
                except UserError as error:
                    raise UserError(
                        _(
                            "%(order)s cannot be confirmed with these points: "
                            "%(reason)s Remove the points or spend fewer.",
                            order=order.name,
                            reason=error.args[0],
                        )
                    ) from error
            elif other_points > card.points + 0.005:
                raise UserError(
                    _("The member has %(balance)s points only.", balance=card.points)
                )
            generation = len(entries.filtered(lambda e: e.entry_type == "redemption"))
            Ledger._post_once(
                card,
                -order.loyalty_points_to_spend,
                "redemption",
                f"sale.order/{order.id}/redemption/{generation}",
                reason=_("Paid part of %(order)s", order=order.name),
                source=order,
                amount=order._loyalty_paid_amount(),
            )

    # ------------------------------------------------------------ points
    def _loyalty_card(self):
        self.ensure_one()
        return self.env["loyalty.settlement"]._usable_card(
            self.partner_id, self.company_id
        )

    def _loyalty_earning_lines(self):
        """``(product, qty, amount)`` of the lines that earn points: Odoo's own
        amounts, reward and delivery lines excluded, net of the part paid with
        points (the settlement core's rule)."""
        self.ensure_one()
        program = self._loyalty_program()
        earn_field = "price_total" if program.earn_tax_included else "price_subtotal"
        lines = self.order_line.filtered(lambda line: not line.display_type)
        paid = lines.filtered(
            lambda line: not line.is_reward_line
            and not line.loyalty_redemption_line
            and not line.is_delivery
        )
        points_value = -sum(
            lines.filtered(
                lambda line: line.loyalty_redemption_kind == "discount"
            ).mapped("price_total")
        )
        earning, _basis, _unmatched = self.env["loyalty.settlement"]._earning_basis(
            [
                (
                    line.product_id,
                    line.product_uom_qty,
                    line.price_total,
                    line[earn_field],
                )
                for line in paid
            ],
            points_value=points_value,
        )
        return earning

    def _loyalty_accrue(self):
        """Post the points each order earned (once per order, whatever happens)."""
        Ledger = self.env["loyalty.ledger"]
        for order in self:
            card = order._loyalty_card()
            if not card:
                continue
            lines = order._loyalty_earning_lines()
            amount = round(sum(amount for _product, _qty, amount in lines), 2)
            if amount <= 0:
                continue
            history = Ledger.sudo().search(
                [
                    ("res_model", "=", "sale.order"),
                    ("res_id", "=", order.id),
                    ("entry_type", "in", ("accrual", "reversal", "debt")),
                    ("state", "!=", "cancelled"),
                ]
            )
            if sum(history.mapped("points")) > 0:
                continue  # already earned and not reversed
            # every accrual ever posted for the order, cancelled ones included
            generation = Ledger.sudo().search_count(
                [
                    ("res_model", "=", "sale.order"),
                    ("res_id", "=", order.id),
                    ("entry_type", "=", "accrual"),
                ]
            )
            try:
                Ledger._accrue_purchase(
                    card,
                    amount,
                    f"sale.order/{order.id}/accrual/{generation}",
                    lines=lines,
                    reference=_("Purchase %(order)s", order=order.name),
                    source=order,
                )
            except LoyaltyError as error:
                if error.code != "validation_error":  # earns nothing by the rules
                    raise

    def _loyalty_reverse(self, share, source, reason):
        """Take back ``share`` (0-1) of the points each order earned and give back
        that share of the points it spent — once per ``source`` (the cancelled
        order itself, or a credit note). Each accrual and redemption of the
        order is reversed by the ledger's own :meth:`_reverse`.
        """
        Ledger = self.env["loyalty.ledger"]
        for order in self:
            entries = Ledger.sudo().search(
                [
                    ("res_model", "=", "sale.order"),
                    ("res_id", "=", order.id),
                    ("entry_type", "in", ("accrual", "redemption")),
                    ("counterpart_id", "=", False),  # the originals, not re-issues
                ],
                order="id",
            )
            for entry in entries:
                key = f"{source._name}/{source.id}/{entry._name}/{entry.id}"
                try:
                    entry._reverse(key, share=share, reason=reason)
                except LoyaltyError as error:
                    if error.code != "already_reversed":
                        raise

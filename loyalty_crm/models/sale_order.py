from collections import defaultdict

from odoo import _, fields, models
from odoo.exceptions import UserError
from odoo.tools import float_round


class SaleOrder(models.Model):
    _inherit = "sale.order"

    loyalty_points_earned = fields.Float(
        string="Bonus Points Earned",
        compute="_compute_loyalty_points",
        digits=(16, 2),
        help="Points this order earned, net of reversals.",
    )
    loyalty_points_spent = fields.Float(
        string="Bonus Points Spent", compute="_compute_loyalty_points", digits=(16, 2)
    )

    def _compute_loyalty_points(self):
        entries = self.env["loyalty.ledger"].sudo().search(
            [
                ("res_model", "=", "sale.order"),
                ("res_id", "in", self.ids),
                ("state", "!=", "cancelled"),
                ("entry_type", "in", ("accrual", "redemption", "reversal")),
            ]
        )
        earned, spent = defaultdict(float), defaultdict(float)
        for entry in entries:
            # a negative reversal takes earned points back, a positive one gives
            # spent points back
            if entry.entry_type == "accrual" or (
                entry.entry_type == "reversal" and entry.points < 0
            ):
                earned[entry.res_id] += entry.points
            else:
                spent[entry.res_id] -= entry.points
        for order in self:
            order.loyalty_points_earned = earned[order.id]
            order.loyalty_points_spent = spent[order.id]

    # ------------------------------------------------------------ flows
    def action_confirm(self):
        res = super().action_confirm()
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

    # ------------------------------------------------------------ points
    def _loyalty_card(self):
        self.ensure_one()
        card = self.partner_id.commercial_partner_id.loyalty_card_id
        if card and card.program_id == self._loyalty_program() and card.loyalty_state in (
            "issued",
            "active",
        ):
            return card
        return self.env["loyalty.card"]

    def _loyalty_earning_lines(self):
        """``(product, qty, amount)`` of the lines that earn points.

        Reward lines never earn; the part of the order paid with points (the
        bonus program's discount lines) is taken off every line in proportion.
        """
        self.ensure_one()
        program = self._loyalty_program()
        amount_field = "price_total" if program.earn_tax_included else "price_subtotal"
        lines = self.order_line.filtered(lambda l: not l.display_type)
        paid = lines.filtered(lambda l: not l.is_reward_line and l.product_uom_qty > 0)
        gross = sum(paid.mapped(amount_field))
        paid_with_points = -sum(
            lines.filtered(lambda l: l.reward_id.program_id == program).mapped(amount_field)
        )
        if gross <= 0:
            return []
        factor = max(gross - paid_with_points, 0.0) / gross
        return [
            (line.product_id, line.product_uom_qty, line[amount_field] * factor)
            for line in paid
        ]

    def _loyalty_accrue(self):
        """Post the points each order earned (once per order, whatever happens)."""
        Ledger = self.env["loyalty.ledger"]
        for order in self:
            card = order._loyalty_card()
            if not card:
                continue
            program = card.program_id
            points = program._loyalty_compute_points(order._loyalty_earning_lines())
            if points <= 0:
                continue
            history = Ledger.sudo().search(
                [("res_model", "=", "sale.order"), ("res_id", "=", order.id),
                 ("entry_type", "in", ("accrual", "reversal")), ("state", "!=", "cancelled")]
            )
            if sum(history.mapped("points")) > 0:
                continue  # already earned and not reversed
            generation = len(history.filtered(lambda e: e.entry_type == "accrual"))
            pending = program.pending_days > 0
            Ledger._post_once(
                card,
                points,
                "accrual",
                f"sale.order/{order.id}/accrual/{generation}",
                state="pending" if pending else "available",
                available_date=pending
                and fields.Date.add(fields.Date.context_today(self), days=program.pending_days),
                reason=_("Purchase %(order)s", order=order.name),
                source=order,
            )

    def _loyalty_reverse(self, share, source, reason):
        """Take back ``share`` (0-1) of the points each order earned and give back
        that share of the points it spent — once per ``source`` (the cancelled
        order itself, or a credit note). Never drives a balance below zero:
        earned points the member already spent elsewhere are taken as far as
        the balance allows.
        """
        Ledger = self.env["loyalty.ledger"]
        for order in self:
            entries = Ledger.sudo().search(
                [("res_model", "=", "sale.order"), ("res_id", "=", order.id),
                 ("state", "!=", "cancelled")],
                order="id",
            )
            if not entries:
                continue
            key = f"{source._name}/{source.id}/sale.order/{order.id}"
            if Ledger.sudo().search_count([("idempotency_key", "=like", f"{key}/%")], limit=1):
                continue  # this cancellation / credit note was already applied
            card = order._loyalty_card() or entries[-1].card_id
            accruals = entries.filtered(lambda e: e.entry_type == "accrual")
            reversals = entries.filtered(lambda e: e.entry_type == "reversal")
            # pending points: cancelled, and re-issued for the part that stays
            for pending in accruals.filtered(lambda e: e.state == "pending"):
                pending.write({"state": "cancelled"})
                keep = float_round(pending.points * (1 - share), 2)
                if keep > 0:
                    Ledger._post(
                        pending.card_id, keep, "accrual", state="pending",
                        available_date=pending.available_date, expiry_date=pending.expiry_date,
                        reason=pending.reason, source=order, counterpart=pending,
                        idempotency_key=f"{key}/pending/{pending.id}", allow_inactive=True,
                    )
            earned = sum(accruals.filtered(lambda e: e.state == "available").mapped("points"))
            taken = -sum(reversals.filtered(lambda e: e.points < 0).mapped("points"))
            take = min(float_round(earned * share, 2), earned - taken)
            spent = -sum(entries.filtered(lambda e: e.entry_type == "redemption").mapped("points"))
            restored = sum(reversals.filtered(lambda e: e.points > 0).mapped("points"))
            give_back = min(float_round(spent * share, 2), spent - restored)
            if give_back > 0:
                Ledger._post(
                    card, give_back, "reversal", source=order, allow_inactive=True,
                    reason=_("%(reason)s: spent points given back", reason=reason),
                    idempotency_key=f"{key}/restore",
                )
            if take > 0:
                Ledger._lock_cards(card)
                take = min(take, card.points)
            if take > 0:
                Ledger._post(
                    card, -take, "reversal", reason=reason, source=order,
                    idempotency_key=f"{key}/take", allow_inactive=True,
                )

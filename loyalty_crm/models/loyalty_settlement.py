"""The settlement core: the rules every channel (POS, Sales, HTTP API, coalition
partners, campaigns) settles points with.

A channel builds its request from what the server can verify — the card, the
lines with amounts it computed itself, the money actually paid, an idempotency
key, the source document, the coalition partner — and calls the ledger's
operations (:meth:`loyalty.ledger._accrue_purchase`, ``_redeem``, ``_reverse``,
``_take``) through the rules below. Nothing here trusts a number the client
computed; nothing is written twice in the channels.
"""

import math
from collections import defaultdict

from odoo import _, api, models
from odoo.tools import float_round

from ..tools import LoyaltyError

USABLE_STATES = ("issued", "active")


class LoyaltySettlement(models.AbstractModel):
    _name = "loyalty.settlement"
    _description = "Bonus Settlement Rules"

    # ------------------------------------------------------------ cards
    @api.model
    def _usable_card(self, partner, company):
        """The member card of ``partner`` (its commercial entity) that can earn and
        spend in ``company``'s bonus program, or an empty recordset."""
        card = partner.commercial_partner_id.loyalty_card_id
        program = self.env["loyalty.program"]._get_bonus_program(company)
        if card and card.program_id == program and card.loyalty_state in USABLE_STATES:
            return card
        return self.env["loyalty.card"]

    @api.model
    def _check_card_usable(self, card):
        if not card or not card.is_bonus_card:
            raise LoyaltyError("not_found", _("No such bonus card."))
        if card.loyalty_state not in USABLE_STATES:
            raise LoyaltyError(
                "card_blocked",
                _(
                    "Card %(code)s is %(state)s: it cannot be used.",
                    code=card.code,
                    state=card._loyalty_state_label(),
                ),
            )

    # ------------------------------------------------------------ spending
    @api.model
    def _cap_points(self, program, order_amount):
        """The most points an order of ``order_amount`` may be paid with."""
        if not program.point_value or order_amount <= 0:
            return 0.0
        value = order_amount * (program.max_redeem_share or 0.0) / 100.0
        return float_round(value / program.point_value, 2, rounding_method="DOWN")

    @api.model
    def _max_points(self, card, order_amount):
        """The most points ``card`` can pay on an order: balance, minimum balance
        and cap (0 when it can't pay at all)."""
        program = card.program_id
        if not card or card.points <= 0 or card.points < program.min_balance_to_spend:
            return 0.0
        return max(min(card.points, self._cap_points(program, order_amount)), 0.0)

    @api.model
    def _check_spend(self, card, points, order_amount=None, other_points=0.0):
        """Refuse spending ``points`` (on top of ``other_points`` already taken
        by the same order) on an order of ``order_amount``: minimum balance,
        balance, cap (none without an amount: gifts of the catalogue). The
        caller holds the card's lock when it posts."""
        program = card.program_id
        # not (x > 0): also refuses NaN, which passes every comparison below
        if not (math.isfinite(points) and points > 0) or (
            order_amount is not None
            and not (math.isfinite(order_amount) and order_amount > 0)
        ):
            raise LoyaltyError(
                "validation_error", _("Points and order amount must be positive.")
            )
        if card.points < program.min_balance_to_spend:
            raise LoyaltyError(
                "insufficient_points",
                _(
                    "Points can be spent from a balance of %(minimum)s; the member "
                    "has %(balance)s.",
                    minimum=program.min_balance_to_spend,
                    balance=card.points,
                ),
            )
        if points + other_points > card.points + 0.005:
            raise LoyaltyError(
                "insufficient_points",
                _(
                    "Card %(code)s has %(balance)s points: %(points)s cannot be taken.",
                    code=card.code,
                    balance=card.points,
                    points=points + other_points,
                ),
            )
        if (
            order_amount is not None
            and points > self._cap_points(program, order_amount) + 0.005
        ):
            raise LoyaltyError(
                "redemption_cap_exceeded",
                _(
                    "Points pay at most %(share)s %% of an order: %(points)s points "
                    "are more than that.",
                    share=program.max_redeem_share,
                    points=points,
                ),
            )

    # ------------------------------------------------------------ earning
    @api.model
    def _earning_basis(self, lines, points_value=0.0, money_paid=None):
        """What a purchase earns on, from lines whose amounts the server computed.

        ``lines`` are ``(product, qty, amount)`` or ``(product, qty, amount,
        earning_amount)`` when the program earns on another amount than the
        money (tax excluded). Lines of one product net out (+1 and -1 earn
        nothing); products returned without a valid reference (a negative net)
        count against the order; the part paid with points (``points_value``)
        earns nothing; and the basis never exceeds the money actually paid
        (``money_paid``, when the channel knows it).

        Returns ``(earning_lines, basis, unmatched)``: the lines, in earning
        amounts, scaled to the basis; the basis; and the amount returned beyond
        what the order sold (for a member, a clawback).
        """
        net = defaultdict(lambda: [0.0, 0.0, 0.0])
        for product, qty, amount, *earning in lines:
            net[product][0] += qty
            net[product][1] += amount
            net[product][2] += earning[0] if earning else amount
        sold = [(p, *values) for p, values in net.items() if values[1] > 0.005]
        gross = sum(amount for _p, _q, amount, _e in sold)
        returned = -sum(values[1] for values in net.values() if values[1] < -0.005)
        basis = gross - returned - (points_value or 0.0)
        if money_paid is not None:
            basis = min(basis, money_paid)
        if gross <= 0 or basis <= 0.005:
            return [], 0.0, round(max(returned - gross, 0.0), 2)
        factor = basis / gross
        earning = [(p, qty, earn * factor) for p, qty, _amount, earn in sold]
        return earning, round(sum(e for _p, _q, e in earning), 2), 0.0

    # ------------------------------------------------------------ reading
    @api.model
    def _earned_spent(self, entries, key):
        """``({key: earned}, {key: spent})`` of documents from their entries:
        earned net of what returns took back (or left owed), spent net of what
        they gave back. ``key(entry)`` names the document."""
        earned, spent = defaultdict(float), defaultdict(float)
        for entry in entries:
            if entry.state == "cancelled":
                continue  # released, or re-issued (a partial return, a new card)
            corrects = entry.counterpart_id.entry_type
            if (
                entry.entry_type == "accrual"
                or (entry.entry_type == "reversal" and entry.points < 0)
                or (entry.entry_type == "debt" and corrects != "redemption")
            ):
                earned[key(entry)] += entry.points
            elif entry.entry_type in ("redemption", "reversal", "debt"):
                spent[key(entry)] -= entry.points
        return earned, spent

    # ------------------------------------------------------------ exceptions
    @api.model
    def _record_exception(self, code, message, source=None, card=None, **vals):
        """What a channel could not honour (a paid order is never refused for
        its points): a loyalty exception for a manager to review."""
        return (
            self.env["loyalty.exception"]
            .sudo()
            .create(
                {
                    "code": code,
                    "message": message,
                    "res_model": source and source._name,
                    "res_id": source and source.id,
                    "card_id": card and card.id,
                    "company_id": (
                        card
                        and card.company_id.id
                        or (source and "company_id" in source and source.company_id.id)
                        or self.env.company.id
                    ),
                    **vals,
                }
            )
        )

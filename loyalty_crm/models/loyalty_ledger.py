"""The bonus ledger: the single source of truth of every bonus card's balance.

Entries are append-only. A card's ``points`` is always the sum of its entries in
the states that count (``available`` and ``posted``); :meth:`LoyaltyLedger._post`
is the only code path that changes it, under a row lock on the card.
"""

import logging

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.tools import SQL, float_compare, float_is_zero
from odoo.tools.sql import create_index

from ..tools import LoyaltyError

_logger = logging.getLogger(__name__)

ENTRY_TYPES = [
    ("accrual", "Accrual"),
    ("redemption", "Redemption"),
    ("expiry", "Expiry"),
    ("adjustment", "Adjustment"),
    ("transfer", "Transfer"),
    ("reversal", "Reversal"),
    ("bonus", "Bonus"),
    ("opening", "Opening balance"),
]
# Sign each type's points must have (None: either).
ENTRY_SIGN = {
    "accrual": 1,
    "bonus": 1,
    "opening": 1,  # a balance brought over from a previous system (import)
    "redemption": -1,
    "expiry": -1,
    "adjustment": None,
    "transfer": None,
    "reversal": None,
}
# States whose points make up the balance (reserved: points held for a till's
# order before payment, taken from the balance at once).
BALANCE_STATES = ("available", "posted", "reserved")
# The only changes an entry ever goes through after it is written.
STATE_TRANSITIONS = {
    ("pending", "available"),
    ("pending", "cancelled"),
    ("reserved", "posted"),
    ("reserved", "cancelled"),
}
POINTS_DIGITS = (16, 2)


class LoyaltyLedger(models.Model):
    _name = "loyalty.ledger"
    _description = "Bonus Ledger Entry"
    _order = "date desc, id desc"
    _rec_name = "display_name"

    card_id = fields.Many2one(
        "loyalty.card", required=True, ondelete="restrict", index=True, readonly=True
    )
    partner_id = fields.Many2one(
        related="card_id.partner_id", store=True, index=True, string="Member"
    )
    program_id = fields.Many2one(related="card_id.program_id", store=True)
    company_id = fields.Many2one(related="card_id.company_id", store=True)
    currency_id = fields.Many2one(related="card_id.currency_id")
    entry_type = fields.Selection(
        ENTRY_TYPES, string="Type", required=True, readonly=True
    )
    points = fields.Float(digits=POINTS_DIGITS, required=True, readonly=True)
    state = fields.Selection(
        [
            ("pending", "Pending"),
            ("available", "Available"),
            ("posted", "Posted"),
            ("cancelled", "Cancelled"),
            ("reserved", "Reserved"),
        ],
        required=True,
        readonly=True,
        index=True,
        help="Pending: locked for the return window, not spendable yet. "
        "Available: points that can be spent. Posted: a settled movement. "
        "Cancelled: a pending entry that never became available, or a "
        "reservation released. Reserved: points held for an order at the till "
        "until it is paid.",
    )
    date = fields.Datetime(required=True, readonly=True, default=fields.Datetime.now)
    expiry_date = fields.Date(
        readonly=True,
        index="btree_not_null",
        help="Date the points of this lot expire.",
    )
    available_date = fields.Date(
        readonly=True,
        help="Date pending points become available (end of the return window).",
    )
    reason = fields.Char(readonly=True)
    amount = fields.Monetary(
        string="Purchase Amount",
        currency_field="currency_id",
        readonly=True,
        help="The purchase amount that earned (or, negative, returned) these points.",
    )
    res_model = fields.Char(string="Source Model", readonly=True, index=True)
    res_id = fields.Many2oneReference(
        string="Source Record", model_field="res_model", readonly=True, index=True
    )
    idempotency_key = fields.Char(readonly=True, index=True)
    counterpart_id = fields.Many2one(
        "loyalty.ledger",
        readonly=True,
        index="btree_not_null",
        help="The other side of a transfer, or the entry a reversal reverses.",
    )
    user_id = fields.Many2one(
        "res.users", string="By", readonly=True, default=lambda self: self.env.user
    )

    _sql_constraints = [
        (
            "points_not_zero",
            "CHECK (points <> 0 OR amount <> 0)",
            "A ledger entry moves points (or, for a return, records the returned "
            "amount).",
        ),
        (
            "state_sign",
            "CHECK (state <> 'pending' OR points > 0)",
            "Only positive points can be pending.",
        ),
        (
            "reserved_sign",
            "CHECK (state <> 'reserved' OR points < 0)",
            "Only spent points can be reserved.",
        ),
        (
            "idempotency_key_unique",
            "UNIQUE(company_id, idempotency_key)",
            "This operation was already recorded (same idempotency key).",
        ),
    ]

    def init(self):
        res = super().init()
        # operations of one document are found by key prefix (``pos.order/<uuid>/``)
        create_index(
            self.env.cr,
            "loyalty_ledger_idempotency_key_prefix_index",
            self._table,
            ["idempotency_key text_pattern_ops"],
        )
        return res

    @api.depends("entry_type", "points", "card_id")
    def _compute_display_name(self):
        types = dict(self._fields["entry_type"]._description_selection(self.env))
        for entry in self:
            entry.display_name = _(
                "%(type)s %(points)+.2f (%(card)s)",
                type=types.get(entry.entry_type, ""),
                points=entry.points,
                card=entry.card_id.code or "",
            )

    # ------------------------------------------------------------ immutability
    @api.model_create_multi
    def create(self, vals_list):
        if not self.env.context.get("_loyalty_ledger_post") or not self.env.su:
            raise AccessError(
                _(
                    "Ledger entries are written by the bonus program itself "
                    "(sales, POS, adjustments); they cannot be created directly."
                )
            )
        return super().create(vals_list)

    def write(self, vals):
        if not self.env.su:
            raise AccessError(
                _(
                    "Ledger entries cannot be changed. Post a correcting entry "
                    "(an adjustment or a reversal) instead."
                )
            )
        allowed = {"state"}
        if self.env.context.get("_loyalty_confirm_reservation"):
            allowed |= {"res_model", "res_id"}  # see _confirm_reservation
        if set(vals) - allowed:
            raise UserError(
                _(
                    "Ledger entries cannot be changed. Post a correcting entry "
                    "(an adjustment or a reversal) instead."
                )
            )
        for entry in self:
            if (entry.state, vals["state"]) not in STATE_TRANSITIONS:
                raise UserError(
                    _(
                        "A %(state)s ledger entry cannot be changed. Post a "
                        "correcting entry instead.",
                        state=entry.state,
                    )
                )
        res = super().write(vals)
        self.card_id._loyalty_sync_points()
        return res

    @api.ondelete(at_uninstall=False)
    def _unlink_never(self):
        raise UserError(
            _(
                "Ledger entries cannot be deleted. Post a correcting entry "
                "(an adjustment or a reversal) instead."
            )
        )

    # ------------------------------------------------------------ posting
    @api.model
    def _lock_cards(self, cards):
        """Lock the cards' rows until the transaction ends (id order: no deadlock)."""
        if cards:
            self.env.flush_all()
            self.env.execute_query(
                SQL(
                    "SELECT id FROM loyalty_card WHERE id IN %s ORDER BY id FOR NO "
                    "KEY UPDATE",
                    tuple(cards.ids),
                )
            )
            cards.invalidate_recordset(["points"])

    @api.model
    def _post(
        self,
        card,
        points,
        entry_type,
        *,
        state=None,
        reason=None,
        source=None,
        idempotency_key=None,
        expiry_date=None,
        available_date=None,
        counterpart=None,
        allow_inactive=False,
        amount=0.0,
    ):
        """Append an entry to ``card``'s ledger and update its balance.

        The card's row is locked first, so the balance check and the new entry
        happen atomically with respect to every other posting on the card.
        Raises ``UserError`` when the card can't take the entry (blocked card,
        balance that would become negative) and writes nothing in that case.
        """
        card.ensure_one()
        points = round(points, POINTS_DIGITS[1])
        if float_is_zero(points, precision_digits=POINTS_DIGITS[1]) and not (
            entry_type == "reversal" and amount
        ):
            raise UserError(_("A ledger entry must move a non-zero number of points."))
        sign = ENTRY_SIGN[entry_type]
        if sign and sign * points < 0:
            raise UserError(
                _(
                    "A %(type)s cannot have %(points)s points.",
                    type=entry_type,
                    points=points,
                )
            )
        if not card.program_id.is_bonus_program:
            raise UserError(_("Card %(code)s is not a bonus card.", code=card.code))
        self._lock_cards(card)
        if not allow_inactive and card.loyalty_state not in ("issued", "active"):
            raise UserError(
                _(
                    "Card %(code)s is %(state)s: it cannot be used.",
                    code=card.code,
                    state=card._loyalty_state_label(),
                )
            )
        state = state or ("available" if points > 0 else "posted")
        if expiry_date is None and entry_type in ("accrual", "bonus"):
            expiry_date = card.program_id._loyalty_expiry_date()
        if not points:
            state = "posted"
        if state in BALANCE_STATES and points < 0:
            if float_compare(card.points + points, 0, precision_digits=2) < 0:
                raise UserError(
                    _(
                        "Card %(code)s has %(balance)s points: %(points)s cannot be "
                        "taken.",
                        code=card.code,
                        balance=card.points,
                        points=-points,
                    )
                )
        entry = (
            self.sudo()
            .with_context(_loyalty_ledger_post=True)
            .create(
                {
                    "card_id": card.id,
                    "entry_type": entry_type,
                    "points": points,
                    "state": state,
                    "reason": reason,
                    "res_model": source and source._name,
                    "res_id": source and source.id,
                    "idempotency_key": idempotency_key,
                    "expiry_date": expiry_date or False,
                    "available_date": available_date or False,
                    "amount": amount,
                    "counterpart_id": counterpart and counterpart.id,
                    "user_id": self.env.user.id,
                }
            )
        )
        card._loyalty_sync_points()
        return entry

    @api.model
    def _post_once(self, card, points, entry_type, idempotency_key, **kwargs):
        """:meth:`_post` unless an entry with ``idempotency_key`` exists; returns it.

        The unique index on the key is what makes this safe under concurrency:
        a parallel transaction posting the same key fails and is retried.
        """
        existing = self.sudo().search(
            [
                ("company_id", "=", card.company_id.id),
                ("idempotency_key", "=", idempotency_key),
            ],
            limit=1,
        )
        if existing:
            return existing
        return self._post(
            card, points, entry_type, idempotency_key=idempotency_key, **kwargs
        )

    # ------------------------------------------------------------ transactions
    # What every channel (API, POS, back office) does with a card, with the
    # refusal codes of the API contract. Each takes an idempotency key: replaying
    # the same operation returns the first entry and writes nothing.
    @api.model
    def _check_card_usable(self, card):
        if not card or not card.is_bonus_card:
            raise LoyaltyError("not_found", _("No such bonus card."))
        if card.loyalty_state not in ("issued", "active"):
            raise LoyaltyError(
                "card_blocked",
                _(
                    "Card %(code)s is %(state)s: it cannot be used.",
                    code=card.code,
                    state=card._loyalty_state_label(),
                ),
            )

    @api.model
    def _existing(self, card, idempotency_key):
        if not idempotency_key:
            raise LoyaltyError("validation_error", _("An idempotency key is required."))
        return self.sudo().search(
            [
                ("company_id", "=", card.company_id.id),
                ("idempotency_key", "=", idempotency_key),
            ],
            limit=1,
        )

    @api.model
    def _accrue_purchase(
        self, card, amount, idempotency_key, lines=None, reference=None, source=None
    ):
        """Points for a purchase of ``amount``, from the program's rules.

        ``lines`` (optional) are ``(product, qty, amount)``; without them the
        whole amount earns at the program's general rules. Pending for the
        program's return window; the card is activated, the member's tier and
        referral bonus follow.
        """
        existing = self._existing(card, idempotency_key)
        if existing:
            return existing
        self._check_card_usable(card)
        if not amount or amount <= 0:
            raise LoyaltyError("validation_error", _("The amount must be positive."))
        program = card.program_id
        member = card.partner_id
        lines = lines or [(self.env["product.product"], 1.0, amount)]
        points = program._loyalty_compute_points(
            lines, multiplier=member.loyalty_tier_id.multiplier or 1.0
        )
        if points <= 0:
            raise LoyaltyError(
                "validation_error", _("This purchase earns no points under the rules.")
            )
        pending = program.pending_days > 0
        entry = self._post(
            card,
            points,
            "accrual",
            state="pending" if pending else "available",
            available_date=pending
            and fields.Date.add(
                fields.Date.context_today(self), days=program.pending_days
            ),
            reason=reference or _("Purchase"),
            source=source,
            idempotency_key=idempotency_key,
            amount=amount,
        )
        card._loyalty_activate()
        if member:
            member._loyalty_update_tiers(allow_downgrade=False)
            member._loyalty_grant_referral_bonus(amount, source or member)
        return entry

    @api.model
    def _redeem(
        self,
        card,
        points,
        order_amount,
        idempotency_key,
        reference=None,
        state=None,
        source=None,
    ):
        """Spend ``points`` on an order of ``order_amount``, within the rules.

        ``state="reserved"`` holds the points for an order not paid yet (the
        till): they leave the balance at once and become ``posted`` when the
        order is paid (:meth:`_confirm_reservation`), or ``cancelled`` when the
        reservation is released.
        """
        existing = self._existing(card, idempotency_key)
        if existing:
            return existing
        self._check_card_usable(card)
        points = round(points or 0.0, 2)
        if points <= 0 or not order_amount or order_amount <= 0:
            raise LoyaltyError(
                "validation_error", _("Points and order amount must be positive.")
            )
        program = card.program_id
        self._lock_cards(card)
        if card.points < program.min_balance_to_spend or points > card.points:
            raise LoyaltyError(
                "insufficient_points",
                _(
                    "Card %(code)s has %(balance)s points: %(points)s cannot be taken.",
                    code=card.code,
                    balance=card.points,
                    points=points,
                ),
            )
        cap = order_amount * (program.max_redeem_share or 0.0) / 100.0
        if points * program.point_value > cap + 0.005:
            raise LoyaltyError(
                "redemption_cap_exceeded",
                _(
                    "Points pay at most %(share)s %% of an order: %(points)s points "
                    "are more than that.",
                    share=program.max_redeem_share,
                    points=points,
                ),
            )
        return self._post(
            card,
            -points,
            "redemption",
            reason=reference or _("Redemption"),
            idempotency_key=idempotency_key,
            amount=order_amount,
            state=state,
            source=source,
        )

    def _confirm_reservation(self, source):
        """Post reserved points for the order they paid (``source``), which did not
        exist yet when they were reserved: the entry is bound to its document at
        the moment it is posted, and never changes afterwards."""
        if self.filtered(lambda e: e.state != "reserved" or e.res_model):
            raise UserError(_("Only open reservations can be confirmed."))
        self.sudo().with_context(_loyalty_confirm_reservation=True).write(
            {"state": "posted", "res_model": source._name, "res_id": source.id}
        )

    def _reverse(self, idempotency_key, amount=None, share=None, reason=None):
        """Reverse an accrual or a redemption, in full, for a returned ``amount``
        or for a ``share`` (0-1) of it.

        An accrual gives back that share of its points (pending points are
        cancelled and re-issued for the rest); a redemption gives its points
        back. Reversals keep the source document of what they reverse. Never
        drives the balance below zero.
        """
        self.ensure_one()
        card = self.card_id
        existing = self._existing(card, idempotency_key)
        if existing:
            return existing
        if self.state == "cancelled":
            # a pending accrual partly returned lives on in its re-issued rest
            rest = self.sudo().search(
                [("counterpart_id", "=", self.id), ("entry_type", "=", "accrual")],
                limit=1,
            )
            if rest:
                return rest._reverse(
                    idempotency_key, amount=amount, share=share, reason=reason
                )
        if self.entry_type not in ("accrual", "redemption"):
            raise LoyaltyError(
                "validation_error", _("Only accruals and redemptions can be reversed.")
            )
        self._lock_cards(card)
        done = self.sudo().search(
            [("counterpart_id", "=", self.id), ("entry_type", "=", "reversal")]
        )
        reversed_amount = -sum(done.mapped("amount"))
        base = self.amount or 0.0
        if self.state == "cancelled" or (base and reversed_amount >= base - 0.005):
            raise LoyaltyError(
                "already_reversed", _("This transaction was already reversed.")
            )
        if amount is not None and (
            amount <= 0 or amount > base - reversed_amount + 0.005
        ):
            raise LoyaltyError(
                "validation_error",
                _(
                    "The returned amount must be positive and at most %(left)s.",
                    left=round(base - reversed_amount, 2),
                ),
            )
        partial = amount is not None or (share is not None and share < 1.0)
        if amount is not None:
            share = min(amount / base, 1.0) if base else 1.0
            returned = amount
        elif partial:
            returned = min(round(base * share, 2), base - reversed_amount)
        else:
            share, returned = 1.0, base - reversed_amount
        # what previous partial reversals already moved (pending ones moved none)
        left = round(abs(self.points) - sum(abs(p) for p in done.mapped("points")), 2)
        if self.entry_type == "redemption" and left <= 0:
            raise LoyaltyError(
                "already_reversed", _("This transaction was already reversed.")
            )
        points = min(round(abs(self.points) * share, 2), left) if partial else left
        source = self.res_model and self.env[self.res_model].browse(self.res_id)
        if self.entry_type == "redemption":
            return self._post(
                card,
                points,
                "reversal",
                reason=reason or _("Redemption reversed"),
                source=source,
                counterpart=self,
                idempotency_key=idempotency_key,
                amount=-returned,
                allow_inactive=True,
            )
        if self.state == "pending":
            self.write({"state": "cancelled"})
            keep = round(self.points - points, 2)
            if keep > 0:
                self._post(
                    card,
                    keep,
                    "accrual",
                    state="pending",
                    available_date=self.available_date,
                    expiry_date=self.expiry_date,
                    reason=self.reason,
                    source=source,
                    counterpart=self,
                    allow_inactive=True,
                    idempotency_key=f"{idempotency_key}/pending",
                    amount=round(base - reversed_amount - returned, 2),
                )
            points = 0.0
        take = min(points, card.points)
        if not take and not returned:
            return self.browse()  # nothing left to move or to record
        return self._post(
            card,
            -take,
            "reversal",
            reason=reason or _("Purchase returned"),
            source=source,
            counterpart=self,
            idempotency_key=idempotency_key,
            amount=-returned,
            allow_inactive=True,
        )

    # ------------------------------------------------------------ lots (FIFO)
    @api.model
    def _open_lots(self, cards=None, expired_before=None):
        """Points still open in each lot, consumed oldest first (FIFO).

        A lot is a positive entry that counts in the balance. Spending entries
        (any negative entry but an expiry) consume the lots in order of expiry
        then date; an expiry entry closes the lot it names (``counterpart_id``).
        Nothing is stored: the open points are derived from the immutable
        ledger. Returns ``[(lot_id, card_id, open_points, expiry_date)]`` for
        lots with points left (of ``cards``, or all; expiring before a date).
        """
        self.env.flush_all()
        card_filter = SQL("AND l.card_id IN %s", tuple(cards.ids)) if cards else SQL()
        rows = self.env.execute_query(
            SQL(
                """
                WITH lots AS (
                    SELECT l.id, l.card_id, l.expiry_date, l.date,
                           l.points + COALESCE(x.expired, 0) AS points
                      FROM loyalty_ledger l
                 LEFT JOIN (SELECT counterpart_id, SUM(points) AS expired
                              FROM loyalty_ledger l
                             WHERE entry_type = 'expiry' AND counterpart_id IS NOT NULL
                                   %(card_filter)s
                          GROUP BY counterpart_id) x ON x.counterpart_id = l.id
                     WHERE l.points > 0 AND l.state IN %(counted)s %(card_filter)s
                ), spent AS (
                    SELECT card_id, -SUM(points) AS points
                      FROM loyalty_ledger l
                     WHERE l.points < 0 AND l.state IN %(counted)s
                       AND l.entry_type <> 'expiry' %(card_filter)s
                  GROUP BY card_id
                ), fifo AS (
                    SELECT lots.*, SUM(lots.points) OVER (
                               PARTITION BY lots.card_id
                               ORDER BY lots.expiry_date NULLS LAST, lots.date, lots.id
                           ) AS running
                      FROM lots
                )
                SELECT fifo.id, fifo.card_id,
                       LEAST(fifo.points,
                             fifo.running - COALESCE(spent.points, 0)) AS open,
                       fifo.expiry_date
                  FROM fifo
             LEFT JOIN spent ON spent.card_id = fifo.card_id
                 WHERE fifo.running - COALESCE(spent.points, 0) > 0
                   AND (%(before)s::date IS NULL OR fifo.expiry_date < %(before)s::date)
              ORDER BY fifo.card_id, fifo.expiry_date NULLS LAST, fifo.date, fifo.id
                """,
                counted=BALANCE_STATES,
                card_filter=card_filter,
                before=expired_before,
            )
        )
        return [
            (lot, card, float(points), expiry)
            for lot, card, points, expiry in rows
            if points > 0
        ]

    # ------------------------------------------------------------ nightly jobs
    @api.model
    def _cron_expire(self, batch_size=1000):
        """Expire the open points of lots past their date; a second run changes nothing.

        Works per batch of cards: the cards are locked, their lots recomputed
        under the lock, one expiry entry per lot is written; each batch is
        committed (this cron is the one place that commits, so a long run
        never holds all locks at once).
        """
        today = fields.Date.context_today(self)
        expired = self._open_lots(expired_before=today)
        card_ids = sorted({card_id for _lot, card_id, _p, _e in expired})
        Card = self.env["loyalty.card"]
        for start in range(0, len(card_ids), batch_size):
            cards = Card.browse(card_ids[start : start + batch_size])
            self._lock_cards(cards)
            lots = self._open_lots(cards, expired_before=today)
            vals_list = [
                {
                    "card_id": card_id,
                    "entry_type": "expiry",
                    "points": -round(points, 2),
                    "state": "posted",
                    "counterpart_id": lot_id,
                    "reason": _("Points earned before %(date)s expired", date=expiry),
                    "user_id": self.env.user.id,
                }
                for lot_id, card_id, points, expiry in lots
                if round(points, 2) > 0
            ]
            self.sudo().with_context(_loyalty_ledger_post=True).create(vals_list)
            cards._loyalty_sync_points()
            if self.env.context.get("loyalty_cron_commit"):
                # a nightly job over the whole base: one transaction per batch
                self.env.cr.commit()  # pylint: disable=invalid-commit
            # memory flat in the size of the base: forget the batch's records
            self.env.flush_all()
            self.env.invalidate_all()
        return len(expired)

    @api.model
    def _cron_release_pending(self):
        """Pending points whose return window is over become available (once)."""
        today = fields.Date.context_today(self)
        pending = self.sudo().search(
            [("state", "=", "pending"), ("available_date", "<=", today)]
        )
        self._lock_cards(pending.card_id)
        pending.write({"state": "available"})
        return pending

    # ------------------------------------------------------------ reconciliation
    @api.model
    def _loyalty_find_mismatches(self):
        """Bonus cards whose ``points`` differ from the sum of their ledger.

        Returns a list of ``(card_id, card_points, ledger_points)``.
        """
        self.env.flush_all()
        rows = self.env.execute_query(
            SQL(
                """
                SELECT c.id, c.points, COALESCE(l.total, 0)
                  FROM loyalty_card c
                  JOIN loyalty_program p ON p.id = c.program_id AND p.is_bonus_program
             LEFT JOIN (SELECT card_id, SUM(points) AS total
                          FROM loyalty_ledger
                         WHERE state IN %s
                      GROUP BY card_id) l ON l.card_id = c.id
                 WHERE ROUND(COALESCE(c.points, 0)::numeric, 2) <> COALESCE(l.total, 0)
                """,
                BALANCE_STATES,
            )
        )
        return [(card_id, points, float(total)) for card_id, points, total in rows]

    @api.model
    def _cron_reconcile(self):
        mismatches = self._loyalty_find_mismatches()
        for card_id, points, total in mismatches:
            _logger.error(
                "Bonus card %s holds %s points but its ledger sums to %s",
                card_id,
                points,
                total,
            )
        return mismatches

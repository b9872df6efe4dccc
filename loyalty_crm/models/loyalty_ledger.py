"""The bonus ledger: the single source of truth of every bonus card's balance.

Entries are append-only. A card's ``points`` is always the sum of its entries in
the states that count (``available`` and ``posted``); :meth:`LoyaltyLedger._post`
is the only code path that changes it, under a row lock on the card.
"""

import logging
import math
from datetime import timedelta

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.tools import SQL, float_compare, float_is_zero
from odoo.tools.sql import create_index, drop_index

from ..tools import LoyaltyError, LoyaltyKeyTaken

_logger = logging.getLogger(__name__)

ENTRY_TYPES = [
    ("accrual", "Accrual"),
    ("redemption", "Redemption"),
    ("expiry", "Expiry"),
    ("adjustment", "Adjustment"),
    ("transfer", "Transfer"),
    ("reversal", "Reversal"),
    ("bonus", "Bonus"),
    ("debt", "Debt"),
    ("repayment", "Debt Repayment"),
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
    # points a return or a cancellation could not take back (negative: owed;
    # positive: a debt moved to another card or written off)
    "debt": None,
    # points of the balance that pay a debt back
    "repayment": -1,
}
# Types whose points, when added, are a lot that expires under the program's policy
# (unless the caller gives the lot's own expiry date).
EXPIRING_TYPES = ("accrual", "bonus", "adjustment")
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
# A debt is not part of the balance: it is paid back by the next points that are.
DEBT_STATE = "debt"
POINTS_DIGITS = (16, 2)


class LoyaltyLedger(models.Model):
    _name = "loyalty.ledger"
    _description = "Bonus Ledger Entry"
    _order = "date desc, id desc"
    _rec_name = "display_name"

    card_id = fields.Many2one(
        "loyalty.card", required=True, ondelete="restrict", index=True, readonly=True
    )
    # written with the entry (precompute): its card is known, and in cache, when it
    # is posted, so no UPDATE of the new row follows its INSERT
    partner_id = fields.Many2one(
        related="card_id.partner_id",
        store=True,
        index=True,
        string="Member",
        precompute=True,
    )
    program_id = fields.Many2one(
        related="card_id.program_id", store=True, precompute=True
    )
    company_id = fields.Many2one(
        related="card_id.company_id", store=True, precompute=True
    )
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
            ("debt", "Owed"),
        ],
        required=True,
        readonly=True,
        index=True,
        help="Pending: locked for the return window, not spendable yet. "
        "Available: points that can be spent. Posted: a settled movement. "
        "Cancelled: a pending entry that never became available, or a "
        "reservation released. Reserved: points held for an order at the till "
        "until it is paid. Owed: points a return could not take back because "
        "they were spent; the next points earned pay them back.",
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
    # found through the unique (company, key) index and, for a key alone or its
    # prefix, the text_pattern_ops index made in init(): no third index to
    # maintain on every posting
    idempotency_key = fields.Char(readonly=True)
    counterpart_id = fields.Many2one(
        "loyalty.ledger",
        readonly=True,
        index="btree_not_null",
        help="The other side of a transfer, or the entry a reversal reverses.",
    )
    user_id = fields.Many2one(
        "res.users", string="By", readonly=True, default=lambda self: self.env.user
    )
    pos_order_uuid = fields.Char(
        string="Till Order",
        readonly=True,
        index="btree_not_null",
        help="The till's identifier of the order the entry belongs to (set when "
        "the points are reserved, before the order exists on the server).",
    )
    pos_session_id = fields.Many2one(
        "pos.session",
        string="Till Session",
        readonly=True,
        index="btree_not_null",
        help="The till session that reserved these points: only that till (or a "
        "manager) confirms or releases them.",
    )
    lot_closing = fields.Boolean(
        readonly=True,
        help="The entry takes its points from the lot it names (counterpart): a "
        "return takes back its own purchase's points, not the oldest ones.",
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
            "debt_state",
            "CHECK ((entry_type = 'debt') = (state = 'debt'))",
            "Debts and only debts are owed.",
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
        # it serves a key alone too: the plain index of earlier versions goes
        # (Odoo keeps an index a field no longer asks for)
        drop_index(self.env.cr, "loyalty_ledger__idempotency_key_index", self._table)
        # entries of till orders written before they named their order
        self.env.cr.execute(
            """
            UPDATE loyalty_ledger
               SET pos_order_uuid = split_part(idempotency_key, '/', 2)
             WHERE pos_order_uuid IS NULL AND idempotency_key LIKE 'pos.order/%%'
            """
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
        if vals["state"] in ("available", "cancelled"):
            # points came (back) into the balance: they pay debts first
            self._pay_debts(self.card_id)
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
        """Lock the cards' rows until the transaction ends (id order: no deadlock).

        The query that locks them reads their columns too: what is cached of the
        cards afterwards (balance, debt and state: a concurrent block or
        replacement) is what they hold under the lock, whatever was cached
        before, without reading them again."""
        if cards:
            self._read_cards_where(SQL("c.id IN %s", tuple(cards.ids)), lock=True)

    @api.model
    def _read_cards_where(
        self, condition, lock=False, member_fields=(), pending=False, program=False
    ):
        """The cards matching the SQL ``condition`` (on the card ``c`` and, when
        ``member_fields`` are asked, its member ``p``), read in one query and put
        in cache: their columns, ``member_fields`` of their member, with
        ``pending`` their pending points, with ``program`` their program's
        columns (joined only when asked: locking the cards of a till's orders or
        of a nightly batch reads the cards alone). ``lock``: their rows
        are locked until the transaction ends, in id order, and what is cached
        of them is what they hold under the lock (:meth:`_lock_cards`)."""
        Card, Partner = self.env["loyalty.card"], self.env["res.partner"]
        self.env.flush_all()
        card_columns = self._loyalty_cached_columns("loyalty.card")
        member_columns = [Partner._fields[name] for name in member_fields]
        terms = [SQL("c.%s", SQL.identifier(field.name)) for field in card_columns]
        if member_columns:
            terms.append(SQL("p.id"))
            terms += [SQL("p.%s", SQL.identifier(f.name)) for f in member_columns]
        program_columns = (
            self._loyalty_cached_columns("loyalty.program") if program else []
        )
        if program_columns:
            terms.append(SQL("g.id"))
            terms += [SQL("g.%s", SQL.identifier(f.name)) for f in program_columns]
        if pending:
            terms.append(
                SQL(
                    "(SELECT COALESCE(SUM(l.points), 0) FROM loyalty_ledger l"
                    " WHERE l.card_id = c.id AND l.state = 'pending')"
                )
            )
        joins = []
        if member_columns:
            joins.append(SQL("LEFT JOIN res_partner p ON p.id = c.partner_id"))
        if program_columns:
            joins.append(SQL("LEFT JOIN loyalty_program g ON g.id = c.program_id"))
        rows = self.env.execute_query(
            SQL(
                "SELECT c.id, %s FROM loyalty_card c %s WHERE %s ORDER BY c.id %s",
                SQL(", ").join(terms),
                SQL(" ").join(joins),
                condition,
                SQL("FOR NO KEY UPDATE OF c") if lock else SQL(),
            )
        )
        cards = Card.browse([row[0] for row in rows])
        if lock:
            cards.invalidate_recordset()
        self._loyalty_cache_rows(cards, card_columns, rows)
        split = len(card_columns) + 1
        if member_columns:
            members = [row[split : split + 1 + len(member_columns)] for row in rows]
            members = [row for row in members if row[0]]
            self._loyalty_cache_rows(
                Partner.browse([row[0] for row in members]), member_columns, members
            )
            split += 1 + len(member_columns)
        if program_columns:
            programs = [row[split : split + 1 + len(program_columns)] for row in rows]
            programs = [row for row in programs if row[0]]
            self._loyalty_cache_rows(
                self.env["loyalty.program"].browse([row[0] for row in programs]),
                program_columns,
                programs,
            )
        if pending:
            self.env.cache.update(
                cards, Card._fields["points_pending"], [float(row[-1]) for row in rows]
            )
        return cards

    @api.model
    def _entry_vals(
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
        amount=0.0,
        coalition_partner=None,
        pos_order_uuid=None,
        pos_session=None,
        lot_closing=False,
    ):
        """The values of one entry, checked: every posting path (one entry, a
        cron's batch) builds its entries here, so the rules are the same.

        - the sign of each type is enforced; a debt is always ``debt`` state;
        - points added as a lot (accrual, bonus, positive adjustment) expire under
          the program's policy unless the caller gives the lot's own date;
        - the coalition partner that caused the entry is an argument; a
          correcting entry (reversal, debt) inherits it from what it corrects.
        """
        if not (math.isfinite(points or 0.0) and math.isfinite(amount or 0.0)):
            raise UserError(_("A ledger entry's points and amount must be numbers."))
        points = round(points or 0.0, POINTS_DIGITS[1])
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
        if entry_type == "debt":
            state = DEBT_STATE
        state = state or ("available" if points > 0 else "posted")
        if not points:
            state = "posted"
        if expiry_date is None and entry_type in EXPIRING_TYPES and points > 0:
            expiry_date = card.program_id._loyalty_expiry_date()
        if coalition_partner is None and counterpart:
            coalition_partner = counterpart.coalition_partner_id
        return {
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
            "coalition_partner_id": coalition_partner and coalition_partner.id,
            "pos_order_uuid": pos_order_uuid or False,
            "pos_session_id": pos_session and pos_session.id,
            "lot_closing": lot_closing,
        }

    @api.model
    def _create_entries(self, vals_list, in_sql=False):
        """Append the entries (``_entry_vals`` dicts).

        ``in_sql``: one ``INSERT ... SELECT`` (what every posting does, one entry
        or an import's 100,000 opening balances) that takes the card's member,
        program and company from the card (the entry's stored related fields) and
        rounds a purchase amount in the program's currency, as the ORM's create
        would store them, without its per-record work; the new entries' columns
        come back with the insert and are put in cache, as the ORM's create puts
        them (``test_ledger_sql.py`` compares the two). Without it, the ORM's
        create (the reference)."""
        if not in_sql or not vals_list:
            return self.sudo().with_context(_loyalty_ledger_post=True).create(vals_list)
        related = {"partner_id", "program_id", "company_id"}
        fields_ = self._fields
        common = {"date": fields.Datetime.now(), "user_id": self.env.user.id}
        vals_list = [dict(common, **vals) for vals in vals_list]
        names = sorted({name for vals in vals_list for name in vals} - related)

        def column(name, vals):
            if name == "amount":  # rounded in the currency by the query
                return float(vals.get(name) or 0.0)
            return fields_[name].convert_to_column_insert(vals.get(name), self, vals)

        rows = [tuple(column(name, vals) for name in names) for vals in vals_list]
        stored = self._loyalty_cached_columns()
        # not looked for before (see _existing): an entry that has it is a replay
        fresh_key = self.env.context.get("loyalty_ledger_fresh_key")
        fresh_key = bool(fresh_key) and fresh_key in {
            vals.get("idempotency_key") for vals in vals_list
        }
        self.env.flush_all()
        values = []
        for name in names:
            value = SQL(
                "v.%s::%s", SQL.identifier(name), SQL(fields_[name].column_type[1])
            )
            if name == "amount":
                # Odoo's currency.round(): to the currency's rounding, half away
                # from zero, with its number of decimals
                value = SQL(
                    "COALESCE(ROUND(ROUND(%(v)s / cur.rounding) * cur.rounding,"
                    " cur.decimal_places), %(v)s)",
                    v=value,
                )
            values.append(value)
        rows = self.env.execute_query(
            SQL(
                """
                INSERT INTO loyalty_ledger (%(columns)s, partner_id, program_id,
                                            company_id, create_uid, create_date,
                                            write_uid, write_date)
                SELECT %(values)s, c.partner_id, c.program_id, c.company_id,
                       %(uid)s, now() at time zone 'utc',
                       %(uid)s, now() at time zone 'utc'
                  FROM (VALUES %(rows)s) AS v(%(columns)s)
                  JOIN loyalty_card c ON c.id = v.card_id
                  JOIN loyalty_program p ON p.id = c.program_id
             LEFT JOIN res_currency cur ON cur.id = p.currency_id
              ORDER BY v.card_id
                    %(fresh_key)s
             RETURNING id, %(stored)s
                """,
                columns=SQL(", ").join(SQL.identifier(name) for name in names),
                values=SQL(", ").join(values),
                rows=SQL(", ").join(rows),
                uid=self.env.uid,
                stored=SQL(", ").join(SQL.identifier(field.name) for field in stored),
                fresh_key=SQL(
                    "ON CONFLICT (company_id, idempotency_key) DO NOTHING"
                    if fresh_key
                    else ""
                ),
            )
        )
        if len(rows) < len(vals_list):  # an entry has the fresh key already
            raise LoyaltyKeyTaken()
        entries = self.browse([row[0] for row in rows])
        # the new entries are not in what is cached of their card's one2many (or
        # any other inverse): it is read again when asked for (invalidating it
        # also drops the cached inverse of every entry, so before the rows are
        # cached, and only where it is cached)
        for index, field in enumerate(stored, 1):
            for inverse in self.pool.field_inverses[field]:
                if inverse.model_name not in self.env:
                    continue
                targets = self.env[inverse.model_name].browse(
                    {row[index] for row in rows} - {None}
                )
                cached = targets & self.env.cache.get_records(targets, inverse)
                cached.invalidate_recordset([inverse.name])
        self._loyalty_cache_rows(entries, stored, rows)
        # the values just stored are not to be recomputed (the related
        # partner, program and company came from the card with the insert)
        with self.env.protecting(stored, entries):
            entries.modified([field.name for field in stored], create=True)
        return entries

    @api.model
    def _loyalty_cached_columns(self, model=None):
        """The stored columns of ``model`` (the ledger by default) that a query's
        rows can put in cache as they are."""
        model = self.env[model or self._name]
        return [
            field
            for field in model._fields.values()
            if field.store
            and field.column_type
            and field.name != "id"
            and not field.translate
            and not field.company_dependent
            and field.type not in ("binary", "properties")
        ]

    @api.model
    def _loyalty_cache_rows(self, records, columns, rows):
        """Put the ``rows`` (``id``, then ``columns``) of ``records`` in cache,
        where nothing newer is cached."""
        for index, field in enumerate(columns, 1):
            self.env.cache.insert_missing(records, field, [row[index] for row in rows])

    @api.model
    def _post(
        self, card, points, entry_type, *, allow_inactive=False, locked=False, **kwargs
    ):
        """Append an entry to ``card``'s ledger and update its balance.

        The card's row is locked first, so the balance check and the new entry
        happen atomically with respect to every other posting on the card
        (``locked``: the caller has just locked it, with :meth:`_lock_cards`, in
        the same transaction and savepoint, and checked it under the lock).
        Raises ``UserError`` when the card can't take the entry (blocked card,
        balance that would become negative) and writes nothing in that case.
        Points added to the balance pay the card's debt back first.
        Keyword arguments: see :meth:`_entry_vals`.
        """
        card.ensure_one()
        if not card.program_id.is_bonus_program:
            raise UserError(_("Card %(code)s is not a bonus card.", code=card.code))
        vals = self._entry_vals(card, points, entry_type, **kwargs)
        if not locked:
            self._lock_cards(card)
        if not allow_inactive and card.loyalty_state not in ("issued", "active"):
            raise UserError(
                _(
                    "Card %(code)s is %(state)s: it cannot be used.",
                    code=card.code,
                    state=card._loyalty_state_label(),
                )
            )
        points = vals["points"]
        if vals["state"] in BALANCE_STATES and points < 0:
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
        entry = self._create_entries([vals], in_sql=True)
        card._loyalty_sync_points()
        if points > 0 and vals["state"] in BALANCE_STATES:
            self._pay_debts(card)
        return entry

    @api.model
    def _post_bulk(self, vals_list, in_sql=False):
        """Post many entries at once (nightly jobs, campaigns): ``vals_list`` are
        :meth:`_entry_vals` dicts. The cards are locked in id order, entries whose
        idempotency key exists already are skipped (a rerun posts nothing twice),
        balances are synced and debts paid back in a few statements.
        Only entries that add points or that the caller checked against the
        balance under the lock (expiry of open lots) may come this way.

        ``in_sql``: the entries are inserted and the balances synced in one
        statement each, without the ORM's per-record work (an import of 100,000
        opening balances); the entries are the same ``_entry_vals`` dicts."""
        if not vals_list:
            return self.browse()
        cards = self.env["loyalty.card"].browse({v["card_id"] for v in vals_list})
        self._lock_cards(cards)
        keys = [v["idempotency_key"] for v in vals_list if v.get("idempotency_key")]
        if keys:
            self.env.flush_all()
            done = {
                (company_id, key)
                for company_id, key in self.env.execute_query(
                    SQL(
                        "SELECT company_id, idempotency_key FROM loyalty_ledger"
                        " WHERE idempotency_key IN %s",
                        tuple(keys),
                    )
                )
            }
            company = {card.id: card.company_id.id for card in cards}
            vals_list = [
                v
                for v in vals_list
                if (company[v["card_id"]], v.get("idempotency_key")) not in done
            ]
        entries = self._create_entries(vals_list, in_sql=in_sql)
        cards._loyalty_sync_points(in_sql=in_sql)
        self._pay_debts(entries.filtered(lambda e: e.points > 0).card_id)
        return entries

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

    # ------------------------------------------------------------ debts
    @api.model
    def _take(self, card, points, entry_type, *, idempotency_key=None, **kwargs):
        """Take ``points`` (> 0) off ``card``: what the balance holds now is taken,
        the rest becomes a debt that the next points pay back. A clawback is
        never forgiven because the points were spent, reserved or moved.
        Returns the entries (the taking entry first, if any)."""
        self._lock_cards(card)
        points = round(points, 2)
        take = round(min(points, max(card.points, 0.0)), 2)
        entries = self.browse()
        if take > 0 or (entry_type == "reversal" and kwargs.get("amount")):
            entries |= self._post(
                card,
                -take,
                entry_type,
                idempotency_key=idempotency_key,
                allow_inactive=True,
                **kwargs,
            )
        owed = round(points - take, 2)
        if owed > 0:
            kwargs.pop("amount", None)
            kwargs.pop("lot_closing", None)
            kwargs.pop("expiry_date", None)
            # owed for what it corrects, or for what was taken in part
            kwargs["counterpart"] = kwargs.get("counterpart") or entries[:1] or None
            entries |= self._post(
                card,
                -owed,
                "debt",
                idempotency_key=idempotency_key and f"{idempotency_key}/debt",
                allow_inactive=True,
                **kwargs,
            )
        return entries

    @api.model
    def _pay_debts(self, cards):
        """Points of the balance pay the cards' debts back (under their locks)."""
        cards = cards.filtered("loyalty_debt")
        for card in cards:
            pay = round(min(card.loyalty_debt, card.points), 2)
            if pay > 0:
                self._post(
                    card,
                    -pay,
                    "repayment",
                    reason=_("Points owed paid back"),
                    allow_inactive=True,
                )

    # ------------------------------------------------------------ transactions
    # What every channel (API, POS, back office) does with a card, with the
    # refusal codes of the API contract. Each takes an idempotency key: replaying
    # the same operation returns the first entry and writes nothing.
    @api.model
    def _check_card_usable(self, card):
        self.env["loyalty.settlement"]._check_card_usable(card)

    @api.model
    def _existing(self, card, idempotency_key):
        """The entry posted with ``idempotency_key``, or nothing. A key the caller
        has just claimed in this transaction under a unique index of its own
        (context ``loyalty_ledger_fresh_key``: the HTTP API's) is not looked
        for: should an entry have it all the same, the entry's own unique index
        does not take the new one (:class:`LoyaltyKeyTaken`), and the caller
        asks again without the shortcut."""
        if not idempotency_key:
            raise LoyaltyError("validation_error", _("An idempotency key is required."))
        if idempotency_key == self.env.context.get("loyalty_ledger_fresh_key"):
            return self.browse()
        return self.sudo().search(
            [
                ("company_id", "=", card.company_id.id),
                ("idempotency_key", "=", idempotency_key),
            ],
            limit=1,
        )

    @api.model
    def _accrue_purchase(
        self,
        card,
        amount,
        idempotency_key,
        lines=None,
        reference=None,
        source=None,
        coalition_partner=None,
        pos_order_uuid=None,
        locked=False,
    ):
        """Points for a purchase of ``amount``, from the program's rules.

        ``lines`` (optional) are ``(product, qty, amount)``, their amounts the
        ones the server verified; without them the whole amount earns at the
        program's general rules. Pending for the program's return window; the
        card is activated, the member's tier and referral bonus follow (on the
        same amount). ``locked``: see :meth:`_post`.
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
            lines, multiplier=program._loyalty_tier_multiplier(member.loyalty_tier_id)
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
            coalition_partner=coalition_partner,
            pos_order_uuid=pos_order_uuid,
            locked=locked,
        )
        card._loyalty_activate()
        if member:
            member._loyalty_update_tiers(allow_downgrade=False)
            member._loyalty_grant_referral_bonus(
                amount, source or member, coalition_partner=coalition_partner
            )
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
        coalition_partner=None,
        pos_order_uuid=None,
        pos_session=None,
        locked=False,
    ):
        """Spend ``points`` on an order of ``order_amount``, within the rules.

        ``state="reserved"`` holds the points for an order not paid yet (the
        till): they leave the balance at once and become ``posted`` when the
        order is paid (:meth:`_confirm_reservation`), or ``cancelled`` when the
        reservation is released. ``locked``: see :meth:`_post`.
        """
        existing = self._existing(card, idempotency_key)
        if existing:
            return existing
        self._check_card_usable(card)
        points = round(points or 0.0, 2)
        if not locked:
            self._lock_cards(card)
        self.env["loyalty.settlement"]._check_spend(card, points, order_amount)
        return self._post(
            card,
            -points,
            "redemption",
            locked=True,
            reason=reference or _("Redemption"),
            idempotency_key=idempotency_key,
            amount=order_amount,
            state=state,
            source=source,
            coalition_partner=coalition_partner,
            pos_order_uuid=pos_order_uuid,
            pos_session=pos_session,
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

    def _consumed_lots(self):
        """``[(points, expiry_date)]`` of the lots this spending entry took, in
        the order it took them (FIFO over the lots open just before it)."""
        self.ensure_one()
        need = -self.points
        taken = []
        for _lot, _card, points, expiry in self._open_lots(
            self.card_id, before_entry=self
        ):
            if need <= 0.005:
                break
            take = round(min(points, need), 2)
            taken.append((take, expiry))
            need = round(need - take, 2)
        if need > 0.005:
            # lots the current states no longer show (a pending lot released
            # since): the program's policy from today
            taken.append((need, self.card_id.program_id._loyalty_expiry_date()))
        return taken

    def _reverse(
        self,
        idempotency_key,
        amount=None,
        share=None,
        reason=None,
        source=None,
        pos_order_uuid=None,
    ):
        """Reverse an accrual or a redemption, in full, for a returned ``amount``
        or for a ``share`` (0-1) of it. Only settled entries (pending, available,
        posted) are reversed, never a reservation, and never more than once.

        An accrual gives back that share of its points: pending points are
        cancelled and re-issued for the rest; available points are taken from
        the purchase's own lot, and what was spent already becomes a debt. A
        redemption gives its points back with the expiry dates of the lots it
        took. Reversals land on the member's current card (a replaced card's
        history follows the member) and keep the source document of what they
        reverse (or ``source``, the return). Returns the entries written, the
        main one first.
        """
        self.ensure_one()
        card = self.card_id._loyalty_current_card()
        existing = self._existing(card, idempotency_key)
        if existing:
            return existing
        if self.state == "cancelled":
            # a pending accrual partly returned (or moved to a new card) lives on
            # in its re-issued rest
            rest = self.sudo().search(
                [("counterpart_id", "=", self.id), ("entry_type", "=", "accrual")],
                limit=1,
            )
            if rest:
                return rest._reverse(
                    idempotency_key,
                    amount=amount,
                    share=share,
                    reason=reason,
                    source=source,
                    pos_order_uuid=pos_order_uuid,
                )
        if self.entry_type not in ("accrual", "redemption"):
            raise LoyaltyError(
                "validation_error", _("Only accruals and redemptions can be reversed.")
            )
        if self.state not in ("pending", "available", "posted"):
            raise LoyaltyError(
                "validation_error",
                _(
                    "Only settled transactions can be reversed: this one is %(state)s.",
                    state=dict(self._fields["state"]._description_selection(self.env))[
                        self.state
                    ],
                ),
            )
        self._lock_cards(self.card_id | card)
        done = self.sudo().search(
            [
                ("counterpart_id", "=", self.id),
                ("entry_type", "in", ("reversal", "debt")),
            ]
        )
        reversed_amount = -sum(done.mapped("amount"))
        base = self.amount or 0.0
        if base and reversed_amount >= base - 0.005:
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
        moved = round(sum(abs(p) for p in done.mapped("points")), 2)
        left = round(abs(self.points) - moved, 2)
        if self.entry_type == "redemption" and left <= 0:
            raise LoyaltyError(
                "already_reversed", _("This transaction was already reversed.")
            )
        points = min(round(abs(self.points) * share, 2), left) if partial else left
        source = source or (
            self.res_model and self.env[self.res_model].browse(self.res_id)
        )
        common = {
            "source": source,
            "counterpart": self,
            # the till order that returned it (or the one it reverses)
            "pos_order_uuid": pos_order_uuid or self.pos_order_uuid,
        }
        if self.entry_type == "redemption":
            return self._give_back_lots(
                card, points, moved, idempotency_key, returned, reason, common
            )
        if self.state == "pending":
            self.write({"state": "cancelled"})
            keep = round(self.points - points, 2)
            if keep > 0:
                self._post(
                    self.card_id,
                    keep,
                    "accrual",
                    state="pending",
                    available_date=self.available_date,
                    expiry_date=self.expiry_date,
                    reason=self.reason,
                    allow_inactive=True,
                    idempotency_key=f"{idempotency_key}/pending",
                    amount=round(base - reversed_amount - returned, 2),
                    **common,
                )
            points = 0.0
        if not points and not returned:
            return self.browse()  # nothing left to move or to record
        return self._take(
            card,
            points,
            "reversal",
            reason=reason or _("Purchase returned"),
            idempotency_key=idempotency_key,
            amount=-returned,
            # from the purchase's own lot, not the oldest points
            lot_closing=card == self.card_id,
            **common,
        )

    def _give_back_lots(self, card, points, given, key, returned, reason, common):
        """Give back ``points`` of this redemption, skipping the ``given`` points
        earlier partial reversals gave: the latest-expiring lots it took first,
        each with its own expiry date (a lot that has expired since expires at
        the next nightly run)."""
        lots = list(reversed(self._consumed_lots()))
        vals = []
        for lot_points, expiry in lots:
            skip = min(given, lot_points)
            given = round(given - skip, 2)
            lot_points = round(min(lot_points - skip, points), 2)
            if lot_points <= 0:
                continue
            vals.append((lot_points, expiry))
            points = round(points - lot_points, 2)
            if points <= 0:
                break
        if points > 0:  # rounding: with the last lot's date
            vals.append((points, vals[-1][1] if vals else None))
        entries = self.browse()
        for index, (lot_points, expiry) in enumerate(vals):
            entries |= self._post(
                card,
                lot_points,
                "reversal",
                reason=reason or _("Redemption reversed"),
                idempotency_key=key if not index else f"{key}/{index + 1}",
                amount=-returned if not index else 0.0,
                expiry_date=expiry or False,
                allow_inactive=True,
                **common,
            )
        return entries

    # ------------------------------------------------------------ lots (FIFO)
    @api.model
    def _open_lots(self, cards=None, expired_before=None, before_entry=None):
        """Points still open in each lot, consumed oldest first (FIFO).

        A lot is a positive entry that counts in the balance. Spending entries
        (any negative entry but one that closes a lot) consume the lots in order
        of expiry then date; an expiry entry, and a return's reversal
        (``lot_closing``), closes the lot it names (``counterpart_id``).
        Nothing is stored: the open points are derived from the immutable
        ledger. Returns ``[(lot_id, card_id, open_points, expiry_date)]`` for
        lots with points left (of ``cards``, or all; expiring before a date; as
        they were just before the entry ``before_entry``).
        """
        self.env.flush_all()
        card_filter = SQL("AND l.card_id IN %s", tuple(cards.ids)) if cards else SQL()
        if before_entry:
            card_filter = SQL("%s AND l.id < %s", card_filter, before_entry.id)
        rows = self.env.execute_query(
            SQL(
                """
                WITH lots AS (
                    SELECT l.id, l.card_id, l.expiry_date, l.date,
                           l.points + COALESCE(x.closed, 0) AS points
                      FROM loyalty_ledger l
                 LEFT JOIN (SELECT counterpart_id, SUM(points) AS closed
                              FROM loyalty_ledger l
                             WHERE counterpart_id IS NOT NULL AND points < 0
                               AND state IN %(counted)s
                               AND (entry_type = 'expiry' OR lot_closing)
                                   %(card_filter)s
                          GROUP BY counterpart_id) x ON x.counterpart_id = l.id
                     WHERE l.points > 0 AND l.state IN %(counted)s %(card_filter)s
                ), spent AS (
                    SELECT card_id, -SUM(points) AS points
                      FROM loyalty_ledger l
                     WHERE l.points < 0 AND l.state IN %(counted)s
                       AND l.entry_type <> 'expiry' AND l.lot_closing IS NOT TRUE
                           %(card_filter)s
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
    def _cron_release_pending(self, batch_size=1000):
        """Pending points whose return window is over become available (once).

        Works per batch of cards, like :meth:`_cron_expire`: the cards are
        locked, their due entries found again under the lock and released, the
        balances synced; each batch is committed with ``loyalty_cron_commit``,
        and forgotten by the ORM cache (memory flat in the size of the base).
        """
        today = fields.Date.context_today(self)
        domain = [("state", "=", "pending"), ("available_date", "<=", today)]
        self.env.flush_all()
        card_ids = sorted(
            card.id for [card] in self.sudo()._read_group(domain, ["card_id"])
        )
        Card = self.env["loyalty.card"]
        released = []
        for start in range(0, len(card_ids), batch_size):
            cards = Card.browse(card_ids[start : start + batch_size])
            self._lock_cards(cards)
            pending = self.sudo().search([("card_id", "in", cards.ids), *domain])
            pending.write({"state": "available"})
            released += pending.ids
            if self.env.context.get("loyalty_cron_commit"):
                self.env.cr.commit()  # pylint: disable=invalid-commit
            self.env.flush_all()
            self.env.invalidate_all()
        return self.browse(released)

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
    def _loyalty_check_invariants(self):
        """What must always hold in the ledger, one SQL query per invariant.

        Returns ``{invariant: rows}`` for the invariants that are broken (an
        empty dict when all hold):

        - ``balance_mismatch``: ``(card_id, card_points, ledger_points)``, a
          bonus card whose ``points`` differ from the sum of its ledger;
        - ``negative_balance``: ``(card_id, ledger_points)``, a bonus card whose
          ledger sums (available, posted and reserved points) below zero;
        - ``lot_without_expiry``: ``(entry_id, card_id, entry_type, points)``,
          on a program whose points expire, an entry adding points (pending,
          available or posted) without an expiry date: points that would never
          expire;
        - ``stale_reservation``: ``(entry_id, card_id, date)``, points reserved
          for a till's order more than a day ago and still neither paid nor
          released;
        - ``reservation_after_session``: ``(entry_id, card_id, session_id)``,
          points still reserved by a till session that is closed;
        - ``debt_mismatch``: ``(card_id, card_debt, ledger_debt)``, a card whose
          points owed differ from its debt and repayment entries;
        - ``unattributed_partner_entry``: ``(entry_id, card_id, partner_id)``, an
          entry the settlement counts that a coalition partner's key caused (its
          API user posted it, or it corrects one of the partner's entries) and
          that does not name the partner.
        """
        self.env.flush_all()
        found = {"balance_mismatch": self._loyalty_find_mismatches()}
        found["negative_balance"] = [
            (card_id, float(total))
            for card_id, total in self.env.execute_query(
                SQL(
                    """
                SELECT l.card_id, SUM(l.points)
                  FROM loyalty_ledger l
                  JOIN loyalty_program p ON p.id = l.program_id AND p.is_bonus_program
                 WHERE l.state IN %s
              GROUP BY l.card_id
                HAVING ROUND(SUM(l.points)::numeric, 2) < 0
                    """,
                    BALANCE_STATES,
                )
            )
        ]
        found["lot_without_expiry"] = [
            (entry_id, card_id, entry_type, float(points))
            for entry_id, card_id, entry_type, points in self.env.execute_query(
                SQL(
                    """
                SELECT l.id, l.card_id, l.entry_type, l.points
                  FROM loyalty_ledger l
                  JOIN loyalty_program p ON p.id = l.program_id AND p.is_bonus_program
                 WHERE p.points_lifetime <> 'none' AND l.points > 0
                   AND l.state IN %s AND l.expiry_date IS NULL
              ORDER BY l.id
                    """,
                    (*BALANCE_STATES, "pending"),
                )
            )
        ]
        found["stale_reservation"] = self.env.execute_query(
            SQL(
                """
                SELECT l.id, l.card_id, l.date
                  FROM loyalty_ledger l
                 WHERE l.state = 'reserved' AND l.date < %s
              ORDER BY l.id
                """,
                fields.Datetime.now() - timedelta(days=1),
            )
        )
        found["reservation_after_session"] = self.env.execute_query(
            SQL(
                """
                SELECT l.id, l.card_id, l.pos_session_id
                  FROM loyalty_ledger l
                  JOIN pos_session s ON s.id = l.pos_session_id
                 WHERE l.state = 'reserved' AND s.state = 'closed'
              ORDER BY l.id
                """
            )
        )
        found["debt_mismatch"] = [
            (card_id, float(debt), float(ledger))
            for card_id, debt, ledger in self.env.execute_query(
                SQL(
                    """
                SELECT c.id, COALESCE(c.loyalty_debt, 0), COALESCE(d.owed, 0)
                  FROM loyalty_card c
             LEFT JOIN (SELECT card_id,
                               COALESCE(-SUM(points) FILTER (
                                   WHERE entry_type = 'debt'), 0)
                               + COALESCE(SUM(points) FILTER (
                                   WHERE entry_type = 'repayment'
                                     AND state IN %s), 0) AS owed
                          FROM loyalty_ledger
                         WHERE entry_type IN ('debt', 'repayment')
                      GROUP BY card_id) d ON d.card_id = c.id
                 WHERE ROUND(COALESCE(c.loyalty_debt, 0)::numeric, 2)
                       <> ROUND(COALESCE(d.owed, 0)::numeric, 2)
                    """,
                    BALANCE_STATES,
                )
            )
        ]
        found["unattributed_partner_entry"] = self.env.execute_query(
            SQL(
                """
                SELECT l.id, l.card_id, COALESCE(cp.id, c.coalition_partner_id)
                  FROM loyalty_ledger l
             LEFT JOIN loyalty_coalition_partner cp ON cp.user_id = l.user_id
             LEFT JOIN loyalty_ledger c ON c.id = l.counterpart_id
                 WHERE l.coalition_partner_id IS NULL
                   -- what the settlement counts (moves inside a card are not)
                   AND l.entry_type NOT IN ('transfer', 'repayment', 'expiry')
                   AND (cp.id IS NOT NULL
                        OR (c.coalition_partner_id IS NOT NULL
                            AND l.entry_type IN ('reversal', 'debt')))
              ORDER BY l.id
                """
            )
        )
        return {name: rows for name, rows in found.items() if rows}

    @api.model
    def _cron_reconcile(self):
        """Nightly: check the ledger's invariants and log every breach as an error
        (at most 100 lines per invariant). Returns what
        :meth:`_loyalty_check_invariants` found."""
        found = self._loyalty_check_invariants()
        messages = {
            "balance_mismatch": "Bonus card %s holds %s points but its ledger sums "
            "to %s",
            "negative_balance": "Bonus card %s: its ledger sums to %s points, below "
            "zero",
            "lot_without_expiry": "Ledger entry %s (card %s, %s of %s points) adds "
            "points without an expiry date on a program whose points expire",
            "stale_reservation": "Ledger entry %s reserves points of card %s since "
            "%s: neither paid nor released",
            "reservation_after_session": "Ledger entry %s reserves points of card "
            "%s for till session %s, which is closed",
            "debt_mismatch": "Bonus card %s owes %s points but its ledger says %s",
            "unattributed_partner_entry": "Ledger entry %s (card %s) was caused by "
            "coalition partner %s but is not attributed to it",
        }
        for name, rows in found.items():
            for row in rows[:100]:
                _logger.error(messages[name], *row)
            if len(rows) > 100:
                _logger.error(
                    "Ledger invariant %s: %s more breaches not listed",
                    name,
                    len(rows) - 100,
                )
        return found

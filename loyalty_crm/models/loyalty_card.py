import secrets

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tools import SQL
from odoo.tools.barcode import get_barcode_check_digit

from .loyalty_ledger import BALANCE_STATES

CARD_STATES = [
    ("issued", "Issued (not activated)"),
    ("active", "Active"),
    ("blocked", "Blocked"),
    ("lost", "Lost"),
    ("replaced", "Replaced"),
]
USABLE_STATES = ("issued", "active")
# What makes a bonus card: who holds it, in which program, its number, its state
# and balance. Only the addon's own actions (enrolment, block/unblock wizards,
# replacement, the ledger) change them, with superuser rights after their checks.
PROTECTED_CARD_FIELDS = frozenset(
    {
        "partner_id",
        "program_id",
        "code",
        "points",
        "loyalty_debt",
        "loyalty_state",
        "loyalty_state_reason",
        "loyalty_state_user_id",
        "loyalty_state_date",
        "replaced_by_id",
        "replaces_id",
        "activation_date",
        "active",
        "company_id",
        "expiration_date",
    }
)
# Member cards are EAN-13 numbers starting with 043 (Odoo's loyalty barcode rule).
CARD_PREFIX = "043"


class LoyaltyCard(models.Model):
    _inherit = "loyalty.card"

    is_bonus_card = fields.Boolean(
        related="program_id.is_bonus_program", store=True, string="Bonus Card"
    )
    loyalty_state = fields.Selection(
        CARD_STATES,
        string="Card State",
        default="active",
        required=True,
        index=True,
        tracking=True,
        copy=False,
    )
    loyalty_state_reason = fields.Char(string="State Reason", tracking=True, copy=False)
    loyalty_state_user_id = fields.Many2one(
        "res.users", string="State Changed By", readonly=True, copy=False
    )
    loyalty_state_date = fields.Datetime(
        string="State Changed On", readonly=True, copy=False
    )
    replaced_by_id = fields.Many2one(
        "loyalty.card",
        string="Replaced By",
        readonly=True,
        copy=False,
        index="btree_not_null",
    )
    replaces_id = fields.Many2one(
        "loyalty.card",
        string="Replaces",
        readonly=True,
        copy=False,
        index="btree_not_null",
    )
    activation_date = fields.Datetime(readonly=True, copy=False)
    ledger_ids = fields.One2many(
        "loyalty.ledger", "card_id", string="Ledger", readonly=True
    )
    ledger_history_ids = fields.Many2many(
        "loyalty.ledger",
        compute="_compute_ledger_history_ids",
        string="Points History",
        help="Ledger of this card and of the cards it replaced.",
    )
    points_pending = fields.Float(
        string="Pending Points", compute="_compute_points_pending", digits=(16, 2)
    )
    loyalty_debt = fields.Float(
        string="Points Owed",
        digits=(16, 2),
        readonly=True,
        copy=False,
        help="Points a return or a cancellation could not take back because they "
        "were already spent: the next points the card receives pay them back first.",
    )

    _sql_constraints = [
        (
            "bonus_points_not_negative",
            "CHECK (is_bonus_card IS NOT TRUE OR points >= 0)",
            "A bonus card's balance cannot be negative.",
        ),
        (
            "loyalty_debt_not_negative",
            "CHECK (loyalty_debt IS NULL OR loyalty_debt >= 0)",
            "A card cannot owe a negative number of points.",
        ),
    ]

    @api.depends("ledger_ids", "replaces_id.ledger_ids")
    def _compute_ledger_history_ids(self):
        for card in self:
            chain = card
            while chain[-1:].replaces_id and chain[-1].replaces_id not in chain:
                chain |= chain[-1].replaces_id
            card.ledger_history_ids = self.env["loyalty.ledger"].search(
                [("card_id", "in", chain.ids)]
            )

    @api.depends("ledger_ids.state", "ledger_ids.points")
    def _compute_points_pending(self):
        # also summed by _loyalty_sync_points, after each posting
        groups = self.env["loyalty.ledger"]._read_group(
            [("card_id", "in", self.ids), ("state", "=", "pending")],
            ["card_id"],
            ["points:sum"],
        )
        pending = {card.id: total for card, total in groups}
        for card in self:
            card.points_pending = pending.get(card.id, 0.0)

    def _loyalty_state_label(self):
        self.ensure_one()
        return dict(self._fields["loyalty_state"]._description_selection(self.env))[
            self.loyalty_state
        ]

    # ------------------------------------------------------------ guarded points
    def _loyalty_refuse_points_write(self):
        if not (self.env.su and self.env.context.get("_loyalty_ledger_sync")):
            raise AccessError(
                _(
                    "The points of a bonus card change only through its ledger. "
                    "A Loyalty Manager can post an adjustment with a reason "
                    "(Update Balance on the card)."
                )
            )

    def _loyalty_refuse_protected_write(self, vals, new_program=None):
        """Refuse a direct write (RPC, Odoo's own coupon screens) of what makes a
        bonus card, and turning another card into one: only the addon's actions
        change them. Coupons and gift cards keep Odoo's behaviour."""
        if self.env.su or not PROTECTED_CARD_FIELDS.intersection(vals):
            return
        if any(self.sudo().mapped("is_bonus_card")) or (
            new_program and new_program.sudo().is_bonus_program
        ):
            raise AccessError(
                _(
                    "A bonus card's member, program, number, state and points change "
                    "only through the card's actions (enrolment, Block, Unblock, "
                    "Lost / Replace) and the points ledger."
                )
            )

    @api.model
    def _loyalty_generate_card_codes(self, count):
        """``count`` unused EAN-13 card numbers: 043, 9 random digits, check digit."""
        codes = set()
        while len(codes) < count:
            candidates = set()
            while len(candidates) < count - len(codes):
                body = CARD_PREFIX + "".join(
                    secrets.choice("0123456789") for _i in range(9)
                )
                candidates.add(body + str(get_barcode_check_digit(body + "0")))
            used = (
                self.sudo()
                .with_context(active_test=False)
                .search([("code", "in", list(candidates))])
            )
            codes |= candidates - set(used.mapped("code"))
        return list(codes)

    @api.model_create_multi
    def create(self, vals_list):
        programs = (
            self.env["loyalty.program"]
            .sudo()
            .browse(
                [vals["program_id"] for vals in vals_list if vals.get("program_id")]
            )
        )
        bonus_ids = set(programs.filtered("is_bonus_program").ids)
        if bonus_ids and not self.env.su:
            raise AccessError(
                _(
                    "Bonus cards are issued by enrolling a member (or by replacing "
                    "a card); they cannot be created directly."
                )
            )
        need_code = [
            vals
            for vals in vals_list
            if vals.get("program_id") in bonus_ids and not vals.get("code")
        ]
        for vals, code in zip(
            need_code, self._loyalty_generate_card_codes(len(need_code)), strict=True
        ):
            vals["code"] = code
        for vals in vals_list:
            if (
                vals.get("loyalty_state") in ("active",)
                and "activation_date" not in vals
            ):
                vals["activation_date"] = fields.Datetime.now()
        cards = super().create(vals_list)
        if any(
            card.is_bonus_card and (card.points or card.loyalty_debt) for card in cards
        ):
            self._loyalty_refuse_points_write()
        cards.filtered("is_bonus_card")._loyalty_check_one_card_per_member()
        return cards

    def write(self, vals):
        self._loyalty_refuse_protected_write(
            vals,
            new_program=vals.get("program_id")
            and self.env["loyalty.program"].browse(vals["program_id"]),
        )
        if {"points", "loyalty_debt"} & set(vals) and any(self.mapped("is_bonus_card")):
            self._loyalty_refuse_points_write()
        if "loyalty_state" in vals:
            self._loyalty_check_state_change(vals["loyalty_state"])
            vals = dict(
                vals,
                loyalty_state_user_id=self.env.user.id,
                loyalty_state_date=fields.Datetime.now(),
            )
        res = super().write(vals)
        if {"partner_id", "loyalty_state", "program_id"} & set(vals):
            self.filtered("is_bonus_card")._loyalty_check_one_card_per_member()
        return res

    @api.ondelete(at_uninstall=False)
    def _unlink_except_bonus_history(self):
        if (
            self.env["loyalty.ledger"]
            .sudo()
            .search_count([("card_id", "in", self.ids)], limit=1)
        ):
            raise UserError(
                _("A card with ledger history cannot be deleted; block it instead.")
            )

    def _loyalty_check_state_change(self, new_state):
        for card in self.filtered("is_bonus_card"):
            if (
                card.loyalty_state in ("lost", "replaced")
                and new_state != card.loyalty_state
            ):
                raise UserError(
                    _(
                        "Card %(code)s was %(state)s: it can never be used again.",
                        code=card.code,
                        state=card._loyalty_state_label(),
                    )
                )

    def _loyalty_check_one_card_per_member(self):
        """A member holds at most one usable card per bonus program."""
        usable = self.filtered(
            lambda c: c.partner_id and c.loyalty_state in USABLE_STATES
        )
        if not usable:
            return
        self.flush_model(["partner_id", "program_id", "loyalty_state"])
        rows = self.env.execute_query(
            SQL(
                """
                SELECT partner_id, program_id FROM loyalty_card
                 WHERE partner_id IN %s AND program_id IN %s AND loyalty_state IN %s
                   AND active
              GROUP BY partner_id, program_id HAVING COUNT(*) > 1
                """,
                tuple(usable.partner_id.ids),
                tuple(usable.program_id.ids),
                USABLE_STATES,
            )
        )
        if rows:
            partner = self.env["res.partner"].browse(rows[0][0])
            raise ValidationError(
                _(
                    "%(member)s already has a card in this bonus program.",
                    member=partner.display_name,
                )
            )

    def _loyalty_sync_points(self, in_sql=False):
        """Set ``points`` (and ``loyalty_debt``) to the sums of the ledger (called
        by the ledger only). ``in_sql``: in one ``UPDATE`` of the cards whose
        sums changed, without the ORM's write (no chatter, no "points reached"
        communication: a set-based posting such as an import's openings). The
        pending points (``points_pending``, computed) are summed by the same
        query and kept in cache: the answer to a posting shows them without
        reading the ledger again."""
        if not self:
            return
        self.env["loyalty.ledger"].flush_model()
        totals = SQL(
            """
            SELECT c.id,
                   COALESCE(SUM(l.points) FILTER (WHERE l.state IN %s), 0) AS total,
                   COALESCE(-SUM(l.points) FILTER (WHERE l.entry_type = 'debt'), 0)
                   + COALESCE(SUM(l.points) FILTER (
                                WHERE l.entry_type = 'repayment'
                                  AND l.state IN %s), 0) AS debt,
                   COALESCE(SUM(l.points) FILTER (WHERE l.state = 'pending'), 0)
                   AS pending
              FROM loyalty_card c
         LEFT JOIN loyalty_ledger l ON l.card_id = c.id
             WHERE c.id IN %s
          GROUP BY c.id
            """,
            BALANCE_STATES,
            BALANCE_STATES,
            tuple(self.ids),
        )
        if in_sql:
            self.flush_model(["points", "loyalty_debt"])
            changed = self.env.execute_query(
                SQL(
                    """
                    UPDATE loyalty_card c
                       SET points = t.total, loyalty_debt = t.debt,
                           write_uid = %s, write_date = %s
                      FROM (%s) t
                     WHERE c.id = t.id
                       AND (ROUND(COALESCE(c.points, 0)::numeric, 2) <> t.total
                            OR ROUND(COALESCE(c.loyalty_debt, 0)::numeric, 2)
                               <> t.debt)
                 RETURNING c.id
                    """,
                    self.env.uid,
                    self.env.cr.now(),
                    totals,
                )
            )
            cards = self.browse([row[0] for row in changed])
            cards.invalidate_recordset(["points", "loyalty_debt", "write_uid"])
            cards.modified(["points", "loyalty_debt"])
            return
        rows = self.env.execute_query(totals)
        totals = {
            card_id: (float(total), float(debt)) for card_id, total, debt, _p in rows
        }
        # the ledger is the history: no chatter tracking of every change; one
        # recordset, so that the current balances are read in one query
        cards = (
            self.browse(list(totals))
            .sudo()
            .with_context(_loyalty_ledger_sync=True, mail_notrack=True)
        )
        for card in cards:
            total, debt = totals[card.id]
            vals = {}
            if card.points != total:
                vals["points"] = total
            if (card.loyalty_debt or 0.0) != debt:
                vals["loyalty_debt"] = debt
            if vals:
                card.write(vals)
        self.env.cache.update(
            self.browse([row[0] for row in rows]),
            self._fields["points_pending"],
            [float(row[3]) for row in rows],
        )

    def _loyalty_current_card(self):
        """The card that replaced this one, and so on: where the member's points
        are now."""
        self.ensure_one()
        card, seen = self, self
        while card.replaced_by_id and card.replaced_by_id not in seen:
            card = card.replaced_by_id
            seen |= card
        return card

    # ------------------------------------------------------------ state changes
    def _loyalty_require_user(self):
        if not self.env.user.has_group("loyalty_crm.group_loyalty_user"):
            raise AccessError(_("Only Loyalty users can manage member cards."))

    def _loyalty_require_manager(self, message):
        if not self.env.user.has_group("loyalty_crm.group_loyalty_manager"):
            raise AccessError(message)

    def _loyalty_open_state_wizard(self, action, title):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": title,
            "res_model": "loyalty.card.state.wizard",
            "view_mode": "form",
            "target": "new",
            "context": {"default_card_id": self.id, "default_action": action},
        }

    def _loyalty_log_state_change(self, body):
        author = self.env.user.partner_id.id
        for card in self:
            for record in (card, card.partner_id):
                if record:
                    record.sudo().message_post(body=body[card], author_id=author)

    def action_loyalty_block(self, reason=None):
        """Block the cards (a Loyalty user may): without a reason, ask for one."""
        self._loyalty_require_user()
        if not reason:
            return self._loyalty_open_state_wizard("block", _("Block Card"))
        reason = reason.strip() if isinstance(reason, str) else ""
        if not reason:
            raise UserError(_("Say why the card is blocked."))
        for card in self:
            if card.loyalty_state not in USABLE_STATES:
                raise UserError(
                    _(
                        "Card %(code)s is %(state)s: only an active card can be "
                        "blocked.",
                        code=card.code,
                        state=card._loyalty_state_label(),
                    )
                )
        self.sudo().write({"loyalty_state": "blocked", "loyalty_state_reason": reason})
        self._loyalty_log_state_change(
            {
                card: self.env._(
                    "Card %(code)s blocked: %(reason)s", code=card.code, reason=reason
                )
                for card in self
            }
        )
        return True

    def action_loyalty_unblock(self, reason=None):
        """Unblock the cards: a Loyalty Manager's decision, with its reason."""
        self._loyalty_require_user()
        self._loyalty_require_manager(
            _("Only a Loyalty Manager can unblock a card a manager or cashier blocked.")
        )
        if not reason:
            return self._loyalty_open_state_wizard("unblock", _("Unblock Card"))
        reason = reason.strip() if isinstance(reason, str) else ""
        if not reason:
            raise UserError(_("Say why the card is unblocked."))
        for card in self:
            if card.loyalty_state != "blocked":
                raise UserError(_("Card %(code)s is not blocked.", code=card.code))
        for card in self:
            card.sudo().write(
                {
                    "loyalty_state": "active" if card.activation_date else "issued",
                    "loyalty_state_reason": reason,
                }
            )
        self._loyalty_log_state_change(
            {
                card: self.env._(
                    "Card %(code)s unblocked: %(reason)s", code=card.code, reason=reason
                )
                for card in self
            }
        )
        return True

    def action_loyalty_replace(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": _("Replace Card"),
            "res_model": "loyalty.card.replace.wizard",
            "view_mode": "form",
            "target": "new",
            "context": {"default_card_id": self.id},
        }

    def action_loyalty_print(self):
        return self.env.ref("loyalty_crm.loyalty_card_report_member").report_action(
            self
        )

    def _loyalty_activate(self):
        """Activate issued cards (first purchase)."""
        issued = self.filtered(lambda c: c.loyalty_state == "issued")
        if issued:
            issued.sudo().write(
                {"loyalty_state": "active", "activation_date": fields.Datetime.now()}
            )
        return issued

    def _loyalty_replace(self, reason, new_code=None, lost=True):
        """Issue a new card to the member and move the whole balance onto it.

        The old card becomes ``lost`` (or ``replaced``) and can never be used
        again; its pending points and balance move to the new card through
        transfer entries, and its history stays readable from the new card.
        """
        self.ensure_one()
        self._loyalty_require_user()
        Ledger = self.env["loyalty.ledger"]
        Ledger._lock_cards(self)
        if self.loyalty_state not in USABLE_STATES + ("blocked",):
            raise UserError(
                _(
                    "Card %(code)s is %(state)s: it was already replaced.",
                    code=self.code,
                    state=self._loyalty_state_label(),
                )
            )
        if not reason:
            raise UserError(_("Say why the card is replaced."))
        new_code = (new_code or "").strip()
        if new_code:
            self._loyalty_require_manager(
                _(
                    "Only a Loyalty Manager can choose the number of the new card; "
                    "leave it empty and a number is generated."
                )
            )
        if new_code and self.sudo().search_count([("code", "=", new_code)], limit=1):
            raise UserError(_("Card code %(code)s is already in use.", code=new_code))
        old_state = self.loyalty_state
        # Free the member's slot before the new card exists.
        self.sudo().write(
            {
                "loyalty_state": "lost" if lost else "replaced",
                "loyalty_state_reason": reason,
            }
        )
        new_vals = {
            "program_id": self.program_id.id,
            "partner_id": self.partner_id.id,
            "replaces_id": self.id,
            "loyalty_state": "issued" if old_state == "issued" else "active",
        }
        if new_code:
            new_vals["code"] = new_code
        new = self.sudo().with_context(loyalty_no_mail=True).create(new_vals)
        self.sudo().replaced_by_id = new
        transfer_reason = _(
            "Card %(old)s replaced by %(new)s", old=self.code, new=new.code
        )
        if self.points:
            lots = Ledger._open_lots(self)
            out = Ledger._post(
                self,
                -self.points,
                "transfer",
                reason=transfer_reason,
                allow_inactive=True,
            )
            # lot by lot, so that the points keep their expiry dates
            for _lot, _card, points, expiry in lots:
                Ledger._post(
                    new,
                    points,
                    "transfer",
                    reason=transfer_reason,
                    counterpart=out,
                    expiry_date=expiry or False,
                )
        if self.loyalty_debt:
            # what the member owes follows them to the new card
            debt = self.loyalty_debt
            out = Ledger._post(
                self, debt, "debt", reason=transfer_reason, allow_inactive=True
            )
            Ledger._post(
                new,
                -debt,
                "debt",
                reason=transfer_reason,
                counterpart=out,
                allow_inactive=True,
            )
        for pending in self.ledger_ids.filtered(lambda e: e.state == "pending"):
            Ledger._post(
                new,
                pending.points,
                pending.entry_type,
                state="pending",
                reason=pending.reason,
                expiry_date=pending.expiry_date,
                available_date=pending.available_date,
                counterpart=pending,
                source=pending.res_model
                and self.env[pending.res_model].browse(pending.res_id),
            )
            pending.sudo().state = "cancelled"
        body = _(
            "Card %(old)s replaced by %(new)s: %(reason)s",
            old=self.code,
            new=new.code,
            reason=reason,
        )
        author = self.env.user.partner_id.id
        for record in (self, new, self.partner_id):
            if record:
                record.sudo().message_post(body=body, author_id=author)
        return new

    # ------------------------------------------------------------ POS
    @api.model
    def _load_pos_data_domain(self, data):
        # a till never loads the bonus cards (members are looked up on demand)
        return [
            *super()._load_pos_data_domain(data),
            ("program_id.is_bonus_program", "=", False),
        ]

    # ------------------------------------------------------------ back office
    def action_loyalty_update_balance(self):
        """A bonus card's balance changes by a signed amount with a reason
        (``loyalty.adjust.wizard``), never by typing a new balance."""
        if len(self) == 1 and self.is_bonus_card and self.partner_id:
            return self.partner_id.action_loyalty_adjust()
        return super().action_loyalty_update_balance()

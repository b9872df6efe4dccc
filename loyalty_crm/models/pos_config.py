"""What the till asks the server about the bonus program (RPCs of the POS).

The browser never sends points it earned or the balance: it asks to find a
member, to enrol one, and to reserve (or release) the points the customer wants
to spend on the order being rung up. Everything else is decided on the server
when the order syncs (see ``pos_order.py``).
"""

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tools import float_round

from ..tools import LoyaltyError

UUID_MAX = 64


class PosConfig(models.Model):
    _inherit = "pos.config"

    # ------------------------------------------------------------ helpers
    def _loyalty_pos_check_access(self):
        """The caller is a POS user of this shop's company (and thus a Loyalty user)."""
        self.ensure_one()
        user = self.env.user
        if not (
            user.has_group("point_of_sale.group_pos_user")
            and user.has_group("loyalty_crm.group_loyalty_user")
        ):
            raise AccessError(_("Only cashiers can use the bonus program at the till."))
        self.check_access("read")

    def _loyalty_pos_program(self):
        return self.env["loyalty.program"]._get_bonus_program(self.company_id)

    @api.model
    def _loyalty_pos_discount_products(self):
        """The products of the bonus program's points discount (all companies)."""
        programs = (
            self.env["loyalty.program"].sudo().search([("is_bonus_program", "=", True)])
        )
        return programs.reward_ids.filtered(
            lambda r: r.reward_type == "discount"
        ).discount_line_product_id

    def _get_program_ids(self):
        # Odoo's pos_loyalty computes the points of the programs it runs in the
        # browser: never the bonus program's, whatever its Point of Sale setting
        return super()._get_program_ids().filtered(lambda p: not p.is_bonus_program)

    def _get_special_products(self):
        # loaded in every till, never shown in the product list
        return super()._get_special_products() | self._loyalty_pos_discount_products()

    @api.model
    def _loyalty_pos_refusal(self, error):
        return {
            "ok": False,
            "code": getattr(error, "code", "validation_error"),
            "message": error.args[0] if error.args else str(error),
        }

    def _loyalty_pos_member_data(self, partner):
        """What the till shows of a member (no other card, no other member)."""
        card = partner.loyalty_card_id
        program = card.program_id
        return {
            "partner_id": partner.id,
            "name": partner.name,
            "phone": partner.loyalty_phone or "",
            "card": card.code,
            "card_state": card.loyalty_state,
            "tier": partner.loyalty_tier_id.name or "",
            "points": card.points,
            "pending": partner.loyalty_points_pending,
            "expiring": partner.loyalty_points_expiring,
            "expiring_date": fields.Date.to_string(partner.loyalty_points_expiring_date)
            or "",
            "point_value": program.point_value,
            "max_redeem_share": program.max_redeem_share,
            "min_balance_to_spend": program.min_balance_to_spend,
            "discount_product_id": program.reward_ids.filtered(
                lambda r: r.reward_type == "discount"
            )[:1].discount_line_product_id.id,
        }

    def _loyalty_pos_card_of(self, partner_id):
        partner = (
            self.env["res.partner"].browse(int(partner_id or 0)).exists()
        ).commercial_partner_id
        card = partner.loyalty_card_id
        if not card or card.program_id != self._loyalty_pos_program():
            raise LoyaltyError(
                "not_found",
                _("%(customer)s is not a member.", customer=partner.display_name),
            )
        self.env["loyalty.ledger"]._check_card_usable(card)
        return card

    # ------------------------------------------------------------ RPCs
    def loyalty_crm_lookup(self, term):
        """Find a member by card barcode or phone (any notation)."""
        self._loyalty_pos_check_access()
        term = (term or "").strip() if isinstance(term, str) else ""
        if not term:
            return self._loyalty_pos_refusal(
                LoyaltyError("validation_error", _("Scan a card or type a phone."))
            )
        card = self.env["loyalty.card"].search(
            [("code", "=", term), ("is_bonus_card", "=", True)], limit=1
        )
        if card and card.loyalty_state not in ("issued", "active"):
            return self._loyalty_pos_refusal(
                LoyaltyError(
                    "card_blocked",
                    _(
                        "Card %(code)s is %(state)s: it cannot be used.",
                        code=card.code,
                        state=card._loyalty_state_label(),
                    ),
                )
            )
        partner = self.env["res.partner"]._loyalty_lookup(term, self.company_id)
        if not partner:
            return self._loyalty_pos_refusal(
                LoyaltyError(
                    "not_found", _("No member with card or phone %(term)s.", term=term)
                )
            )
        card = partner.loyalty_card_id
        if card.loyalty_state not in ("issued", "active"):
            return self._loyalty_pos_refusal(
                LoyaltyError(
                    "card_blocked",
                    _(
                        "Card %(code)s of %(member)s is %(state)s: it cannot be used.",
                        code=card.code,
                        member=partner.name,
                        state=card._loyalty_state_label(),
                    ),
                )
            )
        return {"ok": True, "member": self._loyalty_pos_member_data(partner)}

    def loyalty_crm_enrol_options(self):
        """Choices of the enrolment questionnaire at the till."""
        self._loyalty_pos_check_access()
        channels = self.env["loyalty.notification.channel"].search([])
        sources = self.env["utm.source"].search([], limit=200, order="name")
        return {
            "channels": [{"id": c.id, "name": c.name} for c in channels],
            "sources": [{"id": s.id, "name": s.name} for s in sources],
        }

    def loyalty_crm_enrol(self, values):
        """Enrol a new member from the till; the card is issued at once."""
        self._loyalty_pos_check_access()
        values = values if isinstance(values, dict) else {}
        name = (values.get("name") or "").strip()
        phone = (values.get("phone") or "").strip()
        if not name or not phone:
            return self._loyalty_pos_refusal(
                LoyaltyError("validation_error", _("Name and phone are required."))
            )
        gender = values.get("gender") or False
        if gender not in (False, "male", "female", "other"):
            gender = False
        channels = (
            self.env["loyalty.notification.channel"]
            .browse(
                [int(c) for c in values.get("channel_ids") or [] if str(c).isdigit()]
            )
            .exists()
        )
        source = (
            self.env["utm.source"].browse(int(values.get("source_id") or 0)).exists()
        )
        vals = {
            "name": name,
            "phone": phone,
            "email": (values.get("email") or "").strip() or False,
            "loyalty_birthdate": values.get("birthdate") or False,
            "loyalty_gender": gender,
            "loyalty_channel_ids": [(6, 0, channels.ids)],
            "loyalty_source_id": source.id,
            "loyalty_home_store_id": self.id,
            "company_id": False,
        }
        try:
            with self.env.cr.savepoint():
                partner = self.env["res.partner"].create(vals)
                partner._loyalty_enrol(
                    program=self._loyalty_pos_program(),
                    source="pos",
                    consent=bool(values.get("consent")),
                )
        except (UserError, ValidationError) as error:
            return self._loyalty_pos_refusal(error)
        return {"ok": True, "member": self._loyalty_pos_member_data(partner)}

    def loyalty_crm_reserve(
        self, order_uuid, partner_id, points, order_amount, identification=None
    ):
        """Hold ``points`` of the member's card for the order ``order_uuid``.

        The points leave the balance at once (a ``reserved`` ledger entry, under
        the card's lock): another till can't spend them. A new reservation for
        the same order replaces the previous one; 0 points releases it. The
        reservation becomes a redemption when the order syncs, or is released
        by a cron after a timeout. Returns the discount to put on the order.
        ``identification`` (``{"card": scanned code}`` or ``{"otp_id", "code"}``):
        see ``loyalty.otp``; a member found by phone confirms with an SMS code.
        """
        self._loyalty_pos_check_access()
        if not isinstance(order_uuid, str) or not 0 < len(order_uuid) <= UUID_MAX:
            raise UserError(_("This order has no valid identifier."))
        try:
            points = float_round(float(points or 0.0), 2)
            order_amount = float(order_amount or 0.0)
        except (TypeError, ValueError):
            return self._loyalty_pos_refusal(
                LoyaltyError("validation_error", _("Enter a number of points."))
            )
        Ledger = self.env["loyalty.ledger"]
        try:
            if points > 0:  # outside the savepoint: a wrong code costs an attempt
                self.env["loyalty.otp"]._loyalty_check_spend(
                    self._loyalty_pos_card_of(partner_id), identification, order_uuid
                )
            with self.env.cr.savepoint():
                card = self._loyalty_pos_card_of(partner_id)
                Ledger._lock_cards(card)
                held = self.env["pos.order"]._loyalty_pos_reservations(order_uuid)
                if points < 0:
                    raise LoyaltyError(
                        "validation_error", _("Enter a positive number of points.")
                    )
                live = held.filtered(lambda e: e.state == "reserved")
                if (
                    live
                    and live.card_id == card
                    and -sum(live.mapped("points")) == (points)
                ):
                    entry = live[:1]  # the same request again
                else:
                    live.sudo().write({"state": "cancelled"})
                    entry = Ledger.browse()
                    if points:
                        entry = self._loyalty_pos_reserve(
                            card, points, order_amount, order_uuid, len(held)
                        )
        except LoyaltyError as error:
            return self._loyalty_pos_refusal(error)
        program = card.program_id
        return {
            "ok": True,
            "points": -entry.points if entry else 0.0,
            "value": self.currency_id.round(
                (-entry.points if entry else 0.0) * program.point_value
            ),
            "product_id": program.reward_ids.filtered(
                lambda r: r.reward_type == "discount"
            )[:1].discount_line_product_id.id,
            "member": self._loyalty_pos_member_data(card.partner_id),
        }

    def _loyalty_pos_reserve(self, card, points, order_amount, order_uuid, sequence):
        program = card.program_id
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
        if points > card.points:
            raise LoyaltyError(
                "insufficient_points",
                _(
                    "The member has %(balance)s points available: %(points)s "
                    "cannot be reserved (another till may hold some).",
                    balance=card.points,
                    points=points,
                ),
            )
        return self.env["loyalty.ledger"]._redeem(
            card,
            points,
            order_amount,
            f"pos.order/{order_uuid}/reserve/{sequence}",
            reference=_("Reserved at %(shop)s", shop=self.name),
            state="reserved",
        )

    def loyalty_crm_release(self, order_uuid):
        """Give back the points held for an order (the cashier removed them)."""
        self._loyalty_pos_check_access()
        if not isinstance(order_uuid, str) or not 0 < len(order_uuid) <= UUID_MAX:
            raise UserError(_("This order has no valid identifier."))
        held = (
            self.env["pos.order"]
            ._loyalty_pos_reservations(order_uuid)
            .filtered(lambda e: e.state == "reserved")
        )
        self.env["loyalty.ledger"]._lock_cards(held.card_id)
        held.sudo().write({"state": "cancelled"})
        return {"ok": True, "released": -sum(held.mapped("points"))}

    def loyalty_crm_otp_request(self, partner_id):
        """Send the member found by phone the SMS code that confirms spending."""
        self._loyalty_pos_check_access()
        try:
            card = self._loyalty_pos_card_of(partner_id)
            otp = self.env["loyalty.otp"]._loyalty_request(card, "pos")
        except LoyaltyError as error:
            return self._loyalty_pos_refusal(error)
        return dict(otp._loyalty_public(), ok=True)

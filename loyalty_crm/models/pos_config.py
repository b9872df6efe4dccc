"""What the till asks the server about the bonus program (RPCs of the POS).

The browser never sends points it earned or the balance: it asks to find a
member, to enrol one, and to reserve (or release) the points the customer wants
to spend on the order being rung up. Everything else is decided on the server
when the order syncs (see ``pos_order.py``).
"""

import math

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
        return programs.mapped(
            lambda p: p._loyalty_discount_reward()
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
            "discount_product_id": program._loyalty_discount_product().id,
        }

    def _loyalty_pos_card_of(self, partner_id):
        """The card of the member the till names by ``partner_id``: a contact the
        cashier may see (of the shop's companies, not archived), a member of
        this shop's program; anything else is refused as not found."""
        if isinstance(partner_id, str) and partner_id.isdigit():
            partner_id = int(partner_id)
        if isinstance(partner_id, bool) or not isinstance(partner_id, int):
            partner_id = 0
        partner = self.env["res.partner"]
        if 0 < partner_id < 2**31:
            partner = partner.search([("id", "=", partner_id)]).commercial_partner_id
        if not partner:
            raise LoyaltyError("not_found", _("No such customer."))
        card = partner.loyalty_card_id
        # (the card of another company's program is not the cashier's to read)
        if not card or card.sudo().program_id != self._loyalty_pos_program():
            raise LoyaltyError(
                "not_found",
                _("%(customer)s is not a member.", customer=partner.display_name),
            )
        self.env["loyalty.ledger"]._check_card_usable(card)
        return card

    # ------------------------------------------------------------ RPCs
    @api.readonly
    def loyalty_crm_lookup(self, term):
        """Find a member by card barcode or phone (any notation); only reads
        (served by the replica when one is configured)."""
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
        sources = self.env["utm.source"]._loyalty_offered_sources()
        # the questionnaire's own labels, in the cashier's language
        genders = self.env["res.partner"]._fields["loyalty_gender"]
        return {
            "channels": [{"id": c.id, "name": c.name} for c in channels],
            "sources": [{"id": s.id, "name": s.name} for s in sources],
            "genders": [
                {"id": value, "name": label}
                for value, label in genders._description_selection(self.env)
            ],
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
        # only a source the manager offers (a till could send any id, or none)
        source_id = values.get("source_id")
        source = (
            self.env["utm.source"]
            ._loyalty_offered_sources()
            .filtered(lambda s: str(s.id) == str(source_id))
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

    def _loyalty_pos_held(self, order_uuid):
        """The live reservations of the order ``order_uuid``; refused when another
        till holds them (only that till, or a manager, may touch them)."""
        held = (
            self.env["pos.order"]
            ._loyalty_pos_reservations(order_uuid)
            .filtered(lambda e: e.state == "reserved")
        )
        others = held.filtered(
            lambda e: e.pos_session_id and e.pos_session_id.config_id != self
        )
        if others and not self.env.user.has_group("loyalty_crm.group_loyalty_manager"):
            raise LoyaltyError(
                "forbidden",
                _(
                    "The points of this order are held by another till "
                    "(%(till)s): only that till or a manager can change them.",
                    till=others.pos_session_id.config_id[:1].name or "?",
                ),
            )
        return held

    def loyalty_crm_reserve(
        self, order_uuid, partner_id, points, order_amount, identification=None
    ):
        """Hold ``points`` of the member's card for the order ``order_uuid``.

        The points leave the balance at once (a ``reserved`` ledger entry, under
        the card's lock, that belongs to this till's session): another till
        can't spend them, nor release them. A new reservation for the same order
        replaces the previous one; 0 points releases it. The reservation becomes
        a redemption when the order syncs, or is released by a cron after a
        timeout or when the session closes. Returns the discount to put on the
        order. ``order_amount`` only bounds the reservation: the cap is checked
        again, on the server's own amounts, when the order syncs.
        ``identification`` (``{"card": scanned code}`` or ``{"otp_id", "code"}``):
        see ``loyalty.otp``; a member found by phone confirms with an SMS code.
        """
        self._loyalty_pos_check_access()
        if not isinstance(order_uuid, str) or not 0 < len(order_uuid) <= UUID_MAX:
            raise UserError(_("This order has no valid identifier."))
        try:
            points = float(points or 0.0)
            order_amount = float(order_amount or 0.0)
            if not (math.isfinite(points) and math.isfinite(order_amount)):
                raise ValueError(points)
            points = float_round(points, 2)
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
                if not self.current_session_id:
                    raise LoyaltyError(
                        "validation_error", _("Open the till's session first.")
                    )
                card = self._loyalty_pos_card_of(partner_id)
                Ledger._lock_cards(card)
                if points < 0:
                    raise LoyaltyError(
                        "validation_error", _("Enter a positive number of points.")
                    )
                held = self._loyalty_pos_held(order_uuid)
                if (
                    held
                    and held.card_id == card
                    and -sum(held.mapped("points")) == points
                ):
                    entry = held[:1]  # the same request again
                else:
                    Ledger._lock_cards(held.card_id)
                    held.write({"state": "cancelled"})
                    entry = Ledger.browse()
                    if points:
                        count = len(
                            self.env["pos.order"]._loyalty_pos_reservations(order_uuid)
                        )
                        entry = Ledger._redeem(
                            card,
                            points,
                            order_amount,
                            f"pos.order/{order_uuid}/reserve/{count}",
                            reference=_("Reserved at %(shop)s", shop=self.name),
                            state="reserved",
                            pos_order_uuid=order_uuid,
                            pos_session=self.current_session_id,
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
            "product_id": program._loyalty_discount_product().id,
            "member": self._loyalty_pos_member_data(card.partner_id),
        }

    def loyalty_crm_release(self, order_uuid):
        """Give back the points held for an order (the cashier removed them)."""
        self._loyalty_pos_check_access()
        if not isinstance(order_uuid, str) or not 0 < len(order_uuid) <= UUID_MAX:
            raise UserError(_("This order has no valid identifier."))
        try:
            held = self._loyalty_pos_held(order_uuid)
        except LoyaltyError as error:
            return self._loyalty_pos_refusal(error)
        self.env["loyalty.ledger"]._lock_cards(held.card_id)
        held.write({"state": "cancelled"})
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

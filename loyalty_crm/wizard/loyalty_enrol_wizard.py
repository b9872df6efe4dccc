from odoo import _, api, fields, models
from odoo.exceptions import RedirectWarning


class LoyaltyEnrolWizard(models.TransientModel):
    """The short questionnaire a cashier fills in to enrol a customer."""

    _name = "loyalty.enrol.wizard"
    _description = "Enrol a Member"

    partner_id = fields.Many2one("res.partner", string="Existing Contact")
    name = fields.Char(required=True)
    phone = fields.Char(required=True)
    email = fields.Char()
    birthdate = fields.Date(string="Birth Date")
    gender = fields.Selection(
        [("male", "Male"), ("female", "Female"), ("other", "Other")]
    )
    channel_ids = fields.Many2many(
        "loyalty.notification.channel", string="Preferred Channels"
    )
    consent = fields.Boolean(
        string="Agrees to Marketing Messages",
        help="The customer agrees to receive offers through the chosen channels.",
    )
    source_id = fields.Many2one(
        "utm.source",
        string="How did they hear about us?",
        domain=[("loyalty_offered", "=", True)],
    )
    referral_code = fields.Char(help="The code of the member who invited the customer.")
    card_code = fields.Char(
        string="Card Number",
        help="Scan a physical card, or leave empty to generate one.",
    )

    @api.model
    def default_get(self, fields_list):
        res = super().default_get(fields_list)
        partner = self.env["res.partner"].browse(res.get("partner_id"))
        if partner:
            res.update(
                name=partner.name,
                phone=partner.phone or partner.mobile,
                email=partner.email,
                birthdate=partner.loyalty_birthdate,
                gender=partner.loyalty_gender,
                channel_ids=[(6, 0, partner.loyalty_channel_ids.ids)],
                source_id=partner.loyalty_source_id.id,
            )
        return res

    def _check_phone_not_taken(self):
        """A phone of another member: say who, with a button that opens them."""
        other = self.env["res.partner"]._loyalty_lookup(self.phone or "")
        other = other.filtered(lambda p: p.loyalty_phone) - self.partner_id
        if not other:
            return
        action = {
            "type": "ir.actions.act_window",
            "res_model": "res.partner",
            "res_id": other.id,
            "views": [(False, "form")],
            "target": "current",
        }
        raise RedirectWarning(
            _(
                "Phone %(phone)s already belongs to member %(member)s (card "
                "%(card)s): one customer, one card.",
                phone=other.loyalty_phone,
                member=other.display_name,
                card=other.loyalty_card_id.code or "-",
            ),
            action,
            _("Open %(member)s", member=other.display_name),
        )

    def action_enrol(self):
        self.ensure_one()
        self.env["loyalty.card"]._loyalty_require_user()
        self._check_phone_not_taken()
        vals = {
            "name": self.name,
            "phone": self.phone,
            "email": self.email,
            "loyalty_birthdate": self.birthdate,
            "loyalty_gender": self.gender,
            "loyalty_channel_ids": [(6, 0, self.channel_ids.ids)],
            "loyalty_source_id": self.source_id.id,
        }
        if self.partner_id:
            partner = self.partner_id
            partner.write(
                {k: v for k, v in vals.items() if v or k == "loyalty_channel_ids"}
            )
        else:
            partner = self.env["res.partner"].create(vals)
        partner._loyalty_enrol(
            card_code=self.card_code,
            consent=self.consent,
            referral_code=self.referral_code,
        )
        card = partner.loyalty_card_id
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": "success",
                "title": _("Member enrolled"),
                "message": _(
                    "%(member)s is a member: card %(card)s issued, %(points)s points.",
                    member=partner.name,
                    card=card.code,
                    points=int(card.points),
                ),
                "next": {
                    "type": "ir.actions.act_window",
                    "name": _("Member"),
                    "res_model": "res.partner",
                    "res_id": partner.id,
                    "view_mode": "form",
                    "views": [(False, "form")],
                },
            },
        }

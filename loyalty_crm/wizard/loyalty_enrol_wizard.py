from odoo import _, api, fields, models


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
    source_id = fields.Many2one("utm.source", string="How did they hear about us?")
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

    def action_enrol(self):
        self.ensure_one()
        self.env["loyalty.card"]._loyalty_require_user()
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
        return {
            "type": "ir.actions.act_window",
            "name": _("Member"),
            "res_model": "res.partner",
            "res_id": partner.id,
            "view_mode": "form",
        }

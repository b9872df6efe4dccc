from odoo import fields, models


class LoyaltyConsentWizard(models.TransientModel):
    """What a member answered, recorded in the back office (dated now, by the
    current user: see ``loyalty.consent._record``)."""

    _name = "loyalty.consent.wizard"
    _description = "Record a Member's Consent"

    partner_id = fields.Many2one("res.partner", string="Member", required=True)
    purpose = fields.Selection(
        lambda self: self.env["loyalty.consent"]._fields["purpose"].selection,
        required=True,
        default="marketing",
    )
    consent = fields.Selection(
        lambda self: self.env["loyalty.consent"]._fields["consent"].selection,
        required=True,
        default="opt_in",
    )
    channel = fields.Selection(
        lambda self: self.env["loyalty.consent"]._fields["channel"].selection,
        required=True,
        default="all",
    )
    note = fields.Char()

    def action_record(self):
        self.ensure_one()
        self.env["loyalty.consent"]._record(
            self.partner_id,
            self.consent,
            "backoffice",
            channel=self.channel,
            purpose=self.purpose,
            note=self.note,
        )
        return True

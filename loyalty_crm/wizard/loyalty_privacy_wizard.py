from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError

from ..models.loyalty_privacy_request import REQUEST_CHANNELS


class LoyaltyPrivacyWizard(models.TransientModel):
    """A member's personal data request, recorded then carried out."""

    _name = "loyalty.privacy.wizard"
    _description = "Personal Data Request"

    partner_id = fields.Many2one("res.partner", string="Member", required=True)
    request_type = fields.Selection(
        [("export", "Data export"), ("erasure", "Erasure")],
        string="Request",
        required=True,
        default="export",
    )
    requested_by = fields.Selection(
        [
            ("member", "The member"),
            ("representative", "A representative of the member"),
            ("authority", "An authority"),
        ],
        string="Asked By",
        required=True,
        default="member",
    )
    channel = fields.Selection(REQUEST_CHANNELS, required=True, default="in_person")
    requested_on = fields.Date(
        string="Asked On", required=True, default=fields.Date.context_today
    )
    reference = fields.Char(
        help="Letter number or ticket: never the member's personal data."
    )
    confirm_erasure = fields.Boolean(
        string="I understand that erasure cannot be undone",
    )

    @api.model
    def _check_manager(self):
        if not self.env.user.has_group("loyalty_crm.group_loyalty_manager"):
            raise AccessError(
                _("Only a Loyalty Manager handles personal data requests.")
            )

    def action_confirm(self):
        self.ensure_one()
        self._check_manager()
        partner = self.partner_id
        log = {
            "requested_by": self.requested_by,
            "reference": self.reference,
        }
        if self.request_type == "export":
            partner._loyalty_log_request(
                "export", self.channel, self.requested_on, **log
            )
            attachment = partner._loyalty_export_file()
            partner.sudo().message_post(body=_("Personal data exported on request."))
            return {
                "type": "ir.actions.act_url",
                "url": f"/web/content/{attachment.id}?download=true",
                "target": "self",
            }
        if not self.confirm_erasure:
            raise UserError(_("Confirm that the erasure cannot be undone."))
        partner._loyalty_log_request("erasure", self.channel, self.requested_on, **log)
        partner._loyalty_erase()
        return {"type": "ir.actions.act_window_close"}

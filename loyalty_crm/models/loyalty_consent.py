from odoo import _, api, fields, models
from odoo.exceptions import UserError

CONSENT_SOURCES = [
    ("backoffice", "Back office"),
    ("pos", "Point of Sale"),
    ("portal", "Customer portal"),
    ("api", "API"),
    ("import", "Import"),
    ("unsubscribe", "Unsubscribe link"),
    ("sms_reply", "SMS reply"),
    ("erasure", "Erasure request"),
]


class LoyaltyConsent(models.Model):
    """Opt-in and opt-out of a member, as they were given: an append-only log."""

    _name = "loyalty.consent"
    _description = "Member Consent"
    _order = "date desc, id desc"

    partner_id = fields.Many2one(
        "res.partner", string="Member", required=True, index=True, ondelete="cascade"
    )
    company_id = fields.Many2one(
        "res.company", required=True, default=lambda self: self.env.company
    )
    purpose = fields.Selection(
        [
            ("marketing", "Marketing messages"),
            ("personal_data", "Personal data processing"),
        ],
        required=True,
        default="marketing",
    )
    consent = fields.Selection(
        [("opt_in", "Opt-in"), ("opt_out", "Opt-out")], required=True, default="opt_in"
    )
    channel = fields.Selection(
        [
            ("all", "All channels"),
            ("sms", "SMS"),
            ("email", "Email"),
            ("call", "Phone call"),
        ],
        required=True,
        default="all",
    )
    source = fields.Selection(CONSENT_SOURCES, required=True, default="backoffice")
    date = fields.Datetime(required=True, default=fields.Datetime.now)
    user_id = fields.Many2one(
        "res.users",
        string="Recorded By",
        default=lambda self: self.env.user,
        readonly=True,
    )
    note = fields.Char()

    def write(self, vals):
        if vals:
            raise UserError(
                _(
                    "A consent record cannot be changed: record a new opt-in or "
                    "opt-out instead."
                )
            )
        return super().write(vals)

    @api.ondelete(at_uninstall=False)
    def _unlink_never(self):
        raise UserError(
            _(
                "A consent record cannot be deleted: record a new opt-in or opt-out "
                "instead."
            )
        )

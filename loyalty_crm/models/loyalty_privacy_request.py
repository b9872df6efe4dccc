"""The log of personal data requests (Russian 152-FZ, GDPR): who asked for a
member's data or its erasure, when, through which channel, and who did it."""

from odoo import _, api, fields, models
from odoo.exceptions import UserError

REQUEST_CHANNELS = [
    ("in_person", "In person (shop)"),
    ("letter", "Letter"),
    ("email", "Email"),
    ("phone", "Phone call"),
    ("portal", "Customer portal"),
]


class LoyaltyPrivacyRequest(models.Model):
    _name = "loyalty.privacy.request"
    _description = "Personal Data Request"
    _order = "done_on desc, id desc"

    partner_id = fields.Many2one(
        "res.partner",
        string="Member",
        required=True,
        index=True,
        readonly=True,
        ondelete="restrict",
    )
    request_type = fields.Selection(
        [("export", "Data export"), ("erasure", "Erasure")],
        string="Request",
        required=True,
        readonly=True,
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
        readonly=True,
    )
    channel = fields.Selection(REQUEST_CHANNELS, required=True, readonly=True)
    requested_on = fields.Date(string="Asked On", required=True, readonly=True)
    done_on = fields.Datetime(required=True, readonly=True, default=fields.Datetime.now)
    done_by = fields.Many2one(
        "res.users",
        required=True,
        readonly=True,
        default=lambda self: self.env.user,
    )
    reference = fields.Char(
        readonly=True,
        help="The reference of the request (letter number, ticket); never the "
        "member's personal data.",
    )

    def write(self, vals):
        if vals:
            raise UserError(_("The log of personal data requests cannot be changed."))
        return super().write(vals)

    @api.ondelete(at_uninstall=False)
    def _unlink_never(self):
        raise UserError(_("The log of personal data requests cannot be deleted."))

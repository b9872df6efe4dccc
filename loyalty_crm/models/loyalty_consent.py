from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError

from ..tools import bulk_insert

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

    @api.model_create_multi
    def create(self, vals_list):
        if not (self.env.su and self.env.context.get("_loyalty_consent_record")):
            raise AccessError(
                _(
                    "A consent is recorded with the member's Record Consent button "
                    "(or given at enrolment, in the portal or through the API); it "
                    "cannot be created directly."
                )
            )
        return super().create(vals_list)

    @api.model
    def _record_imported(self, vals_list, in_sql=False):
        """Consents brought over from a previous system (import): the only case
        where the date is the one given (never in the future); the source is
        always ``import`` and the user the one who imports. ``in_sql``: the rows
        are inserted in one statement (an import's new members, whose
        ``loyalty_marketing_consent`` the caller computes with
        :meth:`res.partner._loyalty_marketing_consent_of`)."""
        clean = self._imported_vals(vals_list)
        if in_sql:
            return bulk_insert(self.sudo(), clean).with_env(self.env)
        return self.sudo().with_context(_loyalty_consent_record=True).create(clean)

    @api.model
    def _imported_vals(self, vals_list):
        now = fields.Datetime.now()
        clean = []
        for vals in vals_list:
            date = fields.Datetime.to_datetime(vals.get("date")) or now
            clean.append(
                {
                    "partner_id": vals["partner_id"],
                    "consent": vals["consent"],
                    "channel": vals.get("channel") or "all",
                    "purpose": vals.get("purpose") or "marketing",
                    "note": vals.get("note") or False,
                    "company_id": vals.get("company_id") or self.env.company.id,
                    "date": min(date, now),
                    "source": "import",
                    "user_id": self.env.user.id,
                }
            )
        return clean

    @api.model
    def _record(
        self,
        partner,
        consent,
        source,
        channel="all",
        purpose="marketing",
        note=None,
        company=None,
    ):
        """Record a member's opt-in (``consent`` true or ``"opt_in"``) or opt-out:
        the one way a consent is written. It is dated now and signed by the
        current user, whatever the caller says; ``source`` must be a known one,
        and "portal" is only the member's own answer in the portal."""
        partner = self.env["res.partner"].browse(
            partner if isinstance(partner, int) else partner.id
        )
        partner.ensure_one()
        if consent in ("opt_in", "opt_out"):
            answer = consent
        else:
            answer = "opt_in" if consent is True else "opt_out"
            if not isinstance(consent, bool):
                raise UserError(_("A consent is an opt-in or an opt-out."))
        fields_ = self._fields
        for name, value in (
            ("source", source),
            ("channel", channel),
            ("purpose", purpose),
        ):
            if value not in dict(fields_[name]._description_selection(self.env)):
                raise UserError(
                    _(
                        "Unknown value of the consent's %(field)s: %(value)s.",
                        field=fields_[name]._description_string(self.env),
                        value=value,
                    )
                )
        user = self.env.user
        if source == "portal" and user.partner_id.commercial_partner_id != (
            partner.commercial_partner_id
        ):
            raise AccessError(
                _("Only the member can record their consent from the portal.")
            )
        company = (
            company or partner.sudo().loyalty_card_id.company_id or self.env.company
        )
        return (
            self.sudo()
            .with_context(_loyalty_consent_record=True)
            .create(
                {
                    "partner_id": partner.id,
                    "consent": answer,
                    "source": source,
                    "channel": channel,
                    "purpose": purpose,
                    "note": note or False,
                    "company_id": company.id,
                    "date": fields.Datetime.now(),
                    "user_id": user.id,
                }
            )
            .with_env(self.env)
        )

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

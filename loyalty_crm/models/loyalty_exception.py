from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError

EXCEPTION_CODES = [
    ("discount_mismatch", "Points discount differs from the reservation"),
    ("discount_over_cap", "Points discount over the program's cap"),
    ("points_not_reserved", "Points discount without a reservation"),
    ("points_owed", "Points owed by the member"),
    ("card_unusable", "Card blocked or not a member"),
    ("return_unmatched", "Return without a valid sale"),
    ("return_discount_missing", "Return without its share of the points discount"),
    ("no_points", "No points earned"),
    ("other", "Other exception"),
]


class LoyaltyException(models.Model):
    """What a channel could not honour when it settled points: a paid order is
    never refused for its points (the till would lose it); what is valid is
    settled, and the rest lands here for a manager to review and resolve."""

    _name = "loyalty.exception"
    _description = "Loyalty Exception"
    _order = "state, create_date desc, id desc"
    _rec_name = "code"

    code = fields.Selection(
        EXCEPTION_CODES, string="What happened", required=True, readonly=True
    )
    message = fields.Text(readonly=True, required=True)
    company_id = fields.Many2one(
        "res.company", required=True, readonly=True, index=True
    )
    res_model = fields.Char(string="Document Model", readonly=True)
    res_id = fields.Many2oneReference(
        string="Document", model_field="res_model", readonly=True
    )
    document = fields.Char(compute="_compute_document", string="Document Name")
    pos_order_id = fields.Many2one(
        "pos.order",
        string="Till Order",
        compute="_compute_pos_order_id",
        store=True,
        index="btree_not_null",
    )
    card_id = fields.Many2one("loyalty.card", readonly=True, index="btree_not_null")
    partner_id = fields.Many2one(
        related="card_id.partner_id", store=True, string="Member"
    )
    points = fields.Float(
        digits=(16, 2), readonly=True, help="Points concerned (owed, not taken...)."
    )
    amount = fields.Float(
        digits=(16, 2), readonly=True, help="Amount of money concerned."
    )
    state = fields.Selection(
        [("open", "To review"), ("resolved", "Resolved")],
        default="open",
        required=True,
        readonly=True,
        index=True,
    )
    resolution = fields.Text(readonly=True)
    resolved_by_id = fields.Many2one("res.users", readonly=True)
    resolved_date = fields.Datetime(readonly=True)

    @api.depends("res_model", "res_id")
    def _compute_pos_order_id(self):
        for record in self:
            record.pos_order_id = (
                record.res_id if record.res_model == "pos.order" else False
            )

    @api.depends("res_model", "res_id")
    def _compute_document(self):
        for record in self:
            document = (
                record.res_model
                and record.res_model in self.env
                and self.env[record.res_model].browse(record.res_id).exists()
            )
            record.document = document.display_name if document else False

    def write(self, vals):
        if not self.env.context.get("_loyalty_exception_resolve"):
            raise UserError(
                _("A loyalty exception is resolved with a note, never edited.")
            )
        return super().write(vals)

    @api.ondelete(at_uninstall=False)
    def _unlink_never(self):
        raise UserError(_("A loyalty exception is resolved, never deleted."))

    def action_resolve(self, resolution):
        """Close the exceptions with what the manager did about them."""
        if not self.env.user.has_group("loyalty_crm.group_loyalty_manager"):
            raise AccessError(_("Only a Loyalty Manager can resolve exceptions."))
        resolution = (resolution or "").strip()
        if not resolution:
            raise UserError(_("Say what was done about it."))
        if self.filtered(lambda e: e.state != "open"):
            raise UserError(_("This exception is resolved already."))
        self.with_context(_loyalty_exception_resolve=True).sudo().write(
            {
                "state": "resolved",
                "resolution": resolution,
                "resolved_by_id": self.env.user.id,
                "resolved_date": fields.Datetime.now(),
            }
        )
        return True

    def action_open_resolve_wizard(self):
        return {
            "type": "ir.actions.act_window",
            "name": _("Resolve"),
            "res_model": "loyalty.exception.resolve.wizard",
            "view_mode": "form",
            "target": "new",
            "context": {"active_ids": self.ids},
        }

    def action_open_document(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": self.res_model,
            "res_id": self.res_id,
            "view_mode": "form",
        }


class LoyaltyExceptionResolveWizard(models.TransientModel):
    _name = "loyalty.exception.resolve.wizard"
    _description = "Resolve Loyalty Exceptions"

    resolution = fields.Text(required=True, string="What was done")

    def action_resolve(self):
        exceptions = self.env["loyalty.exception"].browse(
            self.env.context.get("active_ids", [])
        )
        exceptions.action_resolve(self.resolution)
        return {"type": "ir.actions.act_window_close"}

import re

from odoo import _, api, fields, models
from odoo.exceptions import UserError

# "+500", "-200", "−1 500", "+12,5": a sign is required, spaces group thousands
CHANGE_RE = re.compile(r"^([+-])\s*(\d{1,9}(?:[.,]\d{1,2})?)$")
MAX_CHANGE = 10_000_000


def parse_change(text):
    """The signed number of points typed by the manager, or None."""
    text = (text or "").strip().replace("\u2212", "-").replace("\u2013", "-")
    text = re.sub(r"(?<=\d)[\s\u00a0\u202f](?=\d)", "", text)
    match = CHANGE_RE.match(text)
    if not match:
        return None
    value = float(match.group(2).replace(",", "."))
    return -value if match.group(1) == "-" else value


class LoyaltyAdjustWizard(models.TransientModel):
    """A Loyalty Manager's correction of a member's balance: a signed change
    and a reason, posted as an adjustment entry of the ledger. Nothing is
    prefilled: the manager types the change, never a new balance."""

    _name = "loyalty.adjust.wizard"
    _description = "Adjust a Bonus Balance"

    partner_id = fields.Many2one("res.partner", string="Member", required=True)
    card_id = fields.Many2one(related="partner_id.loyalty_card_id", string="Card")
    current_points = fields.Float(
        string="Current Balance", related="card_id.points", digits=(16, 0)
    )
    change = fields.Char(
        required=True,
        help="Points to add (+500) or to take away (-200).",
    )
    new_points = fields.Float(
        string="Balance After", compute="_compute_new_points", digits=(16, 0)
    )
    reason = fields.Char(
        required=True, help="Why the balance changes: it stays in the history."
    )

    @api.depends("change", "current_points")
    def _compute_new_points(self):
        for wizard in self:
            change = parse_change(wizard.change)
            wizard.new_points = wizard.current_points + (change or 0.0)

    def action_confirm(self):
        self.ensure_one()
        change = parse_change(self.change)
        if change is None:
            raise UserError(
                _(
                    "Type the change with its sign: +500 adds points, -200 takes "
                    "them away."
                )
            )
        if not change:
            raise UserError(_("A change of 0 points changes nothing."))
        if abs(change) > MAX_CHANGE:
            limit = f"{MAX_CHANGE:,}".replace(",", "\u00a0")
            raise UserError(
                _(
                    "A correction of more than %(max)s points is not accepted.",
                    max=limit,
                )
            )
        if not (self.reason or "").strip():
            raise UserError(_("Say why the balance is adjusted."))
        self.partner_id._loyalty_adjust(change, self.reason.strip())
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": "success",
                "message": _(
                    "Balance of %(member)s adjusted: %(change)s points.",
                    member=self.partner_id.display_name,
                    change=self.change.strip(),
                ),
                "next": {"type": "ir.actions.act_window_close"},
            },
        }

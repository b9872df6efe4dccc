from odoo import fields, models


class LoyaltyCardStateWizard(models.TransientModel):
    """Block or unblock a member card, saying why (kept on the card and in its
    chatter)."""

    _name = "loyalty.card.state.wizard"
    _description = "Block or Unblock a Member Card"

    card_id = fields.Many2one("loyalty.card", required=True, readonly=True)
    partner_id = fields.Many2one(related="card_id.partner_id", string="Member")
    action = fields.Selection(
        [("block", "Block"), ("unblock", "Unblock")], required=True, readonly=True
    )
    reason = fields.Char(
        required=True,
        help="Why the card is blocked or unblocked (kept in its history).",
    )

    def action_apply(self):
        self.ensure_one()
        if self.action == "block":
            self.card_id.action_loyalty_block(reason=self.reason)
        else:
            self.card_id.action_loyalty_unblock(reason=self.reason)
        return True

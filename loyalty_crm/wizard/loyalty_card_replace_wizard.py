from odoo import fields, models


class LoyaltyCardReplaceWizard(models.TransientModel):
    _name = "loyalty.card.replace.wizard"
    _description = "Replace a Member Card"

    card_id = fields.Many2one("loyalty.card", required=True, readonly=True)
    partner_id = fields.Many2one(related="card_id.partner_id", string="Member")
    points = fields.Float(related="card_id.points", string="Balance to Move")
    cause = fields.Selection(
        [("lost", "Lost or stolen"), ("replaced", "Damaged or exchanged")],
        string="What Happened",
        required=True,
        default="lost",
    )
    reason = fields.Char(
        required=True,
        help="Why the card is replaced, in a few words (kept in the history).",
    )
    new_code = fields.Char(
        string="New Card Number",
        help="Scan the new physical card (Loyalty Managers); leave empty to generate "
        "a number.",
    )

    def action_replace(self):
        self.ensure_one()
        new = self.card_id._loyalty_replace(
            self.reason, new_code=self.new_code, lost=self.cause == "lost"
        )
        return new.partner_id.action_loyalty_open_card() if new.partner_id else True

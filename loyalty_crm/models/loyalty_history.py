from odoo import _, api, models
from odoo.exceptions import AccessError


class LoyaltyHistory(models.Model):
    _inherit = "loyalty.history"

    def _loyalty_check_bonus_history(self, cards):
        """Bonus cards keep their history in the ledger, written by the program only."""
        if self.env.su or not any(cards.mapped("is_bonus_card")):
            return
        raise AccessError(
            _(
                "The history of a bonus card is its ledger: it cannot be written "
                "directly. A Loyalty Manager can post an adjustment with a reason."
            )
        )

    @api.model_create_multi
    def create(self, vals_list):
        card_ids = [vals.get("card_id") for vals in vals_list if vals.get("card_id")]
        self._loyalty_check_bonus_history(
            self.env["loyalty.card"].sudo().browse(card_ids)
        )
        return super().create(vals_list)

    def write(self, vals):
        self._loyalty_check_bonus_history(self.sudo().card_id)
        return super().write(vals)

    @api.ondelete(at_uninstall=False)
    def _unlink_except_bonus_card(self):
        self._loyalty_check_bonus_history(self.sudo().card_id)

from odoo import _, models
from odoo.exceptions import AccessError, ValidationError


class LoyaltyCardUpdateBalance(models.TransientModel):
    _inherit = "loyalty.card.update.balance"

    def action_update_card_point(self):
        """On a bonus card, Odoo's Update Balance posts a manager's adjustment."""
        if not self.card_id.is_bonus_card:
            return super().action_update_card_point()
        if not self.env.user.has_group("loyalty_crm.group_loyalty_manager"):
            raise AccessError(_("Only a Loyalty Manager can adjust a bonus balance."))
        Ledger = self.env["loyalty.ledger"]
        Ledger._lock_cards(self.card_id)
        delta = round(self.new_balance - self.card_id.points, 2)
        if self.new_balance < 0 or not delta:
            raise ValidationError(
                _("The new balance must be positive and differ from the current one.")
            )
        Ledger._post(
            self.card_id,
            delta,
            "adjustment",
            reason=self.description,
            allow_inactive=True,
        )
        return True

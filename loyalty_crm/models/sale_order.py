from odoo import _, models
from odoo.exceptions import UserError


class SaleOrder(models.Model):
    _inherit = "sale.order"

    def action_confirm(self):
        res = super().action_confirm()
        self._loyalty_issue_and_activate_cards()
        return res

    def _loyalty_issue_and_activate_cards(self):
        """Card issue conditions and activation at first purchase, on confirmation."""
        Program = self.env["loyalty.program"]
        for order in self.filtered(lambda o: o.partner_id):
            member = order.partner_id.commercial_partner_id
            program = Program._get_bonus_program(order.company_id)
            card = member.loyalty_card_id
            if card and card.program_id == program:
                card._loyalty_activate()
                continue
            if program.card_issue_mode == "purchase":
                eligible = (
                    program.card_issue_min_amount
                    and order.currency_id.compare_amounts(
                        order.amount_total, program.card_issue_min_amount
                    )
                    >= 0
                )
            elif program.card_issue_mode == "product":
                eligible = program.card_product_id in order.order_line.product_id
            else:
                eligible = False
            if not eligible:
                continue
            try:
                with self.env.cr.savepoint():
                    member._loyalty_enrol(program=program)._loyalty_activate()
            except UserError as error:
                # The sale goes on; the staff sees why no card was issued.
                order.message_post(
                    body=_("No member card issued: %(reason)s", reason=error.args[0])
                )

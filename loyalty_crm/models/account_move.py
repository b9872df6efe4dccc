from odoo import _, models
from odoo.tools import float_round


class AccountMove(models.Model):
    _inherit = "account.move"

    def _loyalty_orders_and_amounts(self):
        """``{sale.order: invoiced amount}`` for the lines of this move."""
        self.ensure_one()
        amounts = {}
        for line in self.invoice_line_ids:
            for order in line.sale_line_ids.order_id:
                amounts[order] = amounts.get(order, 0.0) + line.price_total
        return amounts

    def _post(self, soft=True):
        posted = super()._post(soft=soft)
        for refund in posted.filtered(lambda m: m.move_type == "out_refund"):
            for order, amount in refund._loyalty_orders_and_amounts().items():
                if not order.amount_total:
                    continue
                share = min(float_round(abs(amount) / order.amount_total, 6), 1.0)
                order._loyalty_reverse(
                    share, refund, _("Return %(refund)s", refund=refund.name)
                )
        return posted

    def _invoice_paid_hook(self):
        res = super()._invoice_paid_hook()
        orders = self.filtered(
            lambda m: m.move_type == "out_invoice"
        ).line_ids.sale_line_ids.order_id
        orders.filtered(
            lambda o: o.state == "sale"
            and o._loyalty_program().accrual_trigger == "paid"
        )._loyalty_accrue()
        return res

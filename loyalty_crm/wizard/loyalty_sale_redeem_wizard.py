from odoo import api, fields, models


class LoyaltySaleRedeemWizard(models.TransientModel):
    _name = "loyalty.sale.redeem.wizard"
    _description = "Spend Bonus Points on a Quotation"

    order_id = fields.Many2one("sale.order", required=True, readonly=True)
    partner_id = fields.Many2one(related="order_id.partner_id")
    balance = fields.Float(compute="_compute_limits", digits=(16, 2))
    max_points = fields.Float(
        string="At Most", compute="_compute_limits", digits=(16, 2)
    )
    points = fields.Float(digits=(16, 2))
    gift_reward_id = fields.Many2one(
        "loyalty.reward",
        string="Gift",
        domain="[('program_id.is_bonus_program', '=', True), "
        "('reward_type', 'in', ('product', 'shipping'))]",
        help="A gift of the bonus program's catalogue, instead of a discount.",
    )

    @api.depends("order_id")
    def _compute_limits(self):
        for wizard in self:
            wizard.balance = wizard.order_id._loyalty_card().points
            wizard.max_points = wizard.order_id._loyalty_max_points()

    @api.model
    def default_get(self, fields_list):
        res = super().default_get(fields_list)
        order = self.env["sale.order"].browse(res.get("order_id"))
        if order and "points" in fields_list:
            res["points"] = order._loyalty_max_points()
        return res

    def action_apply(self):
        self.ensure_one()
        if self.gift_reward_id:
            self.order_id._loyalty_apply_gift(self.gift_reward_id)
        else:
            self.order_id._loyalty_apply_points(self.points)
        return True

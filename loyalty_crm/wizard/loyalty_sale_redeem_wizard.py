import math

from odoo import _, api, fields, models
from odoo.exceptions import UserError


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

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            self._loyalty_check_numbers(vals)
        return super().create(vals_list)

    def write(self, vals):
        self._loyalty_check_numbers(vals)
        return super().write(vals)

    def _loyalty_check_numbers(self, vals):
        """A number of points, not NaN, infinity or text: refused before Odoo's
        rounding of the field fails on it (a server error)."""
        for name, value in vals.items():
            if self._fields.get(name) is None or self._fields[name].type != "float":
                continue
            try:
                if not math.isfinite(float(value or 0.0)):
                    raise ValueError(value)
            except (TypeError, ValueError):
                raise UserError(_("Enter a number of points.")) from None

    def action_apply(self):
        self.ensure_one()
        if self.gift_reward_id:
            self.order_id._loyalty_apply_gift(self.gift_reward_id)
        else:
            self.order_id._loyalty_apply_points(self.points)
        return True

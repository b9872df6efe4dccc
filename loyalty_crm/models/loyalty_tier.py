from odoo import fields, models


class LoyaltyTier(models.Model):
    _name = "loyalty.tier"
    _inherit = ["loyalty.earning.cache.mixin"]
    _description = "Bonus Program Tier"
    _order = "program_id, min_spend, id"

    program_id = fields.Many2one(
        "loyalty.program",
        required=True,
        ondelete="cascade",
        index=True,
        domain=[("is_bonus_program", "=", True)],
    )
    company_id = fields.Many2one(related="program_id.company_id", store=True)
    currency_id = fields.Many2one(related="program_id.currency_id")
    name = fields.Char(required=True, translate=True)
    min_spend = fields.Monetary(
        string="Spend to Reach",
        currency_field="currency_id",
        help="What a member must spend over the program's tier window to reach "
        "this tier.",
    )
    multiplier = fields.Float(
        string="Earn Multiplier",
        default=1.0,
        digits=(16, 2),
        help="Points earned by members of this tier are multiplied by this factor.",
    )
    benefits = fields.Text(translate=True)
    member_count = fields.Integer(compute="_compute_member_count")

    _sql_constraints = [
        (
            "min_spend_positive",
            "CHECK (min_spend >= 0)",
            "The spend to reach a tier cannot be negative.",
        ),
        (
            "multiplier_positive",
            "CHECK (multiplier > 0)",
            "A tier's multiplier must be positive.",
        ),
        (
            "unique_threshold",
            "UNIQUE (program_id, min_spend)",
            "Two tiers can't start at the same spend.",
        ),
    ]

    def _compute_member_count(self):
        groups = self.env["res.partner"]._read_group(
            [("loyalty_tier_id", "in", self.ids)], ["loyalty_tier_id"], ["__count"]
        )
        counts = {tier.id: count for tier, count in groups}
        for tier in self:
            tier.member_count = counts.get(tier.id, 0)


class LoyaltyTierHistory(models.Model):
    _name = "loyalty.tier.history"
    _description = "Member Tier Change"
    _order = "date desc, id desc"

    partner_id = fields.Many2one(
        "res.partner", string="Member", required=True, index=True, ondelete="cascade"
    )
    old_tier_id = fields.Many2one("loyalty.tier", string="From", ondelete="set null")
    new_tier_id = fields.Many2one("loyalty.tier", string="To", ondelete="set null")
    spend = fields.Float(
        string="Purchases",
        digits=(16, 2),
        help="Spend over the tier window at the change.",
    )
    direction = fields.Selection(
        [("up", "Upgrade"), ("down", "Downgrade")], required=True
    )
    date = fields.Datetime(default=fields.Datetime.now, required=True)

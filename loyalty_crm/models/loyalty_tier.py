from odoo import _, api, fields, models
from odoo.tools import SQL


class LoyaltyTier(models.Model):
    _name = "loyalty.tier"
    _description = "Bonus Program Tier"
    _order = "program_id, min_spend, id"

    program_id = fields.Many2one(
        "loyalty.program", required=True, ondelete="cascade", index=True,
        domain=[("is_bonus_program", "=", True)],
    )
    company_id = fields.Many2one(related="program_id.company_id", store=True)
    currency_id = fields.Many2one(related="program_id.currency_id")
    name = fields.Char(required=True, translate=True)
    min_spend = fields.Monetary(
        string="Spend to Reach",
        currency_field="currency_id",
        help="What a member must spend over the program's tier window to reach this tier.",
    )
    multiplier = fields.Float(
        string="Earn Multiplier", default=1.0, digits=(16, 2),
        help="Points earned by members of this tier are multiplied by this factor.",
    )
    benefits = fields.Text(translate=True)
    member_count = fields.Integer(compute="_compute_member_count")

    _sql_constraints = [
        ("min_spend_positive", "CHECK (min_spend >= 0)", "The spend to reach a tier cannot be negative."),
        ("multiplier_positive", "CHECK (multiplier > 0)", "A tier's multiplier must be positive."),
        ("unique_threshold", "UNIQUE (program_id, min_spend)", "Two tiers can't start at the same spend."),
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

    partner_id = fields.Many2one("res.partner", required=True, index=True, ondelete="cascade")
    old_tier_id = fields.Many2one("loyalty.tier", string="From", ondelete="set null")
    new_tier_id = fields.Many2one("loyalty.tier", string="To", ondelete="set null")
    spend = fields.Float(digits=(16, 2), help="Spend over the tier window at the change.")
    direction = fields.Selection([("up", "Upgrade"), ("down", "Downgrade")], required=True)
    date = fields.Datetime(default=fields.Datetime.now, required=True)


class ResPartner(models.Model):
    _inherit = "res.partner"

    loyalty_tier_id = fields.Many2one(
        "loyalty.tier", string="Tier", readonly=True, tracking=True, index="btree_not_null"
    )
    loyalty_tier_history_ids = fields.One2many(
        "loyalty.tier.history", "partner_id", string="Tier History"
    )

    @api.model
    def _loyalty_tier_spend(self, partners=None):
        """``{partner_id: spend}`` over each program's tier window, from the ledger.

        Spend is the purchase amount recorded on accruals, net of returns.
        """
        self.env.flush_all()
        partner_filter = SQL("AND l.partner_id IN %s", tuple(partners.ids)) if partners else SQL()
        rows = self.env.execute_query(
            SQL(
                """
                SELECT l.partner_id, SUM(l.amount)
                  FROM loyalty_ledger l
                  JOIN loyalty_program p ON p.id = l.program_id
                 WHERE l.entry_type IN ('accrual', 'reversal') AND l.state <> 'cancelled'
                   AND l.amount <> 0 AND l.partner_id IS NOT NULL
                   AND l.date >= %s::timestamp - make_interval(months => p.tier_window_months)
                   %s
              GROUP BY l.partner_id
                """,
                fields.Datetime.now(),
                partner_filter,
            )
        )
        return {partner_id: float(spend or 0) for partner_id, spend in rows}

    def _loyalty_update_tiers(self, allow_downgrade=True, spend=None):
        """Put members in the tier their spend reaches; record each change."""
        spend = self._loyalty_tier_spend(self) if spend is None else spend
        History = self.env["loyalty.tier.history"].sudo()
        changes = []
        for partner in self.filtered("loyalty_card_id"):
            tiers = partner.loyalty_card_id.program_id.tier_ids.sorted("min_spend")
            amount = spend.get(partner.id, 0.0)
            target = tiers.filtered(lambda t: t.min_spend <= amount)[-1:]
            current = partner.loyalty_tier_id
            if target == current:
                continue
            up = target.min_spend > current.min_spend if target and current else bool(target)
            if not up and not allow_downgrade:
                continue
            partner.sudo().loyalty_tier_id = target
            changes.append({
                "partner_id": partner.id, "old_tier_id": current.id, "new_tier_id": target.id,
                "spend": amount, "direction": "up" if up else "down",
            })
        return History.create(changes)

    @api.model
    def _cron_recompute_tiers(self):
        """Nightly: upgrades and downgrades over the rolling window."""
        members = self.search([("loyalty_is_member", "=", True), ("loyalty_card_id.program_id.tier_ids", "!=", False)])
        return members._loyalty_update_tiers(spend=self._loyalty_tier_spend())

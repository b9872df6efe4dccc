from odoo import api, models


class LoyaltyBonusConfigGuard(models.AbstractModel):
    """Only Loyalty Managers configure a bonus program's rules and rewards (see
    loyalty.program._loyalty_check_config_access): one guard for both."""

    _name = "loyalty.bonus.config.guard"
    _description = "Bonus Program Configuration Guard"

    def _loyalty_check_bonus_access(self, vals=None):
        Program = self.env["loyalty.program"]
        Program._loyalty_check_config_access(
            any(self.sudo().program_id.mapped("is_bonus_program"))
            or Program._loyalty_is_bonus_vals(vals or {})
        )

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            self._loyalty_check_bonus_access(vals)
        return super().create(vals_list)

    def write(self, vals):
        self._loyalty_check_bonus_access(vals)
        return super().write(vals)

    @api.ondelete(at_uninstall=False)
    def _unlink_except_bonus_config_by_others(self):
        self._loyalty_check_bonus_access()


class LoyaltyEarningCacheMixin(models.AbstractModel):
    """What ``loyalty.program._loyalty_earning_settings`` caches (programs,
    their rules and tiers): any change clears that cache, on every server
    (Odoo's cache signaling)."""

    _name = "loyalty.earning.cache.mixin"
    _description = "Cached Earning Settings"

    # after the change succeeded, and only when there was one: every server's
    # whole cache is cleared, not to be set off by a refused or empty RPC call
    @api.model_create_multi
    def create(self, vals_list):
        records = super().create(vals_list)
        if records:
            self.env.registry.clear_cache()
        return records

    def write(self, vals):
        res = super().write(vals)
        if self:
            self.env.registry.clear_cache()
        return res

    def unlink(self):
        res = super().unlink()
        if self:
            self.env.registry.clear_cache()
        return res


class LoyaltyRule(models.Model):
    _name = "loyalty.rule"
    _inherit = [
        "loyalty.rule",
        "loyalty.bonus.config.guard",
        "loyalty.earning.cache.mixin",
    ]


class LoyaltyReward(models.Model):
    _name = "loyalty.reward"
    _inherit = ["loyalty.reward", "loyalty.bonus.config.guard"]

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


class LoyaltyRule(models.Model):
    _name = "loyalty.rule"
    _inherit = ["loyalty.rule", "loyalty.bonus.config.guard"]

    # the programs' earning rules are cached (loyalty.program._loyalty_earning_settings)
    @api.model_create_multi
    def create(self, vals_list):
        records = super().create(vals_list)
        self.env["loyalty.program"]._loyalty_clear_earning_cache()
        return records

    def write(self, vals):
        res = super().write(vals)
        self.env["loyalty.program"]._loyalty_clear_earning_cache()
        return res

    def unlink(self):
        res = super().unlink()
        self.env["loyalty.program"]._loyalty_clear_earning_cache()
        return res


class LoyaltyReward(models.Model):
    _name = "loyalty.reward"
    _inherit = ["loyalty.reward", "loyalty.bonus.config.guard"]

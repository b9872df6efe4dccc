"""What clears the API keys kept per process (``loyalty.api._api_key_rows``):
any change of what an API request is authenticated with. Odoo signals the
cleared cache to every server, which drops it before its next request."""

from odoo import api, models

# what the API reads about a key's user
USER_FIELDS = {"active", "company_id", "partner_id"}
PARTNER_FIELDS = {"lang", "tz"}


def _clear_api_keys(env):
    env.registry.clear_cache()


class ResUsersApikeys(models.Model):
    _inherit = "res.users.apikeys"

    def _generate(self, scope, name, expiration_date):
        key = super()._generate(scope, name, expiration_date)
        _clear_api_keys(self.env)
        return key

    def unlink(self):
        _clear_api_keys(self.env)
        return super().unlink()


class ResUsers(models.Model):
    _inherit = "res.users"

    def write(self, vals):
        if USER_FIELDS & set(vals):
            _clear_api_keys(self.env)
        return super().write(vals)

    def unlink(self):
        _clear_api_keys(self.env)
        return super().unlink()


class ResPartner(models.Model):
    _inherit = "res.partner"  # pylint: disable=consider-merging-classes-inherited

    def write(self, vals):
        if PARTNER_FIELDS & set(vals) and self.sudo().user_ids:
            _clear_api_keys(self.env)
        return super().write(vals)


class ResCompany(models.Model):
    _inherit = "res.company"  # pylint: disable=consider-merging-classes-inherited

    def write(self, vals):
        if "loyalty_bonus_program_id" in vals:
            _clear_api_keys(self.env)
        return super().write(vals)


class LoyaltyCoalitionPartner(models.Model):
    _inherit = "loyalty.coalition.partner"  # pylint: disable=consider-merging-classes-inherited

    @api.model_create_multi
    def create(self, vals_list):
        _clear_api_keys(self.env)
        return super().create(vals_list)

    def write(self, vals):
        _clear_api_keys(self.env)
        return super().write(vals)

    def unlink(self):
        _clear_api_keys(self.env)
        return super().unlink()

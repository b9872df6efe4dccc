"""What clears the API keys kept per process (``loyalty.api._api_key_rows``):
any change of what an API request is authenticated with. Odoo signals the
cleared cache to every server, which drops it before its next request.

Odoo already clears its caches when a user is archived, moved to another
company or language, or deleted (``res.users._get_invalidation_fields``,
``_unlink_except_master_data``); what it does not cover is added here, and only
where an API key is concerned: clearing is every server's whole cache, not to be
set off by any member who changes their language, nor by a call that is refused
or changes nothing (an empty list of ids over RPC): each clears after its write
succeeded, and only when it wrote something."""

from odoo import api, models

# what the API reads about a key's user's partner
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
        res = super().unlink()
        if self:  # cleared once removed: a refused or empty call clears nothing
            _clear_api_keys(self.env)
        return res


class ResUsers(models.Model):
    _inherit = "res.users"

    def _get_invalidation_fields(self):
        # the API reads the language and time zone of the user's partner
        return super()._get_invalidation_fields() | {"partner_id"}


class ResPartner(models.Model):
    _inherit = "res.partner"  # pylint: disable=consider-merging-classes-inherited

    def write(self, vals):
        res = super().write(vals)
        if PARTNER_FIELDS & set(vals) and self.env["res.users.apikeys"].sudo().search(
            [("user_id.partner_id", "in", self.ids)], limit=1
        ):
            _clear_api_keys(self.env)
        return res


class ResCompany(models.Model):
    _inherit = "res.company"  # pylint: disable=consider-merging-classes-inherited

    def write(self, vals):
        res = super().write(vals)
        if self and "loyalty_bonus_program_id" in vals:
            _clear_api_keys(self.env)
        return res


class LoyaltyCoalitionPartner(models.Model):
    _inherit = "loyalty.coalition.partner"  # pylint: disable=consider-merging-classes-inherited

    @api.model_create_multi
    def create(self, vals_list):
        records = super().create(vals_list)
        if records:
            _clear_api_keys(self.env)
        return records

    def write(self, vals):
        res = super().write(vals)
        if self:
            _clear_api_keys(self.env)
        return res

    def unlink(self):
        res = super().unlink()
        if self:
            _clear_api_keys(self.env)
        return res
